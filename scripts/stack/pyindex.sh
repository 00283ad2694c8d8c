#!/usr/bin/env bash
# The local stand-in for PyPI: builds tools/pyindex, generates the indexes from
# testdata/pypkgs/*.json into $WARMBUILD_STACK/pyindex/<name>, and serves them in the background:
#   app   (app.json)   http://127.0.0.1:3141/simple  (the base image's pip.conf points here)
#   heavy (heavy.json) http://127.0.0.1:3142/simple  (app + ~330 MB of large wheels)
# Regenerates and restarts only when the specs or the generator's source changed.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

root="$WARMBUILD_STACK/pyindex"
bin="$WARMBUILD_STACK/bin/pyindex"
mkdir -p "$root" "$stack_run" "$(dirname "$bin")"

# The stamp covers everything generation depends on (the generator's source, not its tests).
stamp=$(cd "$stack_repo" && find tools/pyindex testdata/pypkgs -maxdepth 1 \( -name '*.go' -o -name '*.json' \) \
  ! -name '*_test.go' | sort | xargs cat | sha256sum | cut -c1-16)
if [ ! -x "$bin" ] || [ "$(cat "$root/binary.stamp" 2>/dev/null)" != "$stamp" ]; then
  (cd "$stack_repo" && go build -o "$bin.tmp" ./tools/pyindex) || die "go build ./tools/pyindex failed"
  mv "$bin.tmp" "$bin"
  echo "$stamp" >"$root/binary.stamp"
fi

# ensure NAME PORT: one index, generated and served.
ensure() {
  local name=$1 port=$2
  local dir="$root/$name" pidfile="$stack_run/pyindex-$name.pid" logfile="$stack_run/pyindex-$name.log"
  local url="http://127.0.0.1:$port/simple/" generated=""
  if [ "$(cat "$dir.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$dir/simple/index.html" ]; then
    stop_daemon "$pidfile"
    "$bin" generate -spec "$stack_repo/testdata/pypkgs/$name.json" -out "$dir" >/dev/null ||
      die "generating the $name index failed"
    echo "$stamp" >"$dir.stamp"
    generated=" (index regenerated)"
  fi
  if pid_alive "$pidfile" && http_ok "$url"; then
    echo "pyindex $name: running at $url (pid $(cat "$pidfile"))"
    return
  fi
  stop_daemon "$pidfile"
  port_open "$port" && die "port $port is held by another process; stop it and rerun"
  start_daemon "$pidfile" "$logfile" "$bin" serve -dir "$dir" -addr "127.0.0.1:$port"
  if ! wait_until 10 "pyindex $name on :$port" http_ok "$url"; then
    log_tail "$logfile"
    die "pyindex $name did not start (log: $logfile)"
  fi
  echo "pyindex $name: started at $url (pid $(cat "$pidfile"))$generated"
}

ensure app 3141
ensure heavy 3142
