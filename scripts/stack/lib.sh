# shellcheck shell=bash
# Shared helpers for the local test stack scripts. Source it; it sets no options of its own.
#
# Everything the stack keeps lives under $WARMBUILD_STACK (default /var/tmp/warmbuild-stack):
#   bin/            buildkitd+buildctl per version, pyindex
#   run/            pid files and logs of the daemons up.sh starts
#   env             the sourceable summary tests read

WARMBUILD_STACK=${WARMBUILD_STACK:-/var/tmp/warmbuild-stack}
export WARMBUILD_STACK
stack_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
stack_run="$WARMBUILD_STACK/run"
# runc and debootstrap live in sbin, which a non-login shell may not have on PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac
export PATH

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# buildkit_version prints the BuildKit module version go.mod pins, so the daemon matches our client.
buildkit_version() {
  (cd "$stack_repo" && go list -m -f '{{.Version}}' github.com/moby/buildkit)
}

buildkit_bin_dir() {
  echo "$WARMBUILD_STACK/bin/buildkit-$(buildkit_version)"
}

# proc_start PID: the process's start time (clock ticks since boot), empty if it is gone.
proc_start() {
  # Field 22 of /proc/PID/stat, counted after the ")" that ends the command name.
  sed -n 's/^.*) //p' "/proc/$1/stat" 2>/dev/null | awk '{ print $20 }'
}

# pid_alive PIDFILE: true when the file names a running process, and the same one that was
# started (PIDFILE.start holds its start time): /var/tmp outlives reboots, pids get reused.
pid_alive() {
  local pid started
  [ -f "$1" ] || return 1
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  if [ -f "$1.start" ]; then
    started=$(cat "$1.start" 2>/dev/null)
    [ "$started" = "$(proc_start "$pid")" ] || return 1
  fi
}

# http_ok URL: true when URL answers 2xx within 2 s.
http_ok() {
  curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
}

# port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_until SECONDS DESCRIPTION CMD...: polls CMD every 0.2 s until it succeeds or time runs out.
wait_until() {
  local limit=$1 what=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf 'error: %s not ready after %ss\n' "$what" "$limit" >&2
      return 1
    fi
    sleep 0.2
  done
}

# start_daemon PIDFILE LOGFILE CMD...: starts CMD detached from this shell (own session, no
# inherited stdio) so it outlives the script, and records its pid.
start_daemon() {
  local pidfile=$1 logfile=$2
  shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  setsid "$@" </dev/null >>"$logfile" 2>&1 &
  echo $! >"$pidfile"
  proc_start $! >"$pidfile.start"
}

# stop_daemon PIDFILE [SECONDS]: TERM, wait, then KILL; removes the pid file.
stop_daemon() {
  local pidfile=$1 limit=${2:-15} pid
  if ! pid_alive "$pidfile"; then
    rm -f "$pidfile" "$pidfile.start"
    return 0
  fi
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + limit))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -9 "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pidfile" "$pidfile.start"
}

# log_tail FILE: the last lines of a daemon log, for error messages.
log_tail() {
  if [ -f "$1" ]; then tail -n 20 "$1" >&2; fi
}

# registry_has_tag REGISTRY REPO:TAG: the plain-HTTP registry holds an image or an index
# under the tag.
registry_has_tag() {
  local repo=${2%%:*} tag=${2#*:}
  curl -fsS -o /dev/null --max-time 5 -I \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json' \
    "http://$1/v2/$repo/manifests/$tag" 2>/dev/null
}

# build_push_image CTX NAMES LOG WHAT: builds CTX/Dockerfile on a buildkitd of its own
# (started and stopped here, state in a temp dir) and pushes the image to NAMES
# (comma-separated refs in the plain-HTTP local registry); the build's output goes to LOG,
# WHAT names the image in the error.
build_push_image() {
  local ctx=$1 names=$2 log=$3 what=$4 tmp rc=0
  tmp=$(mktemp -d "$WARMBUILD_STACK/tmp-build.XXXXXX")
  bash "$stack_repo/scripts/stack/buildkitd-run.sh" "$tmp/bk" "$tmp/bk.sock" >/dev/null
  "$(buildkit_bin_dir)/buildctl" --addr "unix://$tmp/bk.sock" build --progress plain \
    --frontend dockerfile.v0 --local context="$ctx" --local dockerfile="$ctx" \
    --output "type=image,\"name=$names\",push=true,registry.insecure=true" >"$log" 2>&1 || rc=$?
  bash "$stack_repo/scripts/stack/buildkitd-stop.sh" "$tmp/bk" >/dev/null 2>&1 || true
  rm -rf "$tmp"
  if [ "$rc" -ne 0 ]; then
    log_tail "$log"
    die "building/pushing $what failed (log: $log)"
  fi
}
