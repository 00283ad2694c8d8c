#!/usr/bin/env bash
# The Node base image for the npm mount cache e2e (issue 18): the stack's debian:bookworm
# image with Debian's own nodejs and npm (npm 9, as bookworm ships it), installed from the
# Debian archive in a BuildKit build, pushed as node:18-bookworm to the local registry.
# The build is skipped while the registry has the tag and the recipe stamp is there.
# Needs the registry, buildkit and base-image components (up.sh runs them first).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Bump when the recipe below changes.
recipe=node18-bookworm-v1
registry=127.0.0.1:5000
tag=node:18-bookworm
base="$WARMBUILD_STACK/base"
stamp="$base/$recipe.pushed"

has_tag() {
  curl -fsS -o /dev/null --max-time 5 -I \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' \
    "http://$registry/v2/library/${tag%%:*}/manifests/${tag#*:}" 2>/dev/null
}

build_and_push() {
  local tmp pid
  tmp=$(mktemp -d "$WARMBUILD_STACK/tmp-node.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "bash '$stack_repo/scripts/stack/buildkitd-stop.sh' '$tmp/bk' >/dev/null 2>&1 || true; rm -rf '$tmp'" RETURN
  mkdir -p "$tmp/ctx"
  cat >"$tmp/ctx/Dockerfile" <<DOCKERFILE
FROM $registry/library/debian:bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /root/.npm \\
 && node --version && npm --version
CMD ["node"]
DOCKERFILE
  pid=$(bash "$stack_repo/scripts/stack/buildkitd-run.sh" "$tmp/bk" "$tmp/bk.sock")
  if ! "$(buildkit_bin_dir)/buildctl" --addr "unix://$tmp/bk.sock" build --progress plain \
    --frontend dockerfile.v0 --local context="$tmp/ctx" --local dockerfile="$tmp/ctx" \
    --output "type=image,name=$registry/library/$tag,push=true,registry.insecure=true" \
    >"$base/node-build.log" 2>&1; then
    log_tail "$base/node-build.log"
    die "building/pushing the node image failed (log: $base/node-build.log, buildkitd pid $pid)"
  fi
  touch "$stamp"
}

mkdir -p "$base"
http_ok "http://$registry/v2/" || die "registry at $registry is not up (run scripts/stack/registry.sh)"
did=""
if [ ! -f "$stamp" ] || ! has_tag; then
  build_and_push
  did="pushed, "
fi
echo "node image: ${did}$registry/library/$tag"
