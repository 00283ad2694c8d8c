#!/usr/bin/env bash
# Brings up the local test stack on this machine (a fresh Debian one included) and writes
# $WARMBUILD_STACK/env, the file tests and demos source. Idempotent: a re-run reuses what is
# built and running and takes a few seconds. Stop it with scripts/stack/down.sh.
#
# Components (each prints one line; each script can also be run on its own):
#   apt.sh        Debian packages (runc, docker-registry, debootstrap, ...)
#   buildkit.sh   buildkitd+buildctl of the go.mod BuildKit version, buildkitd.toml
#   registry.sh   registry on 127.0.0.1:5000 (a mirror of docker.io for buildkitd)
#   registry-auth.sh  registry on 127.0.0.1:5001 that requires a login (htpasswd)
#   pyindex.sh    PyPI stand-ins on 127.0.0.1:3141 (app) and :3142 (heavy)
#   binfmt.sh     arm64 emulation (qemu-user-static, binfmt_misc) and static busybox per arch
#   base-image.sh python:3.11* / debian:bookworm* images in the registry, rootfs tarball
#   node-image.sh node:18-bookworm (Debian's nodejs and npm) in the registry, for the npm e2e
#   gomod-image.sh golang-modonly:1.26 (debian + the host's go command) for the Go module cache e2e
#   azurite.sh    Azure blob emulator on 127.0.0.1:10000
#   docker.sh     Docker Engine (own socket) with local moby/buildkit and golang stand-in images
#   peers.sh      (not run here: the bench's act ways only) Node 24 and the buildx CLI plugin
#   prune.sh      keeps the disk bounded: drops test pushes from the registry and old dangling
#                 images once they pass a size (tests leave both behind on every run)
# On a cold machine the buildkitd compile is CPU-bound while debootstrap and the Azurite npm
# install mostly wait on the network, so those two run beside it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

mkdir -p "$WARMBUILD_STACK" "$stack_run"
start=$SECONDS
timings=()
declare -A background=() # label -> pid
# Background jobs (each in its own process group) left running when a step fails end with it.
# shellcheck disable=SC2154 # p is the loop variable inside the trap
trap 'for p in "${background[@]}"; do kill -- "-$p" 2>/dev/null || true; done' EXIT

# component NAME [ARGS]: runs scripts/stack/NAME.sh in the foreground.
component() {
  local name=$1 t=$SECONDS
  shift
  bash "$here/$name.sh" "$@" ||
    die "stack component '$name' failed (scripts/stack/$name.sh); see the messages above"
  timings+=("$name $((SECONDS - t))s")
}

# in_background LABEL NAME [ARGS]: starts NAME.sh with its output in run/up-LABEL.log.
in_background() {
  local label=$1 name=$2
  shift 2
  # shellcheck disable=SC2016 # expanded by the inner bash
  setsid bash -c 't=$SECONDS; bash "$0" "$@" && echo "$((SECONDS - t))s"' "$here/$name.sh" "$@" \
    </dev/null >"$stack_run/up-$label.log" 2>&1 &
  background[$label]=$!
}

# collect LABEL: waits for a background component and prints its output.
collect() {
  local label=$1 log="$stack_run/up-$1.log"
  if ! wait "${background[$label]}"; then
    cat "$log" >&2
    die "stack component '$label' failed; see the messages above"
  fi
  unset "background[$label]"
  sed '$d' "$log"
  timings+=("$label $(tail -n1 "$log") in parallel")
}

component apt
in_background base-rootfs base-image --rootfs-only
in_background azurite azurite
component buildkit
component registry
component registry-auth
component pyindex
component binfmt # multiplat (issue 18): arm64 emulation, or a line saying why not
collect base-rootfs
component base-image
component node-image
component gomod-image
collect azurite
component docker
component prune

env_file="$WARMBUILD_STACK/env"
rootfs_tar=$(ls "$WARMBUILD_STACK"/base/python*.tar 2>/dev/null | head -n1 || true)
[ -n "$rootfs_tar" ] || die "no rootfs tarball in $WARMBUILD_STACK/base"
{
  echo "# Written by scripts/stack/up.sh; source it to reach the local test stack."
  printf 'export %s=%q\n' \
    WARMBUILD_STACK "$WARMBUILD_STACK" \
    WARMBUILD_STACK_SCRIPTS "$here" \
    BUILDKIT_BIN_DIR "$(buildkit_bin_dir)" \
    BUILDKITD_CONFIG "$WARMBUILD_STACK/buildkitd.toml" \
    REGISTRY 127.0.0.1:5000 \
    PYPI_URL http://127.0.0.1:3141/simple \
    PYPI_HEAVY_URL http://127.0.0.1:3142/simple \
    AZURITE_BLOB_URL http://127.0.0.1:10000/devstoreaccount1 \
    AZURITE_ACCOUNT_NAME devstoreaccount1 \
    AZURITE_ACCOUNT_KEY 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==' \
    PYTHON_ROOTFS_TAR "$rootfs_tar" \
    DOCKER_HOST "unix://$stack_run/docker.sock"
  cat "$WARMBUILD_STACK/registry-auth/env"
} >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
joined=$(printf '%s, ' "${timings[@]}")
echo "stack: up in $((SECONDS - start))s (${joined%, }); env in $env_file"
