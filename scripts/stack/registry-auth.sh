#!/usr/bin/env bash
# A registry that requires a login, as ghcr.io, Docker Hub or ECR do for a push: Debian's
# docker-registry (distribution 2.8) with htpasswd (bcrypt) auth on 127.0.0.1:5001, storage in
# $WARMBUILD_STACK/registry-auth, run in the background with a pid file like registry.sh.
# Its user and password (made once, kept in $WARMBUILD_STACK/registry-auth/password, 0600)
# go to $WARMBUILD_STACK/registry-auth/env as AUTH_REGISTRY, AUTH_REGISTRY_USER and
# AUTH_REGISTRY_PASSWORD; up.sh adds that to the stack's env file, and so does this script
# when run on its own against a stack that is already up.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

addr=127.0.0.1:5001
user=warmbuild
dir="$WARMBUILD_STACK/registry-auth"
pidfile="$stack_run/registry-auth.pid"
logfile="$stack_run/registry-auth.log"
config="$dir/registry.yml"

command -v htpasswd >/dev/null || bash "$(dirname "$0")/apt.sh" >/dev/null ||
  die "htpasswd (apache2-utils) is missing and apt.sh could not install it"

mkdir -p "$dir/storage" "$stack_run"
if [ ! -s "$dir/password" ]; then
  (umask 077 && head -c 18 /dev/urandom | base64 | tr '+/' '-_' >"$dir/password")
fi
password=$(cat "$dir/password")
htpasswd -Bbn "$user" "$password" >"$dir/htpasswd.tmp" 2>/dev/null || die "htpasswd failed"
mv "$dir/htpasswd.tmp" "$dir/htpasswd"

# Answering 401 on /v2/ without credentials and 200 with them: this registry, with this password.
ours() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$addr/v2/")" = 401 ] &&
    curl -fsS -o /dev/null --max-time 2 -u "$user:$password" "http://$addr/v2/"
}

if ours; then
  echo "registry-auth: running at $addr (user $user)"
else
  if port_open 5001; then
    stop_daemon "$pidfile"
    wait_until 10 "port 5001 to be released" bash -c '! (exec 3<>/dev/tcp/127.0.0.1/5001) 2>/dev/null' ||
      die "port 5001 is held by a process that is not this stack's login registry; stop it and rerun"
  fi
  cat >"$config" <<YAML
# Written by scripts/stack/registry-auth.sh.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
auth:
  htpasswd:
    realm: warmbuild-stack
    path: $dir/htpasswd
http:
  addr: $addr
YAML
  start_daemon "$pidfile" "$logfile" docker-registry serve "$config"
  if ! wait_until 20 "login registry at $addr" ours; then
    log_tail "$logfile"
    die "login registry did not start (log: $logfile)"
  fi
  echo "registry-auth: started at $addr (pid $(cat "$pidfile")), user $user, storage $dir/storage"
fi

printf 'export %s=%q\n' AUTH_REGISTRY "$addr" AUTH_REGISTRY_USER "$user" AUTH_REGISTRY_PASSWORD "$password" >"$dir/env"
env_file="$WARMBUILD_STACK/env"
if [ -f "$env_file" ]; then
  { grep -v '^export AUTH_REGISTRY' "$env_file"; cat "$dir/env"; } >"$env_file.auth.tmp"
  mv "$env_file.auth.tmp" "$env_file"
fi
