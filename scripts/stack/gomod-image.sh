#!/usr/bin/env bash
# The Go image of the Go module cache e2e (issue 18): the stack's debian:bookworm with only
# the host's go command (bin/go, VERSION, go.env: enough for go mod download, which
# compiles nothing; 15 MB where the full toolchain is 270 MB on every fresh builder),
# pushed as golang-modonly:<go version> to the local registry. Skipped while it is there.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

registry=127.0.0.1:5000
goroot=${GOROOT_FOR_IMAGE:-/usr/local/go}
[ -x "$goroot/bin/go" ] || die "no Go toolchain at $goroot"
tag=golang-modonly:1.26
base="$WARMBUILD_STACK/base"
recipe=v2 # bump when the Dockerfile below changes
stamp="$base/gomod-$recipe-$(sha256sum "$goroot/bin/go" | cut -c1-16).pushed"

build_and_push() {
  local tmp
  tmp=$(mktemp -d "$WARMBUILD_STACK/tmp-gomod.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  mkdir -p "$tmp/ctx/go/bin"
  cp "$goroot/bin/go" "$tmp/ctx/go/bin/go"
  cp "$goroot/VERSION" "$goroot/go.env" "$tmp/ctx/go/"
  cat >"$tmp/ctx/Dockerfile" <<DOCKERFILE
FROM $registry/library/debian:bookworm
COPY go /usr/local/go
# The go command is a trimmed binary: it cannot find GOROOT from its own path.
ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOROOT=/usr/local/go GOPATH=/go GOTOOLCHAIN=local
WORKDIR /go
DOCKERFILE
  build_push_image "$tmp/ctx" "$registry/library/$tag" "$base/gomod-build.log" "the Go image"
  rm -f "$base"/gomod-*.pushed
  touch "$stamp"
}

mkdir -p "$base"
http_ok "http://$registry/v2/" || die "registry at $registry is not up (run scripts/stack/registry.sh)"
did=""
if [ ! -f "$stamp" ] || ! registry_has_tag "$registry" "library/$tag"; then
  build_and_push
  did="pushed, "
fi
echo "go image: ${did}$registry/library/$tag"
