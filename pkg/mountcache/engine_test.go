package mountcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
	"github.com/warmbuild/warmbuild/pkg/report"
)

const (
	pipDockerfile = "FROM python:3.12-slim\nCOPY requirements.txt .\nRUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n"
	// Two carried mounts (selector all), to see what one mount's answer does to the other.
	twoDockerfile = "FROM alpine:3.20\nRUN --mount=type=cache,id=one,target=/one --mount=type=cache,id=two,target=/two true\n"
	testPlatform  = "linux/amd64"
)

type fixture struct {
	store     *fakeStore
	storeErr  error
	helper    *fakeHelper
	log       *fakeLog
	prewarmed []string
	req       Request
}

func newFixture(t *testing.T, dockerfile, selector string) *fixture {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("wb-core==1.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sel := selectorOf(t, selector)
	return &fixture{
		store:  &fakeStore{},
		helper: &fakeHelper{sourcesRes: InjectResult{Report: mounthelper.InjectReport{Status: mounthelper.InjectInjected, Files: 3, StreamBytes: 300, PathsDigest: "sha256:restored"}}, extract: mounthelper.ExtractResult{Status: mounthelper.ExtractArchived, Files: 4}, archive: []byte("new archive")},
		log:    &fakeLog{},
		req: Request{Selector: sel, Dockerfile: filepath.Join(dir, "Dockerfile"), ContextDir: dir, HashFiles: hashGlobs(t, "requirements.txt"),
			Platform: testPlatform, MaxSize: maxSizeOf(t, "1GiB"), Reads: true, Save: true, SaveReason: "saved: push to the default branch",
			ReadDeniedHint: " (read hint)", WriteDeniedHint: " (write hint)"},
	}
}

func (f *fixture) engine() *Engine {
	return NewEngine(
		WithStore(func() (Store, error) {
			if f.storeErr != nil {
				return nil, f.storeErr
			}
			return f.store, nil
		}),
		WithHelper(func(tempDir string, progress io.Writer) Helper {
			f.helper.mu.Lock()
			f.helper.progress = append(f.helper.progress, progress)
			f.helper.mu.Unlock()
			return f.helper
		}),
		WithPrewarm(func(_ context.Context, image, platform string) error {
			f.prewarmed = append(f.prewarmed, image+"@"+platform)
			return nil
		}),
		WithLogger(f.log),
		WithTempDir(os.TempDir()),
	)
}

func (f *fixture) restore(t *testing.T) *Run {
	t.Helper()
	r := f.engine().Restore(context.Background(), f.req)
	return r
}

// restoreKey is the restore prefix of the fixture's first mount.
func (f *fixture) restoreKey(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(f.req.Dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Discover(b, Options{Platform: testPlatform})
	if err != nil || len(ms) == 0 {
		t.Fatalf("discover: %v %v", ms, err)
	}
	return RestoreKey(ms[0], testPlatform)
}

func only(t *testing.T, res *Result) *Outcome {
	t.Helper()
	if len(res.Mounts) != 1 {
		t.Fatalf("want one mount, got %d: %+v", len(res.Mounts), res.Mounts)
	}
	return res.Mounts[0]
}

var okBuild = Build{Logs: func(func(string) bool) string { return "" }}

// The restore rules, mount by mount: what is found, whether it is injected, and why not.
func TestEngineRestoreRules(t *testing.T) {
	manifest := &archive.Manifest{Files: 3, Digest: "sha256:base"}
	cases := []struct {
		name    string
		setup   func(t *testing.T, f *fixture)
		hit     Hit
		status  RestoreStatus
		reason  string // prefix of Outcome.Reason
		warning string // in a cache-warnings entry; "" for none
		log     string // in the log
		check   func(t *testing.T, f *fixture, ms *Outcome)
	}{
		{name: "miss", hit: HitMiss, status: RestoreMissed, reason: "no cache entry yet", log: "info: Mount cache /root/.cache/pip: miss (",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if len(f.helper.sources)+len(f.helper.streamed) != 0 || len(f.prewarmed) != 0 {
					t.Errorf("a miss injected or prewarmed: %v %v", f.helper.sources, f.prewarmed)
				}
			}},
		{name: "exact hit, layer cache holds the step: not injected",
			setup: func(t *testing.T, f *fixture) {
				f.req.LayerCacheHoldsSteps = true
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + hashOf(t, f), data: []byte("old")}}
			},
			hit: HitExact, status: RestoreExactNotInjected, reason: "exact hit: requirements unchanged and the key covers every input of the step, the layer cache holds the pip step",
			log: "not injected (exact hit",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if ms.Injected || len(f.helper.sources) != 0 {
					t.Errorf("an exact hit the layer cache covers was injected")
				}
				if f.helper.warms != 1 || f.helper.warmCtx.Err() == nil {
					t.Errorf("the warm build of a run no helper build follows was not stopped (%d warms)", f.helper.warms)
				}
				if f.helper.waitedStopped {
					t.Errorf("the restore waited for the stopped warm build (5 s in BuildKit's client)")
				}
			}},
		{name: "exact hit without a layer cache: injected",
			setup: func(t *testing.T, f *fixture) {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + hashOf(t, f), data: []byte("old")}}
			},
			hit: HitExact, status: RestoreInjected, log: "exact hit warmbuild-mount-",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if !ms.Injected || ms.RestoredBytes != 300 || len(f.prewarmed) != 1 || f.prewarmed[0] != "python:3.12-slim@"+testPlatform {
					t.Errorf("injected %v, %d bytes, prewarmed %v", ms.Injected, ms.RestoredBytes, f.prewarmed)
				}
			}},
		{name: "partial hit: the mount's newest entry, injected from inside the build",
			setup: func(t *testing.T, f *fixture) {
				rk := f.restoreKey(t)
				f.store.entries = []*fakeEntry{{key: rk + "aaa", data: []byte("older")}, {key: rk + "bbb", data: []byte("old")}}
				f.helper.manifest = manifest
			},
			hit: HitPartial, status: RestoreInjected, log: "partial hit warmbuild-mount-",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if !strings.HasSuffix(ms.MatchedKey, "-bbb") || len(f.helper.sources) != 1 || len(f.helper.sources[0]) != 1 || f.helper.sources[0][0].Key != ms.MatchedKey {
					t.Errorf("matched %s, sources %v", ms.MatchedKey, f.helper.sources)
				}
				if ms.base != manifest || ms.baseKey != ms.MatchedKey {
					t.Errorf("the restored entry's manifest is not kept for a delta save: %v %s", ms.base, ms.baseKey)
				}
				if f.helper.warms != 1 || f.helper.injectedUnwarm {
					t.Errorf("%d warm builds (want 1, beside the lookup), injected before it ended: %v", f.helper.warms, f.helper.injectedUnwarm)
				}
			}},
		{name: "a delta and its base are injected together",
			setup: func(t *testing.T, f *fixture) {
				rk := f.restoreKey(t)
				f.store.entries = []*fakeEntry{{key: rk + "aaa", data: []byte("base")}, {key: rk + "bbb+aaa", data: []byte("delta")}}
			},
			hit: HitPartial, status: RestoreInjected, log: "aaa + delta warmbuild-mount-",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if len(f.helper.sources) != 1 || len(f.helper.sources[0]) != 2 || !strings.HasSuffix(f.helper.sources[0][0].Key, "-aaa") || !strings.HasSuffix(f.helper.sources[0][1].Key, "-bbb+aaa") {
					t.Errorf("sources %v, want the base then the delta", f.helper.sources)
				}
				if f.helper.warms != 1 || f.helper.injectedUnwarm {
					t.Errorf("%d warm builds (want 1, beside the lookups), injected before it ended: %v", f.helper.warms, f.helper.injectedUnwarm)
				}
			}},
		{name: "a delta whose base is gone is a miss",
			setup: func(t *testing.T, f *fixture) {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "bbb+aaa", data: []byte("delta")}}
			},
			hit: HitMiss, status: RestoreMissed, reason: "no cache entry: the base warmbuild-mount-",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if !strings.Contains(ms.Reason, "aaa of delta") || len(f.helper.sources) != 0 {
					t.Errorf("reason %q, sources %v", ms.Reason, f.helper.sources)
				}
			}},
		{name: "unreachable from the build: streamed through the session",
			setup: func(t *testing.T, f *fixture) {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("not a tar, but all of it")}}
				f.helper.sourcesErr = fmt.Errorf("probe: %w", ErrUnreachable)
				f.helper.streamRes = InjectResult{Report: mounthelper.InjectReport{Status: mounthelper.InjectInjected, Files: 1}}
			},
			hit: HitPartial, status: RestoreInjected, log: "streaming it through the session instead",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if len(f.helper.streamed) != 1 || string(f.helper.streamed[0]) != "not a tar, but all of it" || ms.RestoredBytes != 24 {
					t.Errorf("streamed %q, %d bytes", f.helper.streamed, ms.RestoredBytes)
				}
			}},
		{name: "unreachable from the build and from here: no stream",
			setup: func(t *testing.T, f *fixture) {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("x"), unreachable: errors.New("connection refused")}}
				f.helper.sourcesErr = ErrUnreachable
			},
			hit: HitMiss, status: RestoreInjectFailed, reason: "download failed, the pip step runs cold: the cache storage answers neither the build nor the action: connection refused",
			warning: "mount cache: /root/.cache/pip: download failed",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if len(f.helper.streamed) != 0 || ms.Injected {
					t.Errorf("streamed an entry nobody can reach")
				}
			}},
		{name: "a download cut mid-stream names the download",
			setup: func(t *testing.T, f *fixture) {
				f.req.StreamOnly = true
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("0123456789"), cutAfter: 4, cutErr: errors.New("connection reset")}}
			},
			hit: HitMiss, status: RestoreInjectFailed, reason: "download failed, the pip step runs cold: connection reset",
			warning: "download failed, the pip step runs cold: connection reset",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if len(f.helper.sources) != 0 || ms.RestoredBytes != 4 {
					t.Errorf("stream-only asked the build to download (%v), restored %d bytes", f.helper.sources, ms.RestoredBytes)
				}
			}},
		{name: "a refused archive runs cold",
			setup: func(t *testing.T, f *fixture) {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("x")}}
				f.helper.sourcesRes = InjectResult{Refused: true}
				f.helper.sourcesErr = errors.New("refused: not a cache archive")
			},
			hit: HitMiss, status: RestoreInjectFailed, reason: "not injected, the pip step runs cold: refused: not a cache archive",
			warning: "mount cache: /root/.cache/pip: not injected, the pip step runs cold: refused"},
		{name: "kept: the builder already holds the directory",
			setup: func(t *testing.T, f *fixture) {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("x")}}
				f.helper.sourcesRes.Report.Status = mounthelper.InjectKept
				f.helper.manifest = manifest
			},
			hit: HitPartial, status: RestoreKept, reason: "the builder already holds this cache directory; kept its content",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if ms.base != nil || !ms.Injected {
					t.Errorf("a kept directory keeps the restored manifest as a delta base: %v", ms.base)
				}
			}},
		{name: "a failed lookup is a warning",
			setup: func(t *testing.T, f *fixture) {
				f.store.restoreErr = errors.New("restore x: 500 Internal Server Error")
			},
			hit: HitMiss, status: RestoreFailed, reason: "restore failed: restore x: 500", warning: "mount cache: /root/.cache/pip: restore failed: restore x: 500"},
		{name: "read denied: GitHub's words and the hint",
			setup: func(t *testing.T, f *fixture) {
				f.store.restoreErr = &cacheservice.StatusError{Op: "GetCacheEntryDownloadURL", StatusCode: 403, Message: "cache read denied: the job may not read"}
			},
			hit: HitMiss, status: RestoreDenied, reason: "not restored: the cache service denied reading: cache read denied: the job may not read",
			warning: "denied reading: cache read denied: the job may not read (read hint)"},
		{name: "the cache mode does not read",
			setup: func(t *testing.T, f *fixture) {
				f.req.Reads, f.req.ReadReason = false, "not restored: ACTIONS_CACHE_MODE=write"
			},
			hit: HitMiss, status: RestoreNotAllowed, reason: "not restored: ACTIONS_CACHE_MODE=write", log: "info: Mount cache /root/.cache/pip: not restored: ACTIONS_CACHE_MODE=write",
			check: func(t *testing.T, f *fixture, ms *Outcome) {
				if len(f.store.asked) != 0 {
					t.Errorf("looked up %v although the mode does not read", f.store.asked)
				}
			}},
		{name: "no cache service in the environment: said, not warned",
			setup: func(t *testing.T, f *fixture) { f.storeErr = cacheservice.ErrNoService },
			hit:   HitMiss, status: RestoreNoService, reason: "no Actions cache service: no GitHub Actions cache service", log: "info: Mount caches: no Actions cache service"},
		{name: "a broken cache service configuration is warned",
			setup: func(t *testing.T, f *fixture) { f.storeErr = errors.New("ACTIONS_RESULTS_URL is not a URL") },
			hit:   HitMiss, status: RestoreNoService, reason: "no Actions cache service: ACTIONS_RESULTS_URL is not a URL", warning: "mount cache: no Actions cache service: ACTIONS_RESULTS_URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, pipDockerfile, "auto")
			if c.setup != nil {
				c.setup(t, f)
			}
			r := f.restore(t)
			r.EndPrewarm(context.Background())
			res := r.Save(context.Background(), Build{Err: errors.New("stop before saving")})
			ms := only(t, res)
			if ms.Hit != c.hit || ms.Restore != c.status || !strings.HasPrefix(ms.Reason, c.reason) {
				t.Errorf("hit %s, status %s, reason %q; want %s, %s, %q", ms.Hit, ms.Restore, ms.Reason, c.hit, c.status, c.reason)
			}
			warnings := strings.Join(res.Warnings, "\n")
			if c.warning == "" && len(res.Warnings) != 0 || !strings.Contains(warnings, c.warning) {
				t.Errorf("warnings %q, want %q", res.Warnings, c.warning)
			}
			if c.log != "" && f.log.index(c.log) < 0 {
				t.Errorf("log lacks %q:\n%s", c.log, f.log)
			}
			if ms.Injected != (c.status == RestoreInjected || c.status == RestoreKept) {
				t.Errorf("injected %v with status %d", ms.Injected, c.status)
			}
			if ph := phasesOf(res); len(ph) != 4 || ph[0].Name != "restore" || ph[1].Name != "inject" {
				t.Errorf("phases %+v", ph)
			}
			if c.check != nil {
				c.check(t, f, ms)
			}
		})
	}
}

