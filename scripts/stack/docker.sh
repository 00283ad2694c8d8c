#!/usr/bin/env bash
# Docker Engine for the stack, for running the action the way the Actions runner does (a
# container with the Docker socket mounted) and for docker-container BuildKit builders.
#
# - Debian's docker.io, dockerd on its own socket ($WARMBUILD_STACK/run/docker.sock, exported
#   as DOCKER_HOST by up.sh) and data root ($WARMBUILD_STACK/docker).
# - Nothing can be pulled here, so the images the action needs are made locally from the
#   stack's Debian rootfs tarball (`docker import`):
#     moby/buildkit:buildx-stable-1  buildkitd + buildctl of the go.mod BuildKit version, Debian's
#                                    runc and libseccomp, and the stack's buildkitd.toml as
#                                    /etc/buildkit/buildkitd.toml (docker.io mirrored by the
#                                    local registry, so FROM python:3.11-slim works)
#     golang:1.26-bookworm           the host's /usr/local/go and CA file (the action's
#                                    Dockerfile builds FROM it)
#   Each image is remade only when what it is made from changes (a label holds that hash).
# Needs the buildkit and base-image components (up.sh runs them first).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

sock="$stack_run/docker.sock"
pidfile="$stack_run/dockerd.pid"
logfile="$stack_run/dockerd.log"
data="$WARMBUILD_STACK/docker"
export DOCKER_HOST="unix://$sock"
# The docker.io package's CLI; another docker on PATH may be of a different version.
docker=/usr/bin/docker

