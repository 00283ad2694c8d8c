#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run): bring up the local stack (installs and starts
# what a fresh machine lacks), then the Go tests, then the end-to-end tests if there are any.
# WARMBUILD_REQUIRE_STACK=1 makes stack-dependent tests fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }
fail() {
  printf '\nFAILED: %s\n' "$*" >&2
  exit 1
}

step "local stack (scripts/stack/up.sh)"
bash scripts/stack/up.sh || fail "bringing up the local stack"

export WARMBUILD_REQUIRE_STACK=1

step "go test ./..."
go test ./... || fail "go test ./..."

if [ -d e2e ]; then
  step "go test -tags e2e ./e2e/..."
  go test -tags e2e -timeout 40m ./e2e/... || fail "end-to-end tests (go test -tags e2e ./e2e/...)"
fi

step "all tests passed"