// hashOf is the hash part of the fixture's key: what HashFiles makes of requirements.txt,
// with the inputs of the first mount's step (HashSteps).
func hashOf(t *testing.T, f *fixture) string {
	t.Helper()
	h, err := HashFiles(context.Background(), f.req.ContextDir, f.req.HashFiles)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.req.Dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := Discover(b, Options{Platform: testPlatform})
	if err != nil || len(ms) == 0 {
		t.Fatalf("discover: %v %v", ms, err)
	}
	steps, err := HashSteps(context.Background(), f.req.ContextDir, false, h, Caches(ms[:1])[0])
	if err != nil {
		t.Fatal(err)
	}
	return sanitize(steps.Hash)
}

// The save rules: what is saved, under which key, and why not.
func TestEngineSaveRules(t *testing.T) {
	manifest := &archive.Manifest{Files: 3, Digest: "sha256:base"}
	cases := []struct {
		name    string
		setup   func(t *testing.T, f *fixture)
		build   Build
		status  SaveStatus
		reason  SaveReason
		note    string
		warning string
		extract bool // the helper was asked to extract
		check   func(t *testing.T, f *fixture, ms *Outcome, res *Result)
	}{
		{name: "a miss is saved in full under the run's key", build: okBuild, status: Saved, extract: true,
			check: func(t *testing.T, f *fixture, ms *Outcome, res *Result) {
				if ms.SavedKey != ms.Key || string(f.store.saved[ms.Key]) != "new archive" || ms.SavedBytes != 11 || len(res.SavedKeys) != 1 || res.SavedKeys[0] != ms.Key {
					t.Errorf("saved %q as %s (%d bytes), saved keys %v; store %v", ms.SavedKey, ms.Key, ms.SavedBytes, res.SavedKeys, f.store.saved)
				}
				if c := f.helper.extracts[0]; c.base != nil || c.restoredDigest != "" || c.maxBytes != 1<<30 {
					t.Errorf("extract asked %+v", c)
				}
				if f.log.index("info: Mount cache /root/.cache/pip: saved 11 B as "+ms.Key) < 0 {
					t.Errorf("log:\n%s", f.log)
				}
			}},
		{name: "a partial hit is saved as a delta on the restored entry",
			setup: func(t *testing.T, f *fixture) {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("old")}}
				f.helper.manifest = manifest
				f.helper.extract = mounthelper.ExtractResult{Status: mounthelper.ExtractDelta, Files: 9, DeltaFiles: 2, DeltaBytes: 2048}
			},
			build: okBuild, status: Saved, extract: true,
			check: func(t *testing.T, f *fixture, ms *Outcome, res *Result) {
				want := ms.Key + "+aaa"
				if ms.SavedKey != want || ms.DeltaOn != ms.MatchedKey || ms.SaveNote != "delta of 2 files on "+ms.MatchedKey || f.store.saved[want] == nil {
					t.Errorf("saved as %s on %s (%q); want %s", ms.SavedKey, ms.DeltaOn, ms.SaveNote, want)
				}
				if c := f.helper.extracts[0]; c.base != manifest || c.restoredDigest != "sha256:restored" {
					t.Errorf("extract asked %+v, want the restored manifest and digest", c)
				}
				if f.log.index("2 of 9 files changed since "+ms.MatchedKey+" (2.0 KiB); saving them as a delta") < 0 {
					t.Errorf("log:\n%s", f.log)
				}
			}},
		{name: "a delta the helper declines is saved in full under the key",
			setup: func(t *testing.T, f *fixture) {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("old")}}
				f.helper.manifest = manifest
			},
			build: okBuild, status: Saved, extract: true,
			check: func(t *testing.T, f *fixture, ms *Outcome, res *Result) {
				if ms.SavedKey != ms.Key || ms.DeltaOn != "" || ms.SaveNote != "" {
					t.Errorf("saved as %s on %q (%q)", ms.SavedKey, ms.DeltaOn, ms.SaveNote)
				}
			}},
		{name: "an exact hit is not saved again",
			setup: func(t *testing.T, f *fixture) {
				f.req.LayerCacheHoldsSteps = true
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + hashOf(t, f), data: []byte("old")}}
			},
			build: okBuild, status: SaveSkipped, reason: ReasonUnchanged, note: "unchanged: an entry with this key exists"},
		{name: "a failed build saves nothing", build: Build{Err: errors.New("exit code 1")}, status: SaveSkipped, reason: ReasonBuildFailed, note: "not saved: the build failed"},
		{name: "the policy saves nothing", setup: func(t *testing.T, f *fixture) { f.req.Save, f.req.SaveReason = false, "pull request: restore only" },
			build: okBuild, status: SaveSkipped, reason: ReasonPolicySkip, note: "not saved: pull request: restore only"},
		{name: "no service, no save", setup: func(t *testing.T, f *fixture) { f.storeErr = cacheservice.ErrNoService },
			build: okBuild, status: SaveSkipped, reason: ReasonNoService, note: "no cache service"},
		{name: "an empty cache mount", setup: func(t *testing.T, f *fixture) { f.helper.extract.Status = mounthelper.ExtractEmpty },
			build: okBuild, status: SaveSkipped, reason: ReasonEmpty, note: "not saved: the cache mount is empty", extract: true},
		{name: "nothing changed since the injection", setup: func(t *testing.T, f *fixture) { f.helper.extract.Status = mounthelper.ExtractUnchanged },
			build: okBuild, status: SaveSkipped, reason: ReasonNothingChanged, note: "unchanged", extract: true},
		{name: "another run saved it first", setup: func(t *testing.T, f *fixture) { f.store.exists = true },
			build: okBuild, status: SaveSkipped, reason: ReasonAlreadyExists, note: "not saved: the cache already has an entry with this key (another run saved it first)", extract: true,
			check: func(t *testing.T, f *fixture, ms *Outcome, res *Result) {
				if len(res.SavedKeys) != 0 || ms.Saved {
					t.Errorf("a key saved by another run is pruned as this run's: %v", res.SavedKeys)
				}
			}},
		{name: "a failed upload warns", setup: func(t *testing.T, f *fixture) { f.store.saveErr = errors.New("save k: upload: 503") },
			build: okBuild, status: SaveFailed, reason: ReasonUploadFailed, note: "not saved: save k: upload: 503", warning: "mount cache: /root/.cache/pip: save k: upload: 503", extract: true},
		{name: "a failed extraction warns", setup: func(t *testing.T, f *fixture) { f.helper.extractErr = errors.New("extract x: exit code 2") },
			build: okBuild, status: SaveFailed, reason: ReasonExtractFailed, note: "not saved: extraction failed", warning: "mount cache: /root/.cache/pip: extract x: exit code 2", extract: true},
		{name: "pruned to the size limit",
			setup: func(t *testing.T, f *fixture) {
				f.helper.extract.PrunedFiles, f.helper.extract.PrunedBytes = 5, 3<<20
			},
			build: okBuild, status: Saved, extract: true,
			check: func(t *testing.T, f *fixture, ms *Outcome, res *Result) {
				if f.log.index("info: Mount cache /root/.cache/pip: pruned 5 least recently used files (3.0 MiB) to stay under 1.0 GiB (mount-cache-max-size for pip)") < 0 {
					t.Errorf("log:\n%s", f.log)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, pipDockerfile, "auto")
			if c.setup != nil {
				c.setup(t, f)
			}
			r := f.restore(t)
			res := r.Save(context.Background(), c.build)
			ms := only(t, res)
			if ms.SaveStatus != c.status || ms.SaveReason != c.reason || (c.note != "" && ms.SaveNote != c.note) {
				t.Errorf("save %s/%s %q, want %s/%s %q", ms.SaveStatus, ms.SaveReason, ms.SaveNote, c.status, c.reason, c.note)
			}
			if ms.Saved != (c.status == Saved) {
				t.Errorf("Saved %v with status %d", ms.Saved, ms.SaveStatus)
			}
			warnings := strings.Join(res.Warnings, "\n")
			if c.warning == "" && len(res.Warnings) != 0 || !strings.Contains(warnings, c.warning) {
				t.Errorf("warnings %q, want %q", res.Warnings, c.warning)
			}
			if got := len(f.helper.extracts) > 0; got != c.extract {
				t.Errorf("extracted %v, want %v", got, c.extract)
			}
			if c.check != nil {
				c.check(t, f, ms, res)
			}
		})
	}
}

