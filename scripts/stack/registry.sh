#!/usr/bin/env bash
# The local registry: Debian's docker-registry (distribution 2.8) on 127.0.0.1:5000, storage in
# $WARMBUILD_STACK/registry, run directly in the background (no systemd here) with a pid file.
# Reuses a registry already answering /v2/ on the port; stops the Debian package's own service
# if that holds the port with its config (which asks for htpasswd auth).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

addr=127.0.0.1:5000
pidfile="$stack_run/registry.pid"
logfile="$stack_run/registry.log"
config="$WARMBUILD_STACK/registry.yml"
storage="$WARMBUILD_STACK/registry"

if http_ok "http://$addr/v2/"; then
  if pid_alive "$pidfile"; then
    echo "registry: running at $addr (pid $(cat "$pidfile"))"
  else
    echo "registry: reusing the registry already answering at $addr"
  fi
  exit 0
fi

if port_open 5000; then
  # Something holds the port but does not serve an open /v2/: most likely Debian's service.
  if [ -x /etc/init.d/docker-registry ]; then
    /etc/init.d/docker-registry stop >/dev/null 2>&1 || true
  fi
  stop_daemon "$pidfile"
  wait_until 10 "port 5000 to be released" bash -c '! (exec 3<>/dev/tcp/127.0.0.1/5000) 2>/dev/null' ||
    die "port 5000 is held by a process that is not an open registry; stop it and rerun"
fi

mkdir -p "$storage" "$stack_run"
cat >"$config" <<YAML
# Written by scripts/stack/registry.sh.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $storage
  delete:
    enabled: true
http:
  addr: $addr
YAML
start_daemon "$pidfile" "$logfile" docker-registry serve "$config"
if ! wait_until 20 "registry at $addr" http_ok "http://$addr/v2/"; then
  log_tail "$logfile"
  die "registry did not start (log: $logfile)"
fi
echo "registry: started at $addr (pid $(cat "$pidfile")), storage $storage"
