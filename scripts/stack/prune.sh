#!/usr/bin/env bash
# Keeps the stack's disk use bounded. Tests, the demo and the scenario bench push images to
# the local registry (a heavy bench run about 5 GB) and the end-to-end tests build the
# action's Dockerfile with the classic builder, which keeps each build's golang stage as a
# dangling 1 GB image. Nothing reads either back in a later run, and this machine's disk is
# shared by every run of the tests: left alone they filled it (43 GB of registry, 22 GB of
# dangling images) until a push failed with "no space left on device".
#
#   registry  over $WARMBUILD_PRUNE_REGISTRY_GB GiB (default 6): every repository but the
#             stack's own (library/: the base images base-image.sh pushed) is deleted and
#             the registry garbage-collected, stopped for that (a few seconds);
#   docker    dangling images over $WARMBUILD_PRUNE_DANGLING_GB GiB (default 4) are removed
#             (the newest builds' stages stay below that: they are the next build's cache).
#
# up.sh runs it last; run it alone at any time when no test is running.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

registry_limit=$((${WARMBUILD_PRUNE_REGISTRY_GB:-6} << 30))
dangling_limit=$((${WARMBUILD_PRUNE_DANGLING_GB:-4} << 30))
storage="$WARMBUILD_STACK/registry"
config="$WARMBUILD_STACK/registry.yml"
repos="$storage/docker/registry/v2/repositories"

bytes_of() { du -sb "$1" 2>/dev/null | cut -f1; }
gib() { awk -v b="$1" 'BEGIN { printf "%.1f GiB", b / 1073741824 }'; }

summary=()

registry_bytes=$(bytes_of "$storage" || echo 0)
registry_bytes=${registry_bytes:-0}
if [ "$registry_bytes" -gt "$registry_limit" ] && [ -d "$repos" ]; then
  pidfile="$stack_run/registry.pid"
  was_ours=false
  if pid_alive "$pidfile"; then
    was_ours=true
    stop_daemon "$pidfile"
  elif http_ok "http://127.0.0.1:5000/v2/"; then
    die "registry at 127.0.0.1:5000 holds $(gib "$registry_bytes") but was not started by the stack; stop it, then rerun"
  fi
  find "$repos" -mindepth 1 -maxdepth 1 ! -name library -exec rm -rf {} +
  docker-registry garbage-collect --delete-untagged "$config" >"$stack_run/registry-gc.log" 2>&1 || {
    log_tail "$stack_run/registry-gc.log"
    die "registry garbage-collect failed (log: $stack_run/registry-gc.log)"
  }
  if $was_ours; then
    bash "$(dirname "$0")/registry.sh" >/dev/null
  fi
  summary+=("registry $(gib "$registry_bytes") -> $(gib "$(bytes_of "$storage")") (test repositories dropped)")
else
  summary+=("registry $(gib "$registry_bytes")")
fi

docker=/usr/bin/docker
export DOCKER_HOST="unix://$stack_run/docker.sock"
if [ -x "$docker" ] && "$docker" version >/dev/null 2>&1; then
  dangling=$("$docker" image ls -q -f dangling=true)
  dangling_bytes=0
  if [ -n "$dangling" ]; then
    # shellcheck disable=SC2086 # one id per word
    dangling_bytes=$("$docker" image inspect -f '{{.Size}}' $dangling | awk '{ s += $1 } END { printf "%d", s }')
  fi
  if [ "$dangling_bytes" -gt "$dangling_limit" ]; then
    "$docker" image prune -f >/dev/null
    summary+=("dangling images $(gib "$dangling_bytes") removed")
  else
    summary+=("dangling images $(gib "$dangling_bytes")")
  fi
fi

joined=$(printf '%s, ' "${summary[@]}")
echo "prune: ${joined%, }; disk free $(df -h --output=avail "$WARMBUILD_STACK" | tail -n1 | tr -d ' ')"