// One refused read or write is said once: the other mounts are neither asked nor
// extracted for nothing, and the service's own words are returned for the layer cache.
func TestEngineDeniedOnce(t *testing.T) {
	t.Run("read", func(t *testing.T) {
		f := newFixture(t, twoDockerfile, "all")
		f.store.restoreErr = &cacheservice.StatusError{Op: "GetCacheEntryDownloadURL", StatusCode: 403, Message: "cache read denied: no"}
		res := f.restore(t).Save(context.Background(), Build{Err: errors.New("x")})
		if len(res.Mounts) != 2 || len(f.store.asked) != 1 {
			t.Fatalf("%d mounts, %d lookups; want 2 mounts and one lookup", len(res.Mounts), len(f.store.asked))
		}
		for _, ms := range res.Mounts {
			if ms.Restore != RestoreDenied || ms.Reason != "not restored: the cache service denied reading: cache read denied: no" {
				t.Errorf("%s: %d %q", ms.ID, ms.Restore, ms.Reason)
			}
		}
		if len(res.Warnings) != 1 || res.ReadDenied != "cache read denied: no" {
			t.Errorf("warnings %q, read denied %q", res.Warnings, res.ReadDenied)
		}
	})
	t.Run("write", func(t *testing.T) {
		f := newFixture(t, twoDockerfile, "all")
		f.store.saveErr = &cacheservice.RefusedError{Op: "CreateCacheEntry", Message: "cache write denied: read-only token"}
		res := f.restore(t).Save(context.Background(), okBuild)
		if len(res.Mounts) != 2 || len(f.helper.extracts) != 1 {
			t.Fatalf("%d mounts, %d extractions; want 2 and 1", len(res.Mounts), len(f.helper.extracts))
		}
		note := "not saved: the cache service denied the write: cache write denied: read-only token"
		first, second := res.Mounts[0], res.Mounts[1]
		if first.SaveStatus != SaveFailed || first.SaveReason != ReasonWriteDenied || first.SaveNote != note {
			t.Errorf("first: %d/%d %q", first.SaveStatus, first.SaveReason, first.SaveNote)
		}
		if second.SaveStatus != SaveSkipped || second.SaveReason != ReasonWriteDenied || second.SaveNote != note {
			t.Errorf("second: %d/%d %q", second.SaveStatus, second.SaveReason, second.SaveNote)
		}
		if len(res.Warnings) != 1 || !strings.HasSuffix(res.Warnings[0], note+" (write hint)") || res.WriteDenied != "cache write denied: read-only token" {
			t.Errorf("warnings %q, write denied %q", res.Warnings, res.WriteDenied)
		}
	})
}

