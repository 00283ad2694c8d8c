#!/usr/bin/env bash
# The Python base image, made from Debian since nothing can be pulled from Docker Hub:
# debootstrap a bookworm minbase with python3+pip (Python 3.11, as python:3.11), make it look
# like the official image (no EXTERNALLY-MANAGED, python/pip commands), point pip at the local
# index, and push it to the local registry under the python/debian names our fixtures use.
#
# Caches: the debootstrap result and the rootfs tarball ($WARMBUILD_STACK/base/<recipe>.tar,
# also what `docker import` takes) are made once; the build and push are skipped while the
# registry has every tag.
# Needs the registry and buildkit components (up.sh runs them first), except with
# --rootfs-only, which only makes the tarball (up.sh runs that early, beside the buildkitd build).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# Bump when the rootfs recipe below changes, so cached tarballs and pushed images are remade.
recipe=python3.11-bookworm-v3
registry=127.0.0.1:5000
tags=(python:3.11 python:3.11-slim python:3.11-bookworm python:3.11-slim-bookworm
  python:3 python:latest debian:bookworm debian:bookworm-slim)
base="$WARMBUILD_STACK/base"
tarball="$base/$recipe.tar"
stamp="$base/$recipe.pushed"

# debian_mirror prints the Debian archive URI from this machine's apt sources.
debian_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n' | grep -E '/debian/?$' | head -n1 || true)
  if [ -z "$uri" ]; then
    uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { print $i; exit } }' |
      grep -E '/debian/?$' | head -n1 || true)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# debootstrapped prints the path of the plain debootstrap result (tarball), making it once: the
# slow part (~90 s) is kept apart from the recipe so changing the recipe costs seconds.
debootstrapped() {
  local raw="$base/debootstrap-bookworm-minbase-python3.tar" work="$base/work-debootstrap" mirror
  if [ ! -f "$raw" ]; then
    mirror=$(debian_mirror)
    rm -rf "$work"
    mkdir -p "$work"
    if ! debootstrap --variant=minbase --include=python3,python3-pip,python3-setuptools,python3-wheel \
      bookworm "$work/rootfs" "$mirror" >"$base/debootstrap.log" 2>&1; then
      log_tail "$base/debootstrap.log"
      die "debootstrap from $mirror failed (log: $base/debootstrap.log)"
    fi
    tar -C "$work/rootfs" --numeric-owner -cf "$raw.tmp" .
    mv "$raw.tmp" "$raw"
    rm -rf "$work"
  fi
  echo "$raw"
}

make_rootfs() {
  local raw work="$base/work" r
  raw=$(debootstrapped)
  rm -rf "$work"
  mkdir -p "$work/rootfs"
  r="$work/rootfs"
  tar -C "$r" --numeric-owner -xf "$raw"
  # The official python images let pip install into the system interpreter.
  rm -f "${r:?}"/usr/lib/python3*/EXTERNALLY-MANAGED
  cat >"$r/etc/pip.conf" <<'CONF'
# The local stand-in for PyPI (scripts/stack/pyindex.sh); RUN steps share the host network.
# pip caches HTTP downloads only through its https adapter or for trusted hosts: without
# trusted-host a warm cache mount would still download every wheel again.
[global]
index-url = http://127.0.0.1:3141/simple
trusted-host = 127.0.0.1
disable-pip-version-check = true
root-user-action = ignore
CONF
  [ -e "$r/usr/bin/python" ] || ln -s python3 "$r/usr/bin/python"
  [ -e "$r/usr/bin/pip" ] || ln -s pip3 "$r/usr/bin/pip"
  # Slim like debian:*-slim (no docs, manuals, translations; copyrights stay): a quarter less
  # to unpack on every fresh runner. Then apt clean, and no device nodes: the runtime
  # provides /dev, as for the official images.
  find "$r/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  find "$r/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  rm -rf "${r:?}"/usr/share/man/* "${r:?}"/usr/share/info/* \
    "${r:?}"/var/cache/apt/archives/*.deb "${r:?}"/var/cache/apt/*.bin "${r:?}"/var/lib/apt/lists/* \
    "${r:?}"/var/log/* "${r:?}"/dev/* "${r:?}"/proc/* "${r:?}"/sys/* "${r:?}"/run/* "${r:?}"/tmp/*
  tar -C "$r" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$work"
  # Older recipes' tarballs and push stamps are stale now.
  find "$base" -maxdepth 1 \( -name 'python*.tar' -o -name '*.pushed' \) ! -name "$recipe.*" -delete
}

all_pushed() {
  [ -f "$stamp" ] || return 1
  local t
  for t in "${tags[@]}"; do registry_has_tag "$registry" "library/$t" || return 1; done
}

build_and_push() {
  local tmp names="" t
  tmp=$(mktemp -d "$WARMBUILD_STACK/tmp-base.XXXXXX")
  # shellcheck disable=SC2064 # expand now: tmp is local
  trap "rm -rf '$tmp'" RETURN
  mkdir -p "$tmp/ctx/rootfs"
  tar -C "$tmp/ctx/rootfs" --numeric-owner -xf "$tarball"
  cat >"$tmp/ctx/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
CMD ["python3"]
DOCKERFILE
  for t in "${tags[@]}"; do names="$names${names:+,}$registry/library/$t"; done
  build_push_image "$tmp/ctx" "$names" "$base/build.log" "the base image"
  touch "$stamp"
}

mkdir -p "$base"
did=""
if [ ! -f "$tarball" ]; then
  make_rootfs
  did="made rootfs, "
fi
if [ "${1:-}" = --rootfs-only ]; then
  echo "base rootfs: ${did}$tarball"
  exit 0
fi
http_ok "http://$registry/v2/" || die "registry at $registry is not up (run scripts/stack/registry.sh)"
if ! all_pushed; then
  build_and_push
  did="${did}pushed, "
fi
echo "base image: ${did}$registry/library/python:3.11-slim (+${#tags[@]} tags), rootfs $tarball"
