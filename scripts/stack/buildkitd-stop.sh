#!/usr/bin/env bash
# Usage: buildkitd-stop.sh ROOT_DIR
# Stops the buildkitd that buildkitd-run.sh started on ROOT_DIR (TERM, then KILL after 15 s).
# Leaves ROOT_DIR in place: delete it afterwards to throw the "runner" away.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ $# -eq 1 ] || die "usage: $0 ROOT_DIR"
stop_daemon "$1/warmbuild-buildkitd.pid"