// Once the build cannot reach the storage, the next mounts are streamed at once.
func TestEngineStreamsTheRestOnceUnreachable(t *testing.T) {
	f := newFixture(t, twoDockerfile, "all")
	b, _ := os.ReadFile(f.req.Dockerfile)
	found, _ := Discover(b, Options{Platform: testPlatform})
	for _, m := range found {
		f.store.entries = append(f.store.entries, &fakeEntry{key: RestoreKey(m, testPlatform) + "aaa", data: []byte(m.ID)})
	}
	f.helper.sourcesErr = ErrUnreachable
	res := f.restore(t).Save(context.Background(), Build{Err: errors.New("x")})
	if len(f.helper.sources) != 1 || len(f.helper.streamed) != 2 {
		t.Errorf("in-build downloads %d, streams %d; want 1 and 2", len(f.helper.sources), len(f.helper.streamed))
	}
	for _, ms := range res.Mounts {
		if !ms.Injected || ms.Hit != HitPartial {
			t.Errorf("%s: injected %v, hit %s", ms.ID, ms.Injected, ms.Hit)
		}
	}
}

func TestEngineNotCarriedAndUnmatched(t *testing.T) {
	df := "FROM alpine AS seed\nRUN mkdir /s\nFROM alpine\nCOPY --from=seed /s /s\nRUN --mount=type=cache,id=seeded,target=/c,from=seed,source=/s true\n"
	f := newFixture(t, df, "seeded,/nowhere")
	res := f.restore(t).Save(context.Background(), okBuild)
	ms := only(t, res)
	if ms.Restore != RestoreNotCarried || !strings.HasPrefix(ms.Reason, "not carried: it is seeded from") || ms.SaveReason != ReasonNotCarried || ms.SaveNote != "not carried" {
		t.Errorf("%d %q / %d %q", ms.Restore, ms.Reason, ms.SaveReason, ms.SaveNote)
	}
	if f.log.index("notice: Mount cache seeded: not carried: ") < 0 || len(f.store.asked) != 0 || len(f.helper.extracts) != 0 {
		t.Errorf("log:\n%s\nasked %v", f.log, f.store.asked)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], `mount-caches lists "/nowhere", but no RUN --mount=type=cache of the built stages has that id or target`) {
		t.Errorf("warnings %q", res.Warnings)
	}
}

