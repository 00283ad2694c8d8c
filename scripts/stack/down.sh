#!/usr/bin/env bash
# Stops the daemons scripts/stack/up.sh started (registry, package indexes, Azurite, dockerd) and removes
# $WARMBUILD_STACK/env so tests skip instead of dialling dead ports. Keeps everything built
# (binaries, base image, registry storage) for the next up.sh. Daemons it did not start (an
# Azurite started by hand, say) and buildkitds started by tests are left alone.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

rm -f "$WARMBUILD_STACK/env"
for name in registry registry-auth pyindex-app pyindex-heavy azurite dockerd; do
  pidfile="$stack_run/$name.pid"
  if pid_alive "$pidfile"; then
    pid=$(cat "$pidfile")
    stop_daemon "$pidfile"
    echo "$name: stopped (pid $pid)"
  else
    rm -f "$pidfile" "$pidfile.start"
    echo "$name: not running"
  fi
done
