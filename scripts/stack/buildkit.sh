#!/usr/bin/env bash
# BuildKit for the stack: builds buildkitd/buildctl of the go.mod version (once) and writes
# $WARMBUILD_STACK/buildkitd.toml, the config every test daemon starts with.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

bash "$stack_repo/scripts/build-buildkitd.sh" >/dev/null || die "building buildkitd failed"

# The local registry stands in for Docker Hub: as a mirror of docker.io, `FROM python:3.11-slim`
# resolves to 127.0.0.1:5000/library/python:3.11-slim. BuildKit applies the mirror host's own
# entry (plain HTTP) when it talks to the mirror (util/resolver/resolver.go, fillInsecureOpts).
config="$WARMBUILD_STACK/buildkitd.toml"
want=$(cat <<'TOML'
# Written by scripts/stack/buildkit.sh: the local registry mirrors docker.io.
[registry."docker.io"]
  mirrors = ["127.0.0.1:5000"]

[registry."127.0.0.1:5000"]
  http = true

# registry-auth.sh: the registry that requires a login.
[registry."127.0.0.1:5001"]
  http = true
TOML
)
if [ ! -f "$config" ] || [ "$(cat "$config")" != "$want" ]; then
  printf '%s\n' "$want" >"$config"
fi
echo "buildkit: $(buildkit_bin_dir), config $config"
