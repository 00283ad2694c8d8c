#!/usr/bin/env bash
# Proves the stack end to end with the fixture app (testdata/app), as a person would check it:
#  1. a build on a fresh buildkitd builds the sdists' wheels ("Building wheel for ...");
#  2. a second build on the SAME daemon, with one spare package added to requirements.txt,
#     reruns pip with the warm cache mount: the old packages say "Using cached", nothing is
#     rebuilt, and the new package is downloaded;
#  3. the built app runs and imports every dependency ("app ok").
# Needs `scripts/stack/up.sh` first. Prints one pass/FAIL line per check; exits 1 on failure.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

[ -f "$WARMBUILD_STACK/env" ] || die "no $WARMBUILD_STACK/env: run scripts/stack/up.sh first"
# shellcheck disable=SC1091
. "$WARMBUILD_STACK/env"

tmp=$(mktemp -d /var/tmp/warmbuild-smoke.XXXXXX)
logs="$WARMBUILD_STACK/smoke" # build logs are kept here for a look after the run
rm -rf "$logs"
mkdir -p "$logs"
cleanup() {
  bash "$stack_repo/scripts/stack/buildkitd-stop.sh" "$tmp/root" || true
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0 failed=0
check() { # check DESCRIPTION CMD...
  local what=$1
  shift
  if "$@"; then
    echo "pass: $what"
    passed=$((passed + 1))
  else
    echo "FAIL: $what"
    failed=$((failed + 1))
  fi
}
has() { grep -qF -- "$2" "$1"; }
has_re() { grep -qE -- "$2" "$1"; }
lacks() { ! grep -qF -- "$2" "$1"; }

cp -a "$stack_repo/testdata/app" "$tmp/ctx"
bash "$stack_repo/scripts/stack/buildkitd-run.sh" "$tmp/root" "$tmp/bk.sock" >/dev/null

# build LOG [DOCKERFILE_DIR]: one build of the context on the smoke daemon, plain progress in LOG.
build() {
  local start=$SECONDS
  if ! "$BUILDKIT_BIN_DIR/buildctl" --addr "unix://$tmp/bk.sock" build --progress plain \
    --frontend dockerfile.v0 --local context="$tmp/ctx" --local dockerfile="${2:-$tmp/ctx}" >"$1" 2>&1; then
    tail -n 30 "$1" >&2
    echo "FAIL: build failed (log above, full log $1)"
    exit 1
  fi
  echo "  build took $((SECONDS - start))s"
}

sdists=(wb-fastmath wb-crypt wb-yamlish wb-imaging)

echo "build 1: fresh daemon, cold pip cache"
build "$logs/build1.log"
check "build 1 starts with an empty pip cache (fresh runner)" lacks "$logs/build1.log" "Using cached"
for s in "${sdists[@]}"; do
  check "build 1 builds the wheel of sdist $s" has "$logs/build1.log" "Building wheel for $s"
done

echo "build 2: same daemon, requirements.txt gains the spare package wb-extra"
echo "wb-extra==1.0.0" >>"$tmp/ctx/requirements.txt"
build "$logs/build2.log"
check "build 2 reruns pip (requirements changed)" has "$logs/build2.log" "pip install -r requirements.txt"
check "build 2 rebuilds no sdist" lacks "$logs/build2.log" "Building wheel for"
while read -r req; do
  name=${req%%==*} version=${req#*==}
  [ "$name" = wb-extra ] && continue
  # pip names HTTP-cached downloads by URL and wheels it built by file name.
  check "build 2 uses the cached $name $version" has_re "$logs/build2.log" \
    "Using cached (http://[^ ]*/)?${name//-/_}-${version//./\\.}[-.]"
done <"$tmp/ctx/requirements.txt"
check "build 2 downloads the new wb-extra" has "$logs/build2.log" "Downloading http://127.0.0.1:3141/files/wb_extra-1.0.0"

echo "build 3: the app runs"
mkdir -p "$tmp/check"
{ cat "$tmp/ctx/Dockerfile"; echo 'RUN python -m app'; } >"$tmp/check/Dockerfile"
build "$logs/build3.log" "$tmp/check"
check "the app imports all its dependencies" has "$logs/build3.log" "app ok"

echo "smoke: $passed passed, $failed failed (build logs in $logs)"
[ "$failed" -eq 0 ]
