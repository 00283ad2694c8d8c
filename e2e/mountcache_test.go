//go:build e2e

package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
)

// mountCacheEnv is one test's cache service (its own Azurite container, so no test sees
// another's entries) and a registry layer cache of its own.
type mountCacheEnv struct {
	srv      *cachetest.V2Server
	cacheRef string
}

func newMountCacheEnv(t *testing.T) *mountCacheEnv {
	needStack(t)
	return &mountCacheEnv{
		srv:      cachetest.StartV2(t, cachetest.V2Options{Scopes: []string{"refs/heads/main"}}),
		cacheRef: stackEnv["REGISTRY"] + "/" + uniqueRepo(t, "mc-layers") + ":buildcache",
	}
}

// run runs the action on a fresh builder, as a push to main or as pull request #12.
func (e *mountCacheEnv) run(t *testing.T, dir string, pr bool, extra map[string]string) Result {
	t.Helper()
	return e.runWith(t, dir, pr, extra, nil)
}

// runEnv is a push to main with extra environment variables for the action.
func (e *mountCacheEnv) runEnv(t *testing.T, dir string, extraEnv map[string]string) Result {
	t.Helper()
	return e.runWith(t, dir, false, nil, extraEnv)
}

func (e *mountCacheEnv) runWith(t *testing.T, dir string, pr bool, extra, extraEnv map[string]string) Result {
	t.Helper()
	env := map[string]string{"ACTIONS_RESULTS_URL": e.srv.URL(), "ACTIONS_RUNTIME_TOKEN": e.srv.Token()}
	r := Run{Dir: dir, Event: "push", Payload: "push-default-branch.json"}
	ref := pushMain
	if pr {
		e.srv.SetScopes("refs/pull/12/merge", "refs/heads/main")
		r.Event, r.Payload, ref = "pull_request", "pull_request.json", pr12
	} else {
		e.srv.SetScopes("refs/heads/main")
	}
	for k, v := range ref {
		env[k] = v
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	r.Env = env
	r.Inputs = map[string]string{"endpoint": freshBuilder(t).Endpoint, "cache-backend": "registry", "cache-ref": e.cacheRef}
	for k, v := range extra {
		r.Inputs[k] = v
	}
	res := runAction(t, r)
	mustExit0(t, res)
	return res
}

func (e *mountCacheEnv) mountEntries() []cachetest.Entry {
	var out []cachetest.Entry
	for _, en := range e.srv.Entries() {
		if strings.HasPrefix(en.Key, mountcache.KeyPrefix) {
			out = append(out, en)
		}
	}
	return out
}

type mountReport struct {
	ID, CacheID, Key, MatchedKey, Hit, Reason, SaveNote, SavedKey string
	Injected, Saved                                               bool
	RestoredBytes, SavedBytes                                     int64
	StepCached                                                    *bool
	Pip                                                           *mountcache.PipStats
}

func mountReports(t *testing.T, r Result) []mountReport {
	t.Helper()
	var reps []mountReport
	if err := json.Unmarshal([]byte(r.Outputs["mount-cache-report"]), &reps); err != nil {
		t.Fatalf("mount-cache-report %q: %v", r.Outputs["mount-cache-report"], err)
	}
	return reps
}

func appContext(t *testing.T, extraRequirements ...string) string {
	t.Helper()
	files := map[string]string{}
	for _, name := range []string{"Dockerfile", "requirements.txt", "app/__init__.py", "app/__main__.py"} {
		b, err := os.ReadFile(filepath.Join(repoRoot, "testdata/app", name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = string(b)
	}
	for _, r := range extraRequirements {
		files["requirements.txt"] += r + "\n"
	}
	return writeContext(t, files)
}

func outInt(t *testing.T, r Result, name string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(r.Outputs[name], 10, 64)
	if err != nil {
		t.Fatalf("output %s = %q: %v", name, r.Outputs[name], err)
	}
	return n
}

// Item 8 of the issue: cold on main, a pull request that adds a package, main again with
// unchanged requirements — each on a fresh builder.
func TestMountCacheColdThenPullRequestThenUnchangedOnFreshBuilders(t *testing.T) {
	e := newMountCacheEnv(t)
	base := appContext(t)

	cold := e.run(t, base, false, nil)
	if !strings.Contains(cold.Log, "Building wheel for wb-fastmath") {
		t.Errorf("run 1 is cold: the sdists should build\n%s", tail(cold.Log, 60))
	}
	if cold.Outputs["mount-cache-hit"] != "miss" || cold.Outputs["pip-packages-total"] != "11" || cold.Outputs["pip-packages-cached"] != "0" {
		t.Errorf("run 1 outputs: hit %q pip %s/%s", cold.Outputs["mount-cache-hit"], cold.Outputs["pip-packages-cached"], cold.Outputs["pip-packages-total"])
	}
	saved := e.mountEntries()
	if len(saved) != 1 || outInt(t, cold, "mount-cache-saved-bytes") != saved[0].Size || saved[0].Size == 0 {
		t.Fatalf("run 1 on main must save one mount cache entry: %+v, saved-bytes %s\n%s", saved, cold.Outputs["mount-cache-saved-bytes"], tail(cold.Log, 40))
	}
	wantPrefix := mountcache.KeyPrefix + "root-.cache-pip-linux-" + runtime.GOARCH + "-"
	if !strings.HasPrefix(saved[0].Key, wantPrefix) {
		t.Errorf("key %q, want prefix %q", saved[0].Key, wantPrefix)
	}

	pr := e.run(t, appContext(t, "wb-extra==1.0.0"), true, nil)
	if pr.Outputs["mount-cache-hit"] != "partial" {
		t.Errorf("run 2 (PR adding a package): mount-cache-hit %q, want partial", pr.Outputs["mount-cache-hit"])
	}
	if strings.Contains(pr.Log, "Building wheel for") || strings.Count(pr.Log, "Using cached") != 11 || !strings.Contains(pr.Log, "Downloading http://127.0.0.1:3141/files/wb_extra") {
		t.Errorf("run 2: every old package should come from the cache and only wb-extra be fetched\n%s", tail(pr.Log, 60))
	}
	if pr.Outputs["pip-packages-total"] != "12" || pr.Outputs["pip-packages-cached"] != "11" || pr.Outputs["pip-cache-hit-ratio"] != "0.92" {
		t.Errorf("run 2 pip outputs: %s/%s ratio %s", pr.Outputs["pip-packages-cached"], pr.Outputs["pip-packages-total"], pr.Outputs["pip-cache-hit-ratio"])
	}
	if outInt(t, pr, "mount-cache-restored-bytes") != saved[0].Size || outInt(t, pr, "mount-cache-saved-bytes") != 0 {
		t.Errorf("run 2: restored %s (entry has %d), saved %s", pr.Outputs["mount-cache-restored-bytes"], saved[0].Size, pr.Outputs["mount-cache-saved-bytes"])
	}
	if n := len(e.mountEntries()); n != 1 {
		t.Errorf("a pull request must not save a mount cache: %d entries", n)
	}
	if strings.Contains(pr.Log, "Save mount cache") || strings.Contains(pr.Log, ExtractCommandInLog) {
		t.Errorf("run 2: extraction ran on a pull request")
	}

	same := e.run(t, base, false, nil)
	reps := mountReports(t, same)
	if same.Outputs["mount-cache-hit"] != "exact" || len(reps) != 1 || reps[0].Injected || !strings.Contains(reps[0].Reason, "requirements unchanged") {
		t.Errorf("run 3 (main, unchanged): hit %q, report %+v", same.Outputs["mount-cache-hit"], reps)
	}
	if reps[0].StepCached == nil || !*reps[0].StepCached {
		t.Errorf("run 3: the layer cache should skip the pip step\n%s", tail(same.Log, 40))
	}
	if outInt(t, same, "mount-cache-saved-bytes") != 0 || outInt(t, same, "mount-cache-restored-bytes") != 0 || len(e.mountEntries()) != 1 {
		t.Errorf("run 3: nothing to download or save: restored %s saved %s entries %d", same.Outputs["mount-cache-restored-bytes"], same.Outputs["mount-cache-saved-bytes"], len(e.mountEntries()))
	}
	if strings.Contains(same.Log, ExtractCommandInLog) || strings.Contains(same.Log, "mount-inject") {
		t.Errorf("run 3: no helper build should run when requirements did not change")
	}
	if !strings.Contains(same.Summary, "Mount cache") || !strings.Contains(same.Summary, "exact") {
		t.Errorf("summary lacks the mount cache table:\n%s", same.Summary)
	}
}

// ExtractCommandInLog appears in the log whenever the extraction helper build runs.
const ExtractCommandInLog = "mount-extract"

// A non-root user's cache mount (uid/gid), which BuildKit seeds through a permission op
// that the injection must reproduce.
func TestMountCacheForANonRootUserWithUIDAndGID(t *testing.T) {
	e := newMountCacheEnv(t)
	dockerfile := "FROM python:3.11-slim\n" +
		"RUN useradd -m -u 1000 app\n" +
		"USER app\n" +
		"WORKDIR /home/app\n" +
		"COPY requirements.txt .\n" +
		"RUN --mount=type=cache,target=/home/app/.cache/pip,uid=1000,gid=1000 pip install --user -r requirements.txt\n"
	ctx := func(reqs string) string {
		return writeContext(t, map[string]string{"Dockerfile": dockerfile, "requirements.txt": reqs})
	}
	cold := e.run(t, ctx("wb-core==1.1.0\nwb-fastmath==1.4.0\n"), false, nil)
	if !strings.Contains(cold.Log, "Building wheel for wb-fastmath") || len(e.mountEntries()) != 1 {
		t.Fatalf("cold run: want the sdist built and one entry saved (%d)\n%s", len(e.mountEntries()), tail(cold.Log, 40))
	}
	warm := e.run(t, ctx("wb-core==1.1.0\nwb-fastmath==1.4.0\nwb-util==1.0.0\n"), false, nil)
	if warm.Outputs["mount-cache-hit"] != "partial" || warm.Outputs["pip-packages-cached"] != "2" || strings.Contains(warm.Log, "Building wheel for") {
		t.Errorf("non-root user: hit %q, pip cached %s/%s\n%s", warm.Outputs["mount-cache-hit"], warm.Outputs["pip-packages-cached"], warm.Outputs["pip-packages-total"], tail(warm.Log, 40))
	}
	if outInt(t, warm, "mount-cache-saved-bytes") == 0 || len(e.mountEntries()) != 2 {
		t.Errorf("main with a new package saves the grown cache: saved %s, entries %d", warm.Outputs["mount-cache-saved-bytes"], len(e.mountEntries()))
	}
}

// Two cache mounts in one Dockerfile, one with a custom id: both are carried
// (mount-caches: all) under their own keys.
func TestMountCacheTwoMountsWithACustomID(t *testing.T) {
	e := newMountCacheEnv(t)
	dockerfile := "FROM python:3.11-slim\n" +
		"COPY requirements.txt .\n" +
		"RUN --mount=type=cache,id=apt-lists,target=/var/cache/apt,sharing=locked " +
		"--mount=type=cache,id=shop-pip,target=/root/.cache/pip " +
		"ls /var/cache/apt | sed 's/^/apt-cache-has: /' && date +%s%N > /var/cache/apt/fetched-$(date +%s%N) && pip install -r requirements.txt\n"
	ctx := func(reqs string) string {
		return writeContext(t, map[string]string{"Dockerfile": dockerfile, "requirements.txt": reqs})
	}
	first := e.run(t, ctx("wb-core==1.1.0\nwb-crypt==0.8.0\n"), false, map[string]string{"mount-caches": "all"})
	reps := mountReports(t, first)
	if len(reps) != 2 || len(e.mountEntries()) != 2 {
		t.Fatalf("want two mounts carried and saved: %+v, entries %+v", reps, e.mountEntries())
	}
	keys := reps[0].Key + " " + reps[1].Key
	if !strings.Contains(keys, mountcache.KeyPrefix+"shop-pip-") || !strings.Contains(keys, mountcache.KeyPrefix+"apt-lists-") {
		t.Errorf("keys %s should name the custom ids", keys)
	}
	second := e.run(t, ctx("wb-core==1.1.0\nwb-crypt==0.8.0\nwb-log==0.5.0\n"), false, map[string]string{"mount-caches": "all"})
	if !strings.Contains(second.Log, "apt-cache-has: fetched-") {
		t.Errorf("the apt mount's restored file is not visible to the RUN\n%s", tail(second.Log, 40))
	}
	// wb-crypt pulls in a dependency; whatever the count, only the new wb-log is fetched.
	total, cached := outInt(t, second, "pip-packages-total"), outInt(t, second, "pip-packages-cached")
	if total < 3 || cached != total-1 || strings.Count(second.Log, "Downloading http") != 1 || strings.Contains(second.Log, "Building wheel for") {
		t.Errorf("custom-id pip mount not restored: pip %d/%d\n%s", cached, total, tail(second.Log, 40))
	}
	if second.Outputs["mount-cache-hit"] != "partial" {
		t.Errorf("mount-cache-hit %q", second.Outputs["mount-cache-hit"])
	}
}

// A hostile archive on the cache server (a path escaping the mount) is refused with a
// warning; the pip step runs cold and the build succeeds.
func TestMountCacheHostileArchiveGivesAWarningAndAColdBuild(t *testing.T) {
	e := newMountCacheEnv(t)
	dir := appContext(t)
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := mountcache.Discover(df, mountcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cache := mountcache.Caches(mounts)[0]
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"http/ok", "../../../../escaped-by-warmbuild-e2e"} {
		body := []byte("x")
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg, ModTime: time.Now()})
		tw.Write(body)
	}
	tw.Close()
	zw.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := mountcache.RestoreKey(cache.Mounts[0], "linux/"+runtime.GOARCH) + "0123456789abcdef"
	if _, err := e.srv.Seed(ctx, cachetest.SeedEntry{Key: key, Version: mountcache.EntryVersion(cache)}, &buf); err != nil {
		t.Fatal(err)
	}

	res := e.run(t, dir, false, nil)
	if !strings.Contains(res.Outputs["cache-warnings"], "unsafe archive") {
		t.Errorf("cache-warnings should say the archive was refused: %s", res.Outputs["cache-warnings"])
	}
	if res.Outputs["mount-cache-hit"] != "miss" || !strings.Contains(res.Log, "Building wheel for") {
		t.Errorf("the pip step should run cold: hit %q\n%s", res.Outputs["mount-cache-hit"], tail(res.Log, 40))
	}
	if len(e.mountEntries()) != 2 {
		t.Errorf("the cold build on main should save a good entry next to the bad one: %+v", e.mountEntries())
	}
}

// The price of the no-change fast path: on an exact hit nothing is injected, trusting the
// layer cache to skip the pip step. When the layer cache misses anyway (here: another,
// empty cache-ref), the step runs without its cache, and the run says so.
func TestMountCacheExactHitWithAColdLayerCacheSaysWhy(t *testing.T) {
	e := newMountCacheEnv(t)
	dir := appContext(t)
	e.run(t, dir, false, nil)
	res := e.run(t, dir, false, map[string]string{"cache-ref": stackEnv["REGISTRY"] + "/" + uniqueRepo(t, "mc-empty") + ":buildcache"})
	reps := mountReports(t, res)
	if res.Outputs["mount-cache-hit"] != "exact" || len(reps) != 1 || reps[0].Injected {
		t.Fatalf("hit %q report %+v", res.Outputs["mount-cache-hit"], reps)
	}
	if reps[0].StepCached == nil || *reps[0].StepCached {
		t.Errorf("the pip step should have run: %+v", reps[0])
	}
	if !strings.Contains(res.Outputs["cache-warnings"], "layer cache missed") || !strings.Contains(res.Summary, "layer cache missed") {
		t.Errorf("want a hint that the layer cache missed although requirements did not change:\nwarnings %s\nsummary %s", res.Outputs["cache-warnings"], res.Summary)
	}
}

// Requirements that change on main, twice: the first change stores only what it added,
// as a delta on the cold run's entry; the second restores that entry and the delta, pip
// finds every package it had before, and its save is again a delta on the same base.
func TestMountCacheRequirementChangesSaveDeltasOnTheFullEntry(t *testing.T) {
	e := newMountCacheEnv(t)
	cold := e.run(t, appContext(t), false, nil)
	full := e.mountEntries()
	if len(full) != 1 || full[0].Size == 0 {
		t.Fatalf("run 1 must save one full entry: %+v\n%s", full, tail(cold.Log, 40))
	}

	added := e.run(t, appContext(t, "wb-extra==1.0.0"), false, nil)
	reps := mountReports(t, added)
	if added.Outputs["mount-cache-hit"] != "partial" || len(reps) != 1 || !reps[0].Saved {
		t.Fatalf("run 2 (main, one package added): hit %q report %+v\n%s", added.Outputs["mount-cache-hit"], reps, tail(added.Log, 60))
	}
	entries := e.mountEntries()
	var delta *cachetest.Entry
	for i := range entries {
		if mountcache.DeltaBaseOf(entries[i].Key) == full[0].Key {
			delta = &entries[i]
		}
	}
	if len(entries) != 2 || delta == nil || !strings.HasPrefix(delta.Key, reps[0].Key+"+") {
		t.Fatalf("run 2 must add a delta of its key on %s: entries %+v, key %s", full[0].Key, entries, reps[0].Key)
	}
	// A fresh builder injecting a cache pulls and unpacks the pip stage's base beside the
	// injection; the build, which needs it, lets it finish (it is not stopped).
	if !strings.Contains(added.Log, "Base image python:3.11-slim pulled and unpacked in") {
		t.Errorf("run 2 should say the base image was prewarmed:\n%s", tail(added.Log, 60))
	}
	saved := outInt(t, added, "mount-cache-saved-bytes")
	if saved != delta.Size || saved*2 > full[0].Size {
		t.Errorf("run 2 saved %d bytes (delta entry %d); want less than half the full entry's %d", saved, delta.Size, full[0].Size)
	}

	again := e.run(t, appContext(t, "wb-extra==1.0.0", "wb-plugin==0.3.0"), false, nil)
	if again.Outputs["mount-cache-hit"] != "partial" {
		t.Errorf("run 3: mount-cache-hit %q, want partial", again.Outputs["mount-cache-hit"])
	}
	if again.Outputs["pip-packages-total"] != "13" || again.Outputs["pip-packages-cached"] != "12" || strings.Contains(again.Log, "Building wheel for") {
		t.Errorf("run 3: the base and the delta should give pip all 12 earlier packages: %s/%s\n%s",
			again.Outputs["pip-packages-cached"], again.Outputs["pip-packages-total"], tail(again.Log, 60))
	}
	if got, want := outInt(t, again, "mount-cache-restored-bytes"), full[0].Size+delta.Size; got != want {
		t.Errorf("run 3 restored %d bytes, want base + delta = %d", got, want)
	}
	reps = mountReports(t, again)
	if len(reps) != 1 || !reps[0].Saved || mountcache.DeltaBaseOf(reps[0].SavedKey) != full[0].Key {
		t.Errorf("run 3 must save a delta on the same full entry %s: %+v", full[0].Key, reps)
	}
}

// Where the build cannot reach the cache storage the restored entry is streamed in
// through the session; WARMBUILD_MOUNT_TRANSFER=stream takes that path from the start.
// pip must find the same packages either way.
func TestMountCacheStreamedThroughTheSessionWhenAsked(t *testing.T) {
	e := newMountCacheEnv(t)
	e.run(t, appContext(t), false, nil)
	full := e.mountEntries()
	if len(full) != 1 {
		t.Fatalf("run 1 must save one entry: %+v", full)
	}
	streamed := e.runEnv(t, appContext(t, "wb-extra==1.0.0"), map[string]string{"WARMBUILD_MOUNT_TRANSFER": "stream"})
	if !strings.Contains(streamed.Log, "--mount=type=ssh,id=warmbuild-archive") || strings.Contains(streamed.Log, "warmbuild-sources") {
		t.Errorf("run 2 should stream through the session socket, not download inside the build\n%s", tail(streamed.Log, 60))
	}
	if streamed.Outputs["pip-packages-cached"] != "11" || outInt(t, streamed, "mount-cache-restored-bytes") != full[0].Size {
		t.Errorf("run 2: pip cached %s of 12, restored %s bytes (entry %d)", streamed.Outputs["pip-packages-cached"], streamed.Outputs["mount-cache-restored-bytes"], full[0].Size)
	}
	if reps := mountReports(t, streamed); len(reps) != 1 || !reps[0].Saved || mountcache.DeltaBaseOf(reps[0].SavedKey) != full[0].Key {
		t.Errorf("run 2 should still save a delta on %s (the stream is listed too): %+v", full[0].Key, reps)
	}
}