// Nothing in play: no mounts, overall hit none, no phases, nothing read.
func TestEngineNothingInPlay(t *testing.T) {
	for _, c := range []struct{ name, dockerfile, selector, warning string }{
		{"selector none", pipDockerfile, "none", ""},
		{"no cache mount", "FROM alpine\nRUN true\n", "auto", ""},
		{"unparseable Dockerfile", "FROM alpine\nRUN --mount=type=cache,target=/ true\n", "auto", "mount cache: cannot list the Dockerfile's cache mounts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.dockerfile, c.selector)
			r := f.restore(t)
			if r.ExportStart() != nil {
				t.Error("an early save with nothing to save")
			}
			res := r.Save(context.Background(), okBuild)
			if len(res.Mounts) != 0 || len(phasesOf(res)) != 0 || len(f.store.asked) != 0 {
				t.Errorf("mounts %v, phases %v, asked %v", res.Mounts, phasesOf(res), f.store.asked)
			}
			if got := strings.Join(res.Warnings, "\n"); (c.warning == "") != (got == "") || !strings.Contains(got, c.warning) {
				t.Errorf("warnings %q, want %q", got, c.warning)
			}
		})
	}
	t.Run("no Dockerfile", func(t *testing.T) {
		f := newFixture(t, pipDockerfile, "auto")
		f.req.Dockerfile += ".missing"
		res := f.restore(t).Save(context.Background(), okBuild)
		if len(res.Mounts) != 0 || len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], "mount cache: cannot read the Dockerfile: ") {
			t.Errorf("%+v", res)
		}
	})
	t.Run("the daemon's platform", func(t *testing.T) {
		f := newFixture(t, pipDockerfile, "auto")
		f.req.Platform = ""
		f.req.DefaultPlatform = func(context.Context) (string, error) { return "linux/arm64", nil }
		res := f.restore(t).Save(context.Background(), okBuild)
		if ms := only(t, res); !strings.Contains(ms.Key, "-linux-arm64-") {
			t.Errorf("key %s is not the daemon's platform's", ms.Key)
		}
		f = newFixture(t, pipDockerfile, "auto")
		f.req.Platform = ""
		f.req.DefaultPlatform = func(context.Context) (string, error) { return "", errors.New("BuildKit reports no worker platform") }
		res = f.restore(t).Save(context.Background(), okBuild)
		if len(res.Mounts) != 0 || len(res.Warnings) != 1 || res.Warnings[0] != "mount cache: BuildKit reports no worker platform" {
			t.Errorf("%+v", res)
		}
	})
}

