#!/usr/bin/env bash
# Usage: buildkitd-run.sh ROOT_DIR SOCKET_PATH
#
# Starts a buildkitd in the background on ROOT_DIR (created if missing; a new empty one is a
# faithful "fresh ephemeral runner": no local cache) listening on unix://SOCKET_PATH, with the
# stack's buildkitd.toml, and prints its pid on stdout once `buildctl debug workers` answers.
# The OCI worker uses the overlayfs snapshotter, or native where overlayfs does not work.
#
# The daemon's pid and log are kept inside ROOT_DIR: ROOT_DIR/warmbuild-buildkitd.pid and
# ROOT_DIR/warmbuild-buildkitd.log. Stop it with `buildkitd-stop.sh ROOT_DIR`, then delete
# ROOT_DIR to drop the runner. Running it again on a live root prints the same pid.
#
# Binaries and config come from $BUILDKIT_BIN_DIR and $BUILDKITD_CONFIG when set, otherwise
# from the stack defaults ($WARMBUILD_STACK, scripts/stack/up.sh). Wait bound:
# $BUILDKITD_START_TIMEOUT seconds (default 30).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 2 ] || die "usage: $0 ROOT_DIR SOCKET_PATH"
mkdir -p "$1" "$(dirname "$2")"
root=$(cd "$1" && pwd)
sock=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
bin=${BUILDKIT_BIN_DIR:-$(buildkit_bin_dir)}
config=${BUILDKITD_CONFIG:-$WARMBUILD_STACK/buildkitd.toml}
limit=${BUILDKITD_START_TIMEOUT:-30}
pidfile="$root/warmbuild-buildkitd.pid"
logfile="$root/warmbuild-buildkitd.log"

[ -x "$bin/buildkitd" ] || die "no buildkitd in $bin (run scripts/stack/up.sh)"
[ -f "$config" ] || die "no buildkitd config at $config (run scripts/stack/up.sh)"
command -v runc >/dev/null || die "runc not found (run scripts/stack/apt.sh)"

workers_answer() {
  "$bin/buildctl" --addr "unix://$sock" debug workers >/dev/null 2>&1
}

if pid_alive "$pidfile" && workers_answer; then
  cat "$pidfile"
  exit 0
fi

# start SNAPSHOTTER: true once the daemon answers; false if it exited or never answered.
start() {
  rm -f "$sock"
  start_daemon "$pidfile" "$logfile" "$bin/buildkitd" --root "$root" --addr "unix://$sock" \
    --config "$config" --oci-worker-snapshotter "$1"
  local deadline=$((SECONDS + limit))
  until workers_answer; do
    pid_alive "$pidfile" || return 1
    if [ "$SECONDS" -ge "$deadline" ]; then
      stop_daemon "$pidfile"
      return 1
    fi
    sleep 0.2
  done
}

if start overlayfs; then
  cat "$pidfile"
  exit 0
fi
echo "buildkitd: overlayfs snapshotter did not start on $root, trying native" >&2
log_tail "$logfile"
if start native; then
  cat "$pidfile"
  exit 0
fi
log_tail "$logfile"
die "buildkitd did not answer on unix://$sock within ${limit}s (log: $logfile)"
