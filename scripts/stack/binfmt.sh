#!/usr/bin/env bash
# Emulation for the multi-platform e2e (issue 18, e2e/multiplat_test.go): Debian's
# qemu-user-static (apt.sh) registers its interpreters with binfmt_misc through
# binfmt-support; this makes sure binfmt_misc is mounted and qemu-aarch64 enabled, fetches
# a static busybox for amd64 and arm64 (Debian's busybox-static, downloaded with a private
# apt state so the machine's dpkg architectures stay as they are), and checks that the
# arm64 one runs. The result is in $WARMBUILD_STACK/binfmt: busybox-amd64, busybox-arm64
# and, only when the arm64 busybox ran, arm64-runs (else reason says why). Idempotent;
# harmless where binfmt is unavailable (a container without the right to mount it, a kernel
# without binfmt_misc): it says so and exits 0, and the emulated e2e test skips with that
# reason (the cross-compiling one needs no emulator and always runs).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

dir="$WARMBUILD_STACK/binfmt"
mkdir -p "$dir"
rm -f "$dir/arm64-runs" "$dir/reason"
no() {
  echo "$*" >"$dir/reason"
  echo "binfmt: no arm64 emulation ($*); the emulated multi-platform e2e skips"
  exit 0
}

misc=/proc/sys/fs/binfmt_misc
[ -e "$misc/status" ] || mount -t binfmt_misc binfmt_misc "$misc" 2>/dev/null || true
[ -e "$misc/status" ] || no "binfmt_misc is not mounted and cannot be"
[ -x /usr/bin/qemu-aarch64-static ] || no "qemu-user-static is not installed (scripts/stack/apt.sh)"
if [ ! -e "$misc/qemu-aarch64" ] && command -v update-binfmts >/dev/null; then
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
fi
[ -e "$misc/qemu-aarch64" ] || no "qemu-aarch64 is not registered with binfmt_misc"
grep -qx enabled "$misc/qemu-aarch64" || echo 1 >"$misc/qemu-aarch64" 2>/dev/null || true

for arch in amd64 arm64; do
  [ -x "$dir/busybox-$arch" ] && continue
  apt_dir="$dir/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$apt_dir/deb"
  opts=(-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
    -o "APT::Architectures::=amd64" -o "APT::Architectures::=arm64")
  [ -n "$(ls "$apt_dir/lists" 2>/dev/null | grep -v partial)" ] ||
    apt-get "${opts[@]}" update -qq >/dev/null 2>&1 || no "apt-get update for arm64 failed"
  (cd "$apt_dir/deb" && apt-get "${opts[@]}" download -qq "busybox-static:$arch" >/dev/null 2>&1) ||
    no "apt-get download busybox-static:$arch failed"
  rm -rf "$apt_dir/x-$arch"
  dpkg-deb -x "$apt_dir"/deb/busybox-static_*_"$arch".deb "$apt_dir/x-$arch"
  install -m 0755 "$apt_dir/x-$arch/bin/busybox" "$dir/busybox-$arch"
done

[ "$("$dir/busybox-arm64" uname -m 2>/dev/null)" = aarch64 ] || no "the arm64 busybox does not run"
touch "$dir/arm64-runs"
echo "binfmt: arm64 runs under qemu-user-static; static busybox for amd64 and arm64 in $dir"