// The early save runs while BuildKit exports: its phases say so, its log comes after
// the build's, and what it did is only in the Result Save returns.
func TestEngineEarlySave(t *testing.T) {
	f := newFixture(t, pipDockerfile, "auto")
	r := f.restore(t)
	start := r.ExportStart()
	if start == nil {
		t.Fatal("no early save for a mount to save")
	}
	start()
	start() // the callback may be called once per exporter
	f.log.add("build log")
	res := r.Save(context.Background(), okBuild)
	ms := only(t, res)
	if !ms.Saved || len(f.helper.extracts) != 1 || len(res.SavedKeys) != 1 {
		t.Fatalf("saved %v, %d extractions, keys %v", ms.Saved, len(f.helper.extracts), res.SavedKeys)
	}
	if ph := phasesOf(res); len(ph) != 4 || ph[2].Name != "extract" || ph[2].During != "export" || ph[3].Name != "save" || ph[3].During != "export" {
		t.Errorf("phases %+v", ph)
	}
	group := f.log.index("group: Save mount cache /root/.cache/pip (while BuildKit exports)")
	if group < 0 || group < f.log.index("build log") || f.log.index("saved 11 B as") < group {
		t.Errorf("the early save's log is not after the build's:\n%s", f.log)
	}
	if _, ok := f.helper.progress[len(f.helper.progress)-1].(tapeWriter); !ok {
		t.Errorf("the early save's helper progress goes straight to the log, interleaving with the build's")
	}

	// An exact hit saves nothing: no early save.
	f = newFixture(t, pipDockerfile, "auto")
	f.req.LayerCacheHoldsSteps = true
	f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + hashOf(t, f), data: []byte("old")}}
	if f.restore(t).ExportStart() != nil {
		t.Error("an early save for an exact hit")
	}
}

// A build that never exported saves after the solve, from the caller's goroutine.
func TestEngineSaveWithoutExport(t *testing.T) {
	f := newFixture(t, pipDockerfile, "auto")
	r := f.restore(t)
	if r.ExportStart() == nil {
		t.Fatal("no early save planned")
	}
	res := r.Save(context.Background(), okBuild)
	if ms := only(t, res); !ms.Saved || len(res.SavePhases) != 2 || res.SavePhases[0].During != "" {
		t.Errorf("saved %v, phases %+v", ms.Saved, res.SavePhases)
	}
	if f.log.index("group: Save mount cache /root/.cache/pip") < 0 || f.log.index("while BuildKit exports") >= 0 {
		t.Errorf("log:\n%s", f.log)
	}
}

