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

step "go vet ./... and gofmt"
go vet ./... || fail "go vet ./..."
go vet -tags e2e ./... || fail "go vet -tags e2e ./..."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
[ -z "$unformatted" ] || fail "gofmt: $unformatted"

step "go test ./...  (unit tests: fast, no daemons)"
go test ./... || fail "go test ./..."

# Fuzz targets, briefly each, so that a regression in a parser of outside input shows up
# here; `go test` above already replays their committed corpus (testdata/fuzz). Run one
# for longer with: go test -run '^$' -fuzz '^FuzzExtract$' -fuzztime 5m ./pkg/archive
step "fuzz targets, ${WARMBUILD_FUZZTIME:-12s} each"
# Every Fuzz function under pkg/ and internal/, found rather than listed, so a new one runs too.
targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' pkg internal | sed 's|/[^/]*:func |:|' | sort -u)
[ -n "$targets" ] || fail "no fuzz targets found"
for target in $targets; do
  go test -run '^$' -fuzz "^${target#*:}\$" -fuzztime "${WARMBUILD_FUZZTIME:-12s}" -fuzzminimizetime 100x \
    "./${target%%:*}" || fail "fuzzing ${target#*:} in ${target%%:*} (the failing input is under its testdata/fuzz)"
done

# Integration and end-to-end tests carry the e2e build tag: real buildkitd daemons on fresh
# state directories, the registry, Azurite, Docker Engine. -count=1: e2e/ builds the action
# binary in TestMain, so a cached result could hide a change.
step "go test -tags e2e ./...  (integration and end to end, against the local stack)"
go test -tags e2e -count=1 -timeout 60m ./... || fail "integration and end-to-end tests (go test -tags e2e ./...)"

step "all tests passed"
