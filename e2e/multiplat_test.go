//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/mountcache"
)

// multiplatDockerfile builds for every platform under emulation (scratch and a static
// busybox per architecture: the stack's base image is amd64 only). Its RUN has a cache
// directory per platform (the id names $TARGETARCH) and one every platform shares (one id,
// with uid/gid: BuildKit gives both platforms of the solve the same directory, the
// permissions base included), lists what each holds and leaves a stamp of its
// architecture and round in both.
const multiplatDockerfile = "FROM scratch\n" +
	"ARG TARGETARCH\n" +
	"COPY busybox-${TARGETARCH} /bin/busybox\n" +
	`RUN ["/bin/busybox", "--install", "-s", "/bin"]` + "\n" +
	"COPY round.txt /round.txt\n" +
	"RUN --mount=type=cache,id=own-${TARGETARCH},target=/own --mount=type=cache,id=shared,uid=0,gid=0,target=/shared " +
	`a=$(uname -m); for f in /own/* /shared/*; do [ -e "$f" ] && echo "mp-$a-has: $f"; done; ` +
	`touch /own/stamp-$a /shared/stamp-$a-$(cat /round.txt)` + "\n"

// needArm64 skips when the machine cannot emulate arm64 (scripts/stack/binfmt.sh wrote
// why: a machine without binfmt_misc is no broken stack, and the cross-compiling test
// covers it), and gives the static busybox per arch.
func needArm64(t *testing.T) map[string]string {
	t.Helper()
	dir := filepath.Join(stackEnv["WARMBUILD_STACK"], "binfmt")
	if _, err := os.Stat(filepath.Join(dir, "arm64-runs")); err != nil {
		reason, rerr := os.ReadFile(filepath.Join(dir, "reason"))
		if rerr != nil {
			t.Fatalf("scripts/stack/binfmt.sh has not run (neither %s/arm64-runs nor a reason): run it", dir)
		}
		t.Skip("no arm64 emulation on this machine: " + strings.TrimSpace(string(reason)))
	}
	out := map[string]string{}
	for _, arch := range []string{"amd64", "arm64"} {
		b, err := os.ReadFile(filepath.Join(dir, "busybox-"+arch))
		if err != nil {
			t.Fatal(err)
		}
		out["busybox-"+arch] = string(b)
	}
	return out
}

