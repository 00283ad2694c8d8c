#!/usr/bin/env bash
# The local demo: starts the stack, then builds testdata/app twice with the action binary,
# each time on a brand-new BuildKit daemon (a fresh ephemeral runner), as a push to the
# default branch would: first cold, then warm from the layer cache the first run saved in
# the local registry. Prints both runs' outputs side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

bash scripts/stack/up.sh
# shellcheck disable=SC1091
. "${WARMBUILD_STACK:-/var/tmp/warmbuild-stack}/env"

work=$(mktemp -d /tmp/warmbuild-demo.XXXXXX)
trap 'for r in "$work"/runner-*; do [ -d "$r/root" ] && bash scripts/stack/buildkitd-stop.sh "$r/root" >/dev/null 2>&1 || true; done; rm -rf "$work"' EXIT

echo "== building the action binary"
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$work/warmbuild" .

# A new cache image each demo, so the first run is really cold.
image="$REGISTRY/demo/app"
cache="$REGISTRY/demo/app-cache:run-$(date +%s)"

run() { # run NAME
  local name=$1 dir="$work/runner-$1"
  mkdir -p "$dir"
  bash scripts/stack/buildkitd-run.sh "$dir/root" "$dir/buildkitd.sock" >/dev/null
  : >"$dir/outputs"
  : >"$dir/summary.md"
  echo
  echo "== run $name: a fresh BuildKit daemon ($dir/root)"
  (
    cd testdata/app
    env -i PATH="$PATH" HOME="$dir/home" CI=true GITHUB_ACTIONS=true \
      GITHUB_EVENT_NAME=push GITHUB_REF=refs/heads/main GITHUB_REF_NAME=main GITHUB_REF_TYPE=branch \
      GITHUB_REPOSITORY=octo-org/warm-app GITHUB_EVENT_PATH="$repo/testdata/events/push-default-branch.json" \
      GITHUB_OUTPUT="$dir/outputs" GITHUB_STEP_SUMMARY="$dir/summary.md" \
      "INPUT_ENDPOINT=unix://$dir/buildkitd.sock" \
      "INPUT_TAGS=$image:latest" INPUT_PUSH=true \
      INPUT_CACHE-BACKEND=registry "INPUT_CACHE-REF=$cache" \
      "$work/warmbuild" >"$dir/log" 2>&1
  ) || { tail -40 "$dir/log"; echo "run $name failed; full log: $dir/log" >&2; exit 1; }
  grep -E '^(#[0-9]+ (\[|CACHED)|Layer cache|  (reads|writes)|Cache save)' "$dir/log" | head -30 || true
  bash scripts/stack/buildkitd-stop.sh "$dir/root" >/dev/null
}

output() { # output RUN NAME: the value of one output from GITHUB_OUTPUT's heredoc records
  awk -v name="$2" '$0 ~ "^"name"<<" {d=substr($0, length(name)+3); getline; v=$0; while ((getline l) > 0 && l != d) v=v"\n"l; print v; exit}' "$work/runner-$1/outputs"
}

run cold
run warm

echo
echo "== outputs"
printf '%-28s %-22s %s\n' output cold warm
for o in layer-cache-hit-ratio layer-cache-steps-cached layer-cache-steps-total build-duration-seconds cache-backend cache-saved digest mount-cache-hit pip-cache-hit-ratio; do
  printf '%-28s %-22s %s\n' "$o" "$(output cold "$o" | cut -c1-22)" "$(output warm "$o")"
done
echo
echo "cache-save-reason: $(output warm cache-save-reason)"
echo
echo "== job summary of the warm run"
cat "$work/runner-warm/summary.md"