func TestEnginePipStatsAndHint(t *testing.T) {
	pipLog, err := os.ReadFile(filepath.Join("testdata", "piplogs", "pip23-partial.txt"))
	if err != nil {
		t.Fatal(err)
	}
	step := "[3/3] RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt"
	build := func(cached bool) Build {
		return Build{
			Logs: func(match func(string) bool) string {
				if match(step) && !match("[2/3] COPY requirements.txt .") {
					return string(pipLog)
				}
				return ""
			},
			Steps: []builder.Step{{Name: "[2/3] COPY requirements.txt .", Cached: true}, {Name: step, Cached: cached}},
		}
	}
	f := newFixture(t, pipDockerfile, "auto")
	f.req.LayerCacheHoldsSteps = true
	f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + hashOf(t, f), data: []byte("old")}}
	res := f.restore(t).Save(context.Background(), build(false))
	ms := only(t, res)
	if ms.Pip == nil || ms.Pip.Total != 12 || ms.Pip.Cached != 11 || res.PipTotal != 12 || res.PipCached != 11 {
		t.Errorf("pip %+v, totals %d/%d", ms.Pip, res.PipCached, res.PipTotal)
	}
	if ms.StepCached == nil || *ms.StepCached {
		t.Errorf("step cached %v", ms.StepCached)
	}
	hint := "mount cache /root/.cache/pip: the requirements did not change, but the layer cache missed the step that uses it, so it ran without its cache; it will be fast again once the layer cache of this run is saved"
	if len(res.Hints) != 1 || res.Hints[0] != hint || len(res.Warnings) != 1 || res.Warnings[0] != hint || f.log.index("notice: Mount cache: "+hint) < 0 {
		t.Errorf("hints %q, warnings %q", res.Hints, res.Warnings)
	}

	// The layer cache held the step: no hint.
	f = newFixture(t, pipDockerfile, "auto")
	f.req.LayerCacheHoldsSteps = true
	f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + hashOf(t, f), data: []byte("old")}}
	if res := f.restore(t).Save(context.Background(), build(true)); len(res.Hints) != 0 {
		t.Errorf("hint although the step was cached: %q", res.Hints)
	}
}

// A wrapped io.EOF is not the end of a stream (io.MultiReader and io.Copy compare with
// ==): the download broke, and the injection's failure must say so.
func TestTrackingReaderWrappedEOF(t *testing.T) {
	wrapped := fmt.Errorf("read body: %w", io.EOF)
	tr := &trackingReader{r: io.MultiReader(strings.NewReader("abc"), errReader{wrapped})}
	if _, err := io.ReadAll(tr); !errors.Is(err, io.EOF) {
		t.Fatalf("ReadAll: %v", err)
	}
	if tr.err != wrapped || tr.n != 3 {
		t.Errorf("err %v, n %d; want the wrapped EOF remembered after 3 bytes", tr.err, tr.n)
	}
	tr = &trackingReader{r: strings.NewReader("abc")}
	if _, err := io.ReadAll(tr); err != nil || tr.err != nil || tr.n != 3 {
		t.Errorf("a clean end: %v %v %d", err, tr.err, tr.n)
	}
}

func TestPrewarmStoppedAfterTheBuild(t *testing.T) {
	f := newFixture(t, pipDockerfile, "auto")
	f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("x")}}
	release := make(chan struct{})
	e := NewEngine(WithStore(func() (Store, error) { return f.store, nil }),
		WithHelper(func(string, io.Writer) Helper { return f.helper }), WithLogger(f.log),
		WithPrewarm(func(ctx context.Context, image, platform string) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-release:
				return nil
			}
		}))
	r := e.Restore(context.Background(), f.req)
	r.EndPrewarm(context.Background())
	close(release)
	if f.log.index("info: Base image python:3.12-slim: prewarm stopped after") < 0 {
		t.Errorf("log:\n%s", f.log)
	}
}

// What the early save says (its warnings, the helper's progress) reaches the log after
// the build's own log and the Result only through Save.
func TestEngineEarlySaveWarnsAfterTheBuildLog(t *testing.T) {
	f := newFixture(t, pipDockerfile, "auto")
	f.store.saveErr = errors.New("save k: upload: connection reset")
	r := f.restore(t)
	r.ExportStart()()
	f.log.add("build log")
	res := r.Save(context.Background(), okBuild)
	build := f.log.index("build log")
	warn := f.log.index("warning: Mount cache: /root/.cache/pip: save k: upload: connection reset")
	progress := f.log.index("progress: #1 extract ")
	if warn < build || progress < build {
		t.Errorf("build log at %d, warning at %d, progress at %d:\n%s", build, warn, progress, f.log)
	}
	if len(res.Warnings) != 1 || res.Warnings[0] != "mount cache: /root/.cache/pip: save k: upload: connection reset" {
		t.Errorf("warnings %q", res.Warnings)
	}
	if ms := only(t, res); ms.SaveStatus != SaveFailed || ms.SaveReason != ReasonUploadFailed || len(res.SavedKeys) != 0 {
		t.Errorf("save %d/%d, keys %v", ms.SaveStatus, ms.SaveReason, res.SavedKeys)
	}
}

