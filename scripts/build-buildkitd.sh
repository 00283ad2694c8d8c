#!/usr/bin/env bash
# Builds buildkitd and buildctl from the exact BuildKit module version that go.mod uses,
# so the daemon the tests talk to speaks the same protocol as our client.
# `go install` refuses github.com/moby/buildkit (its go.mod has exclude directives), so we
# build from a writable copy of the module source. Idempotent: skips when the binaries for
# this version already exist; a lock makes a second concurrent run wait for the first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
stack=${WARMBUILD_STACK:-/var/tmp/warmbuild-stack}
version=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/moby/buildkit)
bin="$stack/bin/buildkit-$version"
# Binaries are stamped with their version (as upstream's release builds are), which also tells
# an old unstamped build apart from a finished one.
built() {
  [ -x "$bin/buildctl" ] && [ -x "$bin/buildkitd" ] &&
    "$bin/buildkitd" --version 2>/dev/null | grep -qF " $version"
}
if built; then
  echo "buildkitd $version: already built in $bin"
  exit 0
fi
mkdir -p "$stack/bin" "$stack/src"
exec 9>"$stack/bin/.buildkit-$version.lock"
if ! flock -n 9; then
  echo "buildkitd $version: another build is running, waiting for it (up to 15 min)" >&2
  flock -w 900 9 || { echo "error: timed out waiting for the other buildkitd build" >&2; exit 1; }
  if built; then
    echo "buildkitd $version: built by the other run in $bin"
    exit 0
  fi
fi
dir=$(cd "$repo" && go mod download -json "github.com/moby/buildkit@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] || { echo "error: go mod download github.com/moby/buildkit@$version gave no source dir" >&2; exit 1; }
src="$stack/src/buildkit-$version"
out="$stack/src/buildkit-$version.out"
rm -rf "$src" "$out"
cp -r "$dir" "$src"
chmod -R u+w "$src"
echo "building buildkitd $version (first time takes a couple of minutes)" >&2
# Build into a scratch dir and move in at the end, so an interrupted build never looks done.
if ! (cd "$src" && CGO_ENABLED=0 go build -trimpath \
  -ldflags "-X github.com/moby/buildkit/version.Version=$version -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit" \
  -o "$out/" ./cmd/buildkitd ./cmd/buildctl); then
  echo "error: go build of buildkitd $version failed" >&2
  exit 1
fi
mkdir -p "$bin"
mv "$out/buildkitd" "$out/buildctl" "$bin/"
rm -rf "$src" "$out"
echo "buildkitd $version: built in $bin"