if [ ! -x /usr/bin/dockerd ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends docker.io >/dev/null || die "apt-get install docker.io failed"
fi

docker_ok() { "$docker" version >/dev/null 2>&1; }

if pid_alive "$pidfile" && docker_ok; then
  state="running (pid $(cat "$pidfile"))"
else
  stop_daemon "$pidfile"
  mkdir -p "$data"
  # A short exec root: containerd's shim sockets live under it and socket paths are limited.
  start_daemon "$pidfile" "$logfile" dockerd --data-root "$data" --exec-root /run/wb-docker \
    --pidfile "$stack_run/dockerd.self.pid" -H "unix://$sock"
  if ! wait_until 60 "dockerd on $sock" docker_ok; then
    log_tail "$logfile"
    die "dockerd did not start (log: $logfile)"
  fi
  state="started (pid $(cat "$pidfile"))"
fi

rootfs_tar=${PYTHON_ROOTFS_TAR:-$(ls "$WARMBUILD_STACK"/base/python*.tar 2>/dev/null | head -n1 || true)}
[ -f "$rootfs_tar" ] || die "no Debian rootfs tarball (run scripts/stack/base-image.sh)"
bkbin=$(buildkit_bin_dir)
[ -x "$bkbin/buildkitd" ] || die "no buildkitd in $bkbin (run scripts/stack/buildkit.sh)"
bkconfig="$WARMBUILD_STACK/buildkitd.toml"

# image_hash IMAGE: the source hash label of a local image, empty when absent.
image_hash() {
  "$docker" image inspect -f '{{index .Config.Labels "dev.warmbuild.stack-hash"}}' "$1" 2>/dev/null || true
}

# The Debian base every stand-in image starts from.
base=warmbuild-stack/debian-rootfs
base_hash=$(stat -c '%s %Y' "$rootfs_tar" | sha256sum | cut -c1-16)
if [ "$("$docker" image inspect -f '{{index .Config.Labels "dev.warmbuild.stack-hash"}}' "$base" 2>/dev/null || true)" != "$base_hash" ]; then
  "$docker" import --change "LABEL dev.warmbuild.stack-hash=$base_hash" "$rootfs_tar" "$base" >/dev/null ||
    die "docker import $rootfs_tar failed"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# build_image TAG SOURCES POPULATE: unless TAG is labelled with the hash of SOURCES (a
# description of its inputs: versions, sizes, config), runs POPULATE DIR to write a build
# context with a Dockerfile into DIR and builds it as TAG with the classic builder.
build_image() {
  local tag=$1 hash dir
  hash=$(printf '%s\n%s\n' "$base_hash" "$2" | sha256sum | cut -c1-16)
  if [ "$(image_hash "$tag")" = "$hash" ]; then
    return 0
  fi
  dir="$work/$(echo "$tag" | tr '/:' '__')"
  mkdir -p "$dir"
  "$3" "$dir"
  echo "LABEL dev.warmbuild.stack-hash=$hash" >>"$dir/Dockerfile"
  if ! DOCKER_BUILDKIT=0 "$docker" build -q -t "$tag" "$dir" >"$work/build.log" 2>&1; then
    cat "$work/build.log" >&2
    die "building the stand-in image $tag failed"
  fi
}

runc_bin=$(command -v runc)
seccomp_lib=$(ldd "$runc_bin" | awk '/libseccomp/ { print $3 }')

# git, which BuildKit runs to fetch Git contexts (moby/buildkit's image ships it): the host's
# Debian git, all of git-core (the fetch runs `git submodule`, a shell script there, and the
# http(s) transport) and those of their libraries the base lacks (the host and the base are
# one Debian release; apt.sh installs git).
[ -x /usr/bin/git ] && [ -x /usr/lib/git-core/git-remote-http ] || die "no git (run scripts/stack/apt.sh)"
git_libs=$({ ldd /usr/bin/git /usr/lib/git-core/* 2>/dev/null || true; } | awk '$3 ~ /^\// { print $3 }' | sort -u)
git_hash=$( (stat -c '%n %s %Y' /usr/bin/git /usr/lib/git-core/* && echo "$git_libs") | sha256sum | cut -c1-16)

# BuildKit: what moby/buildkit's image is, from our binaries.
buildkit_context() {
  mkdir -p "$1/lib" "$1/gitlib"
  cp "$bkbin/buildkitd" "$bkbin/buildctl" "$runc_bin" /usr/bin/git "$1/"
  cp -a /usr/lib/git-core "$1/git-core"
  cp -a /usr/share/git-core "$1/git-share"
  cp -L "$seccomp_lib" "$1/lib/"
  # shellcheck disable=SC2086
  cp -L $git_libs "$1/gitlib/"
  cp "$bkconfig" "$1/buildkitd.toml"
  cat >"$1/Dockerfile" <<EOF
FROM $base
COPY buildkitd buildctl runc git /usr/bin/
COPY lib/ /usr/lib/x86_64-linux-gnu/
COPY git-core/ /usr/lib/git-core/
COPY git-share/ /usr/share/git-core/
COPY gitlib/ /tmp/gitlib/
RUN for f in /tmp/gitlib/*; do [ -e "/usr/lib/x86_64-linux-gnu/\${f##*/}" ] || cp "\$f" /usr/lib/x86_64-linux-gnu/; done && \\
    rm -rf /tmp/gitlib && git --version && test -x /usr/lib/git-core/git-submodule
COPY buildkitd.toml /etc/buildkit/buildkitd.toml
VOLUME /var/lib/buildkit
ENTRYPOINT ["buildkitd"]
EOF
}
build_image moby/buildkit:buildx-stable-1 "$(stat -c '%n %s %Y' "$bkbin/buildkitd" "$bkbin/buildctl" "$runc_bin" "$seccomp_lib" && echo "git $git_hash" && cat "$bkconfig")" buildkit_context

# Go toolchain: what golang:1.26-bookworm is, from the host's Go and CA file.
golang_context() {
  cp -a /usr/local/go "$1/go"
  cp /etc/ssl/certs/ca-certificates.crt "$1/ca-certificates.crt"
  cat >"$1/Dockerfile" <<EOF
FROM $base
COPY go /usr/local/go
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin GOPATH=/go
WORKDIR /go
EOF
}
build_image golang:1.26-bookworm "$(/usr/local/go/bin/go version && sha256sum /etc/ssl/certs/ca-certificates.crt)" golang_context

# nektos/act, the local runner of GitHub workflows many users try actions with (e2e runs the
# action through it). Built from its own module, at a pinned version.
act_version=v0.2.89
act_dir="$WARMBUILD_STACK/bin/act-$act_version"
if [ ! -x "$act_dir/act" ]; then
  GOBIN="$act_dir" GOFLAGS= go install "github.com/nektos/act@$act_version" >"$work/act.log" 2>&1 || {
    cat "$work/act.log" >&2
    die "go install github.com/nektos/act@$act_version failed"
  }
fi

# Every rebuild of the action's image (e2e buildActionImage, the classic builder) leaves its
# ~1 GB Go build stage behind as a dangling image; on a long-lived machine they filled the
# disk (38 GB in a week). Those of more than a day ago are no build's cache any more.
"$docker" image prune -f --filter until=24h >/dev/null 2>&1 || true

echo "docker: $state on $sock, data $data; images moby/buildkit:buildx-stable-1, golang:1.26-bookworm; act $act_version"
