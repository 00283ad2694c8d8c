#!/usr/bin/env bash
# The Node base image for the npm, pnpm and yarn mount cache e2e (issue 18): the stack's
# debian:bookworm image with Debian's own nodejs and npm (npm 9, as bookworm ships it),
# installed from the Debian archive in a BuildKit build, plus pnpm and yarn 1 from their
# npm packages (both self-contained, no dependencies), pushed as node:18-bookworm to the
# local registry. Builds have no network: the two packages are fetched on the host with
# `npm pack` (apt.sh makes sure the host has npm), checked against the integrity pinned
# here, and installed from the build context with `npm install -g --offline`.
# The build is skipped while the registry has the tag and the recipe stamp is there.
# Needs the registry, buildkit and base-image components (up.sh runs them first).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# pnpm 10 runs on bookworm's node 18 (engines: node >=18.12); pnpm 11 wants node >=22.13.
pnpm_version=10.34.9
pnpm_integrity=sha512-9JtajqD97bRLs8DB1ldQkqU8KVDZW3rRXfEfF5dId6LeOgHAfpNOmyjOcW5RwJqUlixzBtCb4uHksYqMh2L9Mg==
yarn_version=1.22.22
yarn_integrity=sha512-prL3kGtyG7o9Z9Sv8IPfBNrWTDmXB4Qbes8A9rEzt6wkJV8mUvoirjU0Mp3GGAU06Y0XQyA3/2/RQFVuK7MTfg==
# Bump when the recipe below changes (the versions are part of it).
recipe=node18-bookworm-v2-pnpm$pnpm_version-yarn$yarn_version
registry=127.0.0.1:5000
tag=node:18-bookworm
base="$WARMBUILD_STACK/base"
stamp="$base/$recipe.pushed"

# pack NAME VERSION INTEGRITY DIR: the package's tarball from the npm registry as
# DIR/NAME.tgz, refused unless its sha512 is the one pinned.
pack() {
  local name=$1 version=$2 want=$3 dir=$4 got
  (cd "$dir" && npm pack --silent --no-fund "$name@$version" >/dev/null 2>"$dir/$name-pack.log") || {
    log_tail "$dir/$name-pack.log"
    die "npm pack $name@$version failed"
  }
  mv "$dir/$name-$version.tgz" "$dir/$name.tgz"
  got=$(node -e 'const c = require("crypto"), fs = require("fs");
    process.stdout.write("sha512-" + c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$dir/$name.tgz")
  [ "$got" = "$want" ] || die "$name@$version from the npm registry has integrity $got, want $want"
}

build_and_push() {
  local tmp
  tmp=$(mktemp -d "$WARMBUILD_STACK/tmp-node.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  pack pnpm "$pnpm_version" "$pnpm_integrity" "$tmp"
  pack yarn "$yarn_version" "$yarn_integrity" "$tmp"
  cat >"$tmp/Dockerfile" <<DOCKERFILE
FROM $registry/library/debian:bookworm
COPY pnpm.tgz yarn.tgz /tmp/js/
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm \\
 && npm install -g --offline --no-audit --no-fund /tmp/js/pnpm.tgz /tmp/js/yarn.tgz \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb /root/.npm /tmp/js \\
 && node --version && npm --version && pnpm --version && yarn --version
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