// Issue 18 (4): a build for linux/amd64,linux/arm64 carries each platform's mount cache
// (and the directory both share, once), and a second run on a fresh builder restores
// every one of them into the platform that uses it.
func TestMultiPlatformMountCachesCarriedForEveryPlatform(t *testing.T) {
	e := newMountCacheEnv(t)
	bins := needArm64(t)
	ctx := func(round string) string {
		files := map[string]string{"Dockerfile": multiplatDockerfile, "round.txt": round}
		for k, v := range bins {
			files[k] = v
		}
		dir := writeContext(t, files)
		for k := range bins {
			if err := os.Chmod(filepath.Join(dir, k), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	multiplatRounds(t, e, ctx, []string{"own-amd64-linux-amd64-", "own-arm64-linux-arm64-", "shared-linux-amd64-"},
		[]string{"mp-x86_64-has: /own/stamp-x86_64", "mp-aarch64-has: /own/stamp-aarch64",
			"mp-x86_64-has: /shared/stamp-aarch64-1", "mp-aarch64-has: /shared/stamp-x86_64-1"},
		[]string{"mp-x86_64-has: /own/stamp-aarch64", "mp-aarch64-has: /own/stamp-x86_64"})
}

// multiplatRounds runs a linux/amd64,linux/arm64 build twice on fresh builders, round 1
// then round 2 (round.txt, which the step copies, changes: every key changes, so every
// mount is a partial hit). The first run saves one entry per key prefix in want; the second
// restores and injects every mount, and its log has every line of has and none of hasNot.
func multiplatRounds(t *testing.T, e *mountCacheEnv, ctx func(round string) string, want, has, hasNot []string) {
	t.Helper()
	inputs := map[string]string{"platforms": "linux/amd64,linux/arm64", "mount-caches": "all"}
	first := e.run(t, ctx("1"), false, inputs)
	var keys []string
	for _, r := range mountReports(t, first) {
		if !r.Saved {
			t.Errorf("%s not saved: %s", r.CacheID, r.SaveNote)
		}
		keys = append(keys, r.Key)
	}
	sort.Strings(keys)
	if len(keys) != len(want) || len(e.mountEntries()) != len(want) {
		var stored []string
		for _, en := range e.mountEntries() {
			stored = append(stored, en.Key)
		}
		t.Fatalf("keys %v, entries %v; want one per platform's directory and one per shared one: %v\nreport %s\n%s",
			keys, stored, want, first.Outputs["mount-cache-report"], tail(first.Log, 120))
	}
	for i, w := range want {
		if !strings.HasPrefix(keys[i], mountcache.KeyPrefix+w) {
			t.Errorf("key %s, want %s...", keys[i], mountcache.KeyPrefix+w)
		}
	}
	multiplatReportFields(t, first)
	second := e.run(t, ctx("2"), false, inputs)
	for _, r := range mountReports(t, second) {
		if r.Hit == "miss" || !r.Injected {
			t.Errorf("%s: hit %s, injected %v (%s): want it restored", r.CacheID, r.Hit, r.Injected, r.Reason)
		}
	}
	for _, line := range has {
		if !strings.Contains(second.Log, line) {
			t.Errorf("the second run's log lacks %q\n%s", line, tail(second.Log, 200))
		}
	}
	for _, line := range hasNot {
		if strings.Contains(second.Log, line) {
			t.Errorf("the second run's log has %q: a platform's own directory holds the other's files\n%s", line, tail(second.Log, 60))
		}
	}
	t.Logf("first run %s, second %s", first.Elapsed, second.Elapsed)
}

// crossDockerfile is the way where no emulator is installed: the build stage runs on the
// build platform (the stack's amd64 base image) once per target, and only the final stage
// is per platform. A Go-style build cache per $TARGETARCH, a download cache shared.
const crossDockerfile = "FROM --platform=$BUILDPLATFORM python:3.11-slim AS build\n" +
	"ARG TARGETARCH\n" +
	"COPY round.txt /round.txt\n" +
	"RUN --mount=type=cache,id=gobuild-$TARGETARCH,target=/root/.cache/go-build --mount=type=cache,id=dl,target=/dl " +
	`a=$TARGETARCH; for f in /root/.cache/go-build/* /dl/*; do [ -e "$f" ] && echo "mp-$a-has: $f"; done; ` +
	`touch /root/.cache/go-build/stamp-$a /dl/stamp-$a-$(cat /round.txt); mkdir -p /out; echo $a > /out/arch` + "\n" +
	"FROM scratch\n" +
	"COPY --from=build /out/ /\n"

// The same for a cross-compiling Dockerfile (--platform=$BUILDPLATFORM): no emulation.
func TestMultiPlatformCrossCompileMountCaches(t *testing.T) {
	e := newMountCacheEnv(t)
	ctx := func(round string) string {
		return writeContext(t, map[string]string{"Dockerfile": crossDockerfile, "round.txt": round})
	}
	multiplatRounds(t, e, ctx, []string{"dl-linux-amd64-", "gobuild-amd64-linux-amd64-", "gobuild-arm64-linux-arm64-"},
		[]string{"mp-amd64-has: /root/.cache/go-build/stamp-amd64", "mp-arm64-has: /root/.cache/go-build/stamp-arm64",
			"mp-amd64-has: /dl/stamp-arm64-1", "mp-arm64-has: /dl/stamp-amd64-1"},
		[]string{"mp-amd64-has: /root/.cache/go-build/stamp-arm64", "mp-arm64-has: /root/.cache/go-build/stamp-amd64"})
}

// multiplatReportFields: caps (issue 18). Each mount-cache-report entry of a first run
// names whose directory it is (the id ends in the architecture for a platform's own, the
// others every platform shares) and takes what it saved of the quota.
func multiplatReportFields(t *testing.T, r Result) {
	t.Helper()
	var entries []struct {
		ID, Platform string
		SavedBytes   int64
		QuotaBytes   *int64
	}
	if err := json.Unmarshal([]byte(r.Outputs["mount-cache-report"]), &entries); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		want := mountcache.PlatformAll
		for _, arch := range []string{"amd64", "arm64"} {
			if strings.HasSuffix(e.ID, "-"+arch) {
				want = "linux/" + arch
			}
		}
		if e.Platform != want {
			t.Errorf("%s: platform %q, want %q", e.ID, e.Platform, want)
		}
		if e.QuotaBytes == nil || *e.QuotaBytes != e.SavedBytes || e.SavedBytes == 0 {
			t.Errorf("%s: quotaBytes %v, want what it saved, %d", e.ID, e.QuotaBytes, e.SavedBytes)
		}
	}
}
