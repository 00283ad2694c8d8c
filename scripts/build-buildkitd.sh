#!/usr/bin/env bash
# Builds buildkitd and buildctl from the exact BuildKit module version that go.mod uses,
# so the daemon the tests talk to speaks the same protocol as our client.
# `go install` refuses github.com/moby/buildkit (its go.mod has exclude directives), so we
# build from a writable copy of the module source. Idempotent: skips when the binaries for
# this version already exist.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
stack=${WARMBUILD_STACK:-/var/tmp/warmbuild-stack}
version=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/moby/buildkit)
bin="$stack/bin/buildkit-$version"
if [ -x "$bin/buildkitd" ] && [ -x "$bin/buildctl" ]; then
  echo "buildkitd $version: already built in $bin"
  exit 0
fi
mkdir -p "$bin" "$stack/src"
dir=$(cd "$repo" && go mod download -json "github.com/moby/buildkit@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
src="$stack/src/buildkit-$version"
rm -rf "$src"
cp -r "$dir" "$src"
chmod -R u+w "$src"
echo "building buildkitd $version (first time takes a couple of minutes)"
(cd "$src" && CGO_ENABLED=0 go build -trimpath -o "$bin/" ./cmd/buildkitd ./cmd/buildctl)
rm -rf "$src"
echo "buildkitd $version: built in $bin"
