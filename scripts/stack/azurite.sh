#!/usr/bin/env bash
# Azurite, the Azure Storage emulator: the blob side of the cache service v2 test server.
# Installed from npm into $WARMBUILD_STACK/azurite (once), blob service on 127.0.0.1:10000,
# run in the background with a pid file. An Azurite already answering on the port (started by
# hand, say) is reused.
#
# Blobs are kept in memory, up to 16 GiB. On GitHub the cache's blob storage is across the
# network and never writes to the runner's disk; on this machine's disk, shared with the
# BuildKit daemons under test, Azurite's writes competed with the builds (315 MB: upload
# 130 -> 290 MB/s, download 355 -> 1700 MB/s in memory, measured with bench/cacheservice).
# Test servers delete their containers when they close, but Azurite frees deleted blobs
# only every 10 minutes, and the scenario bench uploads about 7 GB in that time.
# Account: the well-known dev account devstoreaccount1 (see AZURITE_BLOB_URL in the env file).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

# 3.35.0 is the newest release that supports the machine's Node.js 20 (3.36 wants Node 21+).
version=3.35.0
prefix="$WARMBUILD_STACK/azurite"
pidfile="$stack_run/azurite.pid"
# What the running Azurite was started with; one started otherwise is restarted.
mode="memory 16384"
modefile="$stack_run/azurite.mode"
logfile="$stack_run/azurite.log"
bin="$prefix/node_modules/.bin/azurite-blob"

# answers: an Azurite blob service replies on the port (with an error document for GET /).
answers() {
  curl -sI --max-time 2 http://127.0.0.1:10000/ 2>/dev/null | grep -qi '^Server: Azurite-Blob'
}

installed=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$prefix/node_modules/azurite/package.json" 2>/dev/null || true)
state=running
if [ "$installed" != "$version" ] || [ ! -x "$bin" ]; then
  mkdir -p "$prefix"
  npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "azurite@$version" >"$prefix/npm-install.log" 2>&1 || {
    log_tail "$prefix/npm-install.log"
    die "npm install azurite@$version failed (log: $prefix/npm-install.log)"
  }
  stop_daemon "$pidfile"
  state="installed $version"
fi

if pid_alive "$pidfile" && answers && [ "$(cat "$modefile" 2>/dev/null)" = "$mode" ]; then
  echo "azurite: $state at http://127.0.0.1:10000/devstoreaccount1 (pid $(cat "$pidfile"))"
  exit 0
fi
if ! pid_alive "$pidfile" && answers; then
  echo "azurite: reusing the Azurite already answering at http://127.0.0.1:10000/devstoreaccount1"
  exit 0
fi
stop_daemon "$pidfile"
port_open 10000 && die "port 10000 is held by another process; stop it and rerun"
# Azurite's working files (its debug log, if asked for) go to its own directory.
mkdir -p "$prefix/work"
(cd "$prefix/work" && start_daemon "$pidfile" "$logfile" "$bin" --blobHost 127.0.0.1 --blobPort 10000 \
  --inMemoryPersistence --extentMemoryLimit 16384 --loose --skipApiVersionCheck --silent --disableTelemetry)
echo "$mode" >"$modefile"
if ! wait_until 30 "azurite on :10000" answers; then
  log_tail "$logfile"
  die "azurite did not start (log: $logfile)"
fi
echo "azurite: ${state/running/started} at http://127.0.0.1:10000/devstoreaccount1 (pid $(cat "$pidfile"))"