// The early save's log is written out after the build's, but its groups say how long the
// save took while BuildKit exported, not how long writing the log out took.
func TestEarlySaveLogKeepsTheGroupsDuration(t *testing.T) {
	var tape logTape
	end := tape.Group("Save mount cache pip (while BuildKit exports)")
	time.Sleep(60 * time.Millisecond)
	end()
	log := &fakeLog{}
	tape.replay(log)
	if got := log.String(); !strings.Contains(got, "group: Save mount cache pip") || strings.Contains(got, "endgroup took 0s") || !strings.Contains(got, "endgroup took") {
		t.Errorf("replayed log:\n%s", got)
	}
}

func TestBuildOf(t *testing.T) {
	if b := BuildOf(nil, errors.New("x")); b.Logs != nil || b.Err == nil {
		t.Errorf("no result: %+v", b)
	}
	res := &builder.Result{Steps: builder.StepStats{Steps: []builder.Step{{Name: "RUN x"}}}}
	if b := BuildOf(res, nil); b.Logs == nil || len(b.Steps) != 1 || b.Logs(func(string) bool { return true }) != "" {
		t.Errorf("result: %+v", b)
	}
}

func TestStatusNames(t *testing.T) {
	if RestoreKept.String() != "kept" || RestoreNotCarried.String() != "not-carried" || Saved.String() != "saved" || SaveFailed.String() != "failed" ||
		ReasonUploadFailed.String() != "upload-failed" || ReasonNone.String() != "none" || SaveReason(99).String() != "SaveReason(99)" {
		t.Error("status names out of step with the constants")
	}
}

// phasesOf is the engine's phases in the order they ran: restore, inject, extract, save.
func phasesOf(res *Result) []report.Phase {
	return append(append([]report.Phase{}, res.RestorePhases...), res.SavePhases...)
}

// A mount whose uid comes from the base image's ENV used to fail discovery of the whole
// Dockerfile ("cannot list the Dockerfile's cache mounts: ... parsing \"\""), so no mount
// was carried. Now that one mount is named and skipped; the others are restored.
func TestEngineSkipsAndNamesAMountWithAnUnresolvedVariable(t *testing.T) {
	dt, err := os.ReadFile(filepath.Join("testdata", "dockerfiles", "env-from-base-image.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, string(dt), "auto")
	res := f.restore(t).Save(context.Background(), okBuild)
	for _, w := range res.Warnings {
		t.Errorf("warning: %s", w)
	}
	var restored, skipped []string
	for _, ms := range res.Mounts {
		if ms.Restore == RestoreNotCarried {
			skipped = append(skipped, ms.Reason)
			continue
		}
		restored = append(restored, ms.ID)
	}
	if strings.Join(restored, ",") != "/root/.cache/pip" || len(skipped) != 2 ||
		!strings.Contains(skipped[0], "$APP_UID") || !strings.Contains(skipped[1], "$APP_HOME") {
		t.Errorf("restored %v, skipped %q", restored, skipped)
	}
	if strings.Contains(f.log.String(), `""`) {
		t.Errorf("an empty value in the log:\n%s", f.log)
	}
}

// The exact-hit fast path skips the injection only when the key covers every input of
// the step: here the step reads a URL no key can hash, so an exact hit is injected.
func TestEngineExactHitInjectedWhenTheKeyDoesNotCoverTheStep(t *testing.T) {
	df := "FROM python:3.12-slim\nADD https://example.invalid/constraints.txt /c.txt\nRUN --mount=type=cache,target=/root/.cache/pip pip install -c /c.txt wb-core\n"
	f := newFixture(t, df, "auto")
	f.req.LayerCacheHoldsSteps = true
	f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + hashOf(t, f), data: []byte("old")}}
	r := f.restore(t)
	r.EndPrewarm(context.Background())
	ms := only(t, r.Save(context.Background(), Build{Err: errors.New("stop before saving")}))
	if ms.Hit != HitExact || !ms.Injected || !strings.Contains(ms.Reason, "does not cover") || !strings.Contains(ms.Reason, "line 2: ADD https://example.invalid/constraints.txt") {
		t.Errorf("hit %s injected %v reason %q", ms.Hit, ms.Injected, ms.Reason)
	}
}

// The build may start beside the injection only when every step it feeds reads the
// context, which the build holds until Inject returns.
func TestTheBuildStartsBesideTheInjectionOnlyWhenItsStepsReadTheContext(t *testing.T) {
	for _, tc := range []struct {
		name, dockerfile string
		found, gitCtx    bool
		want             bool
	}{
		{name: "pip step after COPY requirements.txt", dockerfile: pipDockerfile, found: true, want: true},
		{name: "nothing to inject: the build starts after the lookups", dockerfile: pipDockerfile},
		{name: "a RUN that reads no context file", dockerfile: "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install wb-core\n", found: true},
		{name: "a second RUN on the mount before the COPY", dockerfile: "FROM python:3.12-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install wb-core\nCOPY requirements.txt .\nRUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n", found: true},
		{name: "a Git context, fetched by BuildKit", dockerfile: pipDockerfile, found: true, gitCtx: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.dockerfile, "auto")
			f.req.ContextOnlyHashFiles = tc.gitCtx
			if tc.found {
				f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "0123456789abcdef", data: []byte("old")}}
			}
			r := f.engine().Lookup(context.Background(), f.req)
			if got := r.BuildMayStartBeside(); got != tc.want {
				t.Errorf("BuildMayStartBeside = %v, want %v", got, tc.want)
			}
			if len(f.helper.sources) != 0 {
				t.Errorf("Lookup injected; only Inject may")
			}
			r.Inject(context.Background())
			if tc.found && !tc.gitCtx && len(f.helper.sources) != 1 {
				t.Errorf("Inject injected %d entries, want the one found", len(f.helper.sources))
			}
		})
	}
}
