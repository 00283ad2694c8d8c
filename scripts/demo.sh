#!/usr/bin/env bash
# The local demo: starts the stack and a GitHub Actions cache service (the v2 test server,
# blobs in Azurite), then builds testdata/app with the action binary, each time on a
# brand-new BuildKit daemon (a fresh ephemeral runner), as pushes to the default branch:
#   1. cold   nothing cached: pip builds the sdists
#   2. warm   same commit: every layer and the pip cache come from the cache service
#   3. change one package added to requirements.txt: the pip step reruns, with the pip
#             cache restored into its cache mount, so only the new package is downloaded
# and prints the three runs' outputs side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

bash scripts/stack/up.sh
# shellcheck disable=SC1091
. "${WARMBUILD_STACK:-/var/tmp/warmbuild-stack}/env"

work=$(mktemp -d /tmp/warmbuild-demo.XXXXXX)
cleanup() {
  for r in "$work"/runner-*; do
    [ -d "$r/root" ] && bash scripts/stack/buildkitd-stop.sh "$r/root" >/dev/null 2>&1 || true
  done
  [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "== building the action binary and the cache service"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$work/warmbuild" .
go build -o "$work/cacheserver" ./tools/cacheserver
"$work/cacheserver" -env-file "$work/cache.env" >"$work/cacheserver.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/cache.env" ] && break; sleep 0.1; done
[ -s "$work/cache.env" ] || { cat "$work/cacheserver.log"; echo "the cache service did not start" >&2; exit 1; }
results_url=$(sed -n 's/^ACTIONS_RESULTS_URL=//p' "$work/cache.env")
runtime_token=$(sed -n 's/^ACTIONS_RUNTIME_TOKEN=//p' "$work/cache.env")

# The app is copied so the third run can change its requirements.
cp -r testdata/app "$work/app"
image="$REGISTRY/demo/app"

run() { # run NAME
  local name=$1 dir="$work/runner-$1"
  mkdir -p "$dir"
  bash scripts/stack/buildkitd-run.sh "$dir/root" "$dir/buildkitd.sock" >/dev/null
  : >"$dir/outputs"
  : >"$dir/summary.md"
  echo
  echo "== run $name: a fresh BuildKit daemon ($dir/root)"
  (
    cd "$work/app"
    env -i PATH="$PATH" HOME="$dir/home" CI=true GITHUB_ACTIONS=true \
      GITHUB_EVENT_NAME=push GITHUB_REF=refs/heads/main GITHUB_REF_NAME=main GITHUB_REF_TYPE=branch \
      GITHUB_REPOSITORY=octo-org/warm-app GITHUB_EVENT_PATH="$repo/testdata/events/push-default-branch.json" \
      GITHUB_SERVER_URL=https://github.com ACTIONS_RESULTS_URL="$results_url" ACTIONS_RUNTIME_TOKEN="$runtime_token" \
      GITHUB_OUTPUT="$dir/outputs" GITHUB_STEP_SUMMARY="$dir/summary.md" \
      "INPUT_ENDPOINT=unix://$dir/buildkitd.sock" \
      "INPUT_TAGS=$image:latest" INPUT_PUSH=true \
      "$work/warmbuild" >"$dir/log" 2>&1
  ) || { tail -40 "$dir/log"; echo "run $name failed; full log: $dir/log" >&2; exit 1; }
  grep -E '^(#[0-9]+ (\[|CACHED)|Layer cache|  (reads|writes)|Cache save|Mount cache)' "$dir/log" | grep -v '\[internal\]' | head -20 || true
  grep -E 'Using cached|Downloading|Building wheel for' "$dir/log" | sed 's/^#[0-9]* [0-9.]* */    pip: /' | head -14 || true
  bash scripts/stack/buildkitd-stop.sh "$dir/root" >/dev/null
}

output() { # output RUN NAME: one output from GITHUB_OUTPUT's heredoc records
  awk -v name="$2" '$0 ~ "^"name"<<" {d=substr($0, length(name)+3); getline; v=$0; while ((getline l) > 0 && l != d) v=v"\n"l; print v; exit}' "$work/runner-$1/outputs"
}

run cold
run warm
echo "wb-extra==1.0.0" >>"$work/app/requirements.txt"
run change

echo
echo "== outputs"
printf '%-28s %-14s %-14s %s\n' output cold warm "requirements changed"
for o in layer-cache-hit-ratio layer-cache-steps-cached layer-cache-steps-total build-duration-seconds cache-backend cache-saved mount-cache-hit mount-cache-restored-bytes mount-cache-saved-bytes pip-packages-total pip-packages-cached pip-cache-hit-ratio; do
  printf '%-28s %-14s %-14s %s\n' "$o" "$(output cold "$o")" "$(output warm "$o")" "$(output change "$o")"
done
echo
echo "digest: $(output warm digest)"
echo "cache-save-reason: $(output warm cache-save-reason)"
echo
echo "== job summary of the requirements-changed run"
cat "$work/runner-change/summary.md"
