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

build_and_push() {
  local tmp
  tmp=$(mktemp -d "$WARMBUILD_STACK/tmp-node.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  cat >"$tmp/Dockerfile" <<DOCKERFILE
FROM $registry/library/debian:bookworm
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /root/.npm \\
 && node --version && npm --version
CMD ["node"]
DOCKERFILE
  build_push_image "$tmp" "$registry/library/$tag" "$base/node-build.log" "the node image"
  touch "$stamp"
}

mkdir -p "$base"
http_ok "http://$registry/v2/" || die "registry at $registry is not up (run scripts/stack/registry.sh)"
did=""
if [ ! -f "$stamp" ] || ! registry_has_tag "$registry" "library/$tag"; then
  build_and_push
  did="pushed, "
fi
echo "node image: ${did}$registry/library/$tag"
