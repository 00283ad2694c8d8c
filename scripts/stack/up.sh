#!/usr/bin/env bash
# Brings up the local test stack on this machine (a fresh Debian one included) and writes
# $WARMBUILD_STACK/env, the file tests and demos source. Idempotent: a re-run reuses what is
# built and running and takes a few seconds. Stop it with scripts/stack/down.sh.
#
# Components, in order (each prints one line; each script can also be run on its own):
#   apt.sh        Debian packages (runc, docker-registry, debootstrap, ...)
#   buildkit.sh   buildkitd+buildctl of the go.mod BuildKit version, buildkitd.toml
#   registry.sh   registry on 127.0.0.1:5000 (a mirror of docker.io for buildkitd)
#   pyindex.sh    PyPI stand-ins on 127.0.0.1:3141 (app) and :3142 (heavy)
#   base-image.sh python:3.11* / debian:bookworm* images in the registry, rootfs tarball
#   azurite.sh    Azure blob emulator on 127.0.0.1:10000
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"

mkdir -p "$WARMBUILD_STACK" "$stack_run"
start=$SECONDS
timings=()
for component in apt buildkit registry pyindex base-image azurite; do
  t=$SECONDS
  if ! bash "$here/$component.sh"; then
    die "stack component '$component' failed (scripts/stack/$component.sh); see the messages above"
  fi
  timings+=("$component $((SECONDS - t))s")
done

env_file="$WARMBUILD_STACK/env"
rootfs_tar=$(ls "$WARMBUILD_STACK"/base/*.tar 2>/dev/null | head -n1 || true)
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
    PYTHON_ROOTFS_TAR "$rootfs_tar"
} >"$env_file.tmp"
mv "$env_file.tmp" "$env_file"
joined=$(printf '%s, ' "${timings[@]}")
echo "stack: up in $((SECONDS - start))s (${joined%, }); env in $env_file"
