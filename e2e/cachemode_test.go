//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
)

// cacheModeEnv is one test's v2 cache service, used by both caches as on github.com: the
// gha layer cache (BuildKit's own client) and the pip mount cache (warmbuild's).
type cacheModeEnv struct {
	srv   *cachetest.V2Server
	token string
}

func newCacheModeEnv(t *testing.T) *cacheModeEnv {
	needStack(t)
	token := cachetest.RuntimeToken("refs/heads/main")
	return &cacheModeEnv{srv: cachetest.StartV2(t, cachetest.V2Options{Token: token, Scopes: []string{"refs/heads/main"}}), token: token}
}

// push runs the action as a push to main on a fresh builder, with extra environment.
func (e *cacheModeEnv) push(t *testing.T, dir string, extraEnv map[string]string) Result {
	t.Helper()
	env := map[string]string{"ACTIONS_RESULTS_URL": e.srv.URL(), "ACTIONS_RUNTIME_TOKEN": e.token, "GITHUB_SERVER_URL": "https://github.com"}
	for k, v := range pushMain {
		env[k] = v
	}
	for k, v := range extraEnv {
		env[k] = v
	}
	res := runAction(t, Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: env,
		Inputs: map[string]string{"endpoint": freshBuilder(t).Endpoint}})
	mustExit0(t, res)
	if res.Outputs["cache-backend"] != "gha" {
		t.Fatalf("cache-backend %q, want gha\n%s", res.Outputs["cache-backend"], tail(res.Log, 40))
	}
	return res
}

func cacheWarnings(t *testing.T, r Result) []string {
	t.Helper()
	var ws []string
	if s := r.Outputs["cache-warnings"]; s != "" {
		if err := json.Unmarshal([]byte(s), &ws); err != nil {
			t.Fatalf("cache-warnings %q: %v", s, err)
		}
	}
	return ws
}

// mountLookups counts the restore lookups of mount cache keys among calls.
func mountLookups(calls []cachetest.Call) int {
	n := 0
	for _, c := range calls {
		if c.Op == cachetest.GetCacheEntryDownloadURL && strings.HasPrefix(c.Key, mountcache.KeyPrefix) {
			n++
		}
	}
	return n
}

// Issue 13, "done when": ACTIONS_CACHE_MODE=read on a default-branch push saves nothing —
// no layer cache export, no mount cache save — and says why.
func TestReadCacheModeOnADefaultBranchPushSavesNothingAndSaysWhy(t *testing.T) {
	e := newCacheModeEnv(t)
	r := e.push(t, appContext(t), map[string]string{"ACTIONS_CACHE_MODE": "read"})

	if n := len(e.srv.CallsTo(cachetest.CreateCacheEntry)); n != 0 || len(e.srv.Entries()) != 0 {
		t.Errorf("read mode wrote to the cache service: %d CreateCacheEntry calls, entries %+v", n, e.srv.Entries())
	}
	if r.Outputs["cache-saved"] != "false" {
		t.Errorf("cache-saved %q, want false", r.Outputs["cache-saved"])
	}
	reason := r.Outputs["cache-save-reason"]
	t.Logf("cache-save-reason: %s", reason)
	if !strings.HasPrefix(reason, "skipped: ACTIONS_CACHE_MODE=read (read-only cache access)") {
		t.Errorf("cache-save-reason %q must say the cache mode decided", reason)
	}
	if !strings.Contains(r.Log, "Cache mode: ACTIONS_CACHE_MODE=read (read-only cache access): restores only, saves nothing") {
		t.Errorf("the log does not say what the cache mode allows\n%s", tail(r.Log, 60))
	}
	if !strings.Contains(r.Summary, "| Cache mode | ACTIONS_CACHE_MODE=read") || !strings.Contains(r.Summary, "ACTIONS_CACHE_MODE=read (read-only cache access) — otherwise push to main") {
		t.Errorf("the summary does not say the cache mode decided:\n%s", r.Summary)
	}
	if strings.Contains(r.Log, ExtractCommandInLog) || strings.Contains(r.Log, "exporting cache to GitHub Actions Cache") {
		t.Errorf("read mode extracted a mount cache or exported the layer cache\n%s", tail(r.Log, 60))
	}
	reps := mountReports(t, r)
	if len(reps) != 1 || reps[0].Saved || !strings.Contains(reps[0].SaveNote, "ACTIONS_CACHE_MODE=read") {
		t.Errorf("mount cache report %+v, want not saved because of the cache mode", reps)
	}
	if mountLookups(e.srv.Calls()) == 0 {
		t.Error("read mode must still look the mount cache up")
	}
}

// write-only saves without restoring: neither the layer cache nor the mount cache of an
// earlier push is read, on a fresh builder.
func TestWriteOnlyCacheModeRestoresNothing(t *testing.T) {
	e := newCacheModeEnv(t)
	dir := appContext(t)
	first := e.push(t, dir, nil)
	if first.Outputs["cache-saved"] != "true" || len(e.srv.Entries()) == 0 {
		t.Fatalf("the first push must save: cache-saved %q (%s)", first.Outputs["cache-saved"], first.Outputs["cache-save-reason"])
	}
	before := len(e.srv.Calls())

	r := e.push(t, dir, map[string]string{"ACTIONS_CACHE_MODE": "write-only"})
	if n := mountLookups(e.srv.Calls()[before:]); n != 0 {
		t.Errorf("write-only looked the mount cache up %d times", n)
	}
	if r.Outputs["layer-cache-steps-cached"] != "0" {
		t.Errorf("write-only imported the layer cache: %s of %s steps cached\n%s", r.Outputs["layer-cache-steps-cached"], r.Outputs["layer-cache-steps-total"], tail(r.Log, 60))
	}
	if r.Outputs["mount-cache-hit"] != "miss" || r.Outputs["mount-cache-restored-bytes"] != "0" {
		t.Errorf("write-only restored a mount cache: hit %q, %s bytes", r.Outputs["mount-cache-hit"], r.Outputs["mount-cache-restored-bytes"])
	}
	reps := mountReports(t, r)
	if len(reps) != 1 || !strings.Contains(reps[0].Reason, "not restored: ACTIONS_CACHE_MODE=write-only") {
		t.Errorf("mount cache report %+v, want the cache mode as the reason", reps)
	}
	if !strings.Contains(r.Log, "Cache mode: ACTIONS_CACHE_MODE=write-only") {
		t.Errorf("the log does not say what the cache mode allows\n%s", tail(r.Log, 60))
	}
}

// Issue 13, "done when": a denied save shows GitHub's message. A token that may neither
// read nor write (GitHub's answers to a read-only token: a twirp 403 "cache read denied:"
// on lookups, ok: false "cache write denied:" on reservations) gives a miss with a warning
// and a warning with GitHub's message, and the build passes.
func TestDeniedReadsAndSavesWarnWithGitHubsMessageAndTheBuildPasses(t *testing.T) {
	e := newCacheModeEnv(t)
	e.srv.Inject(cachetest.Fault{Op: cachetest.GetCacheEntryDownloadURL, Deny: cachetest.ReadDenied, Times: 100000})
	e.srv.Inject(cachetest.Fault{Op: cachetest.CreateCacheEntry, Refuse: cachetest.WriteDenied, Times: 100000})
	r := e.push(t, appContext(t), nil)

	if r.Outputs["cache-saved"] != "false" || len(e.srv.Entries()) != 0 {
		t.Errorf("cache-saved %q, entries %+v", r.Outputs["cache-saved"], e.srv.Entries())
	}
	t.Logf("cache-save-reason: %s\ncache-warnings: %s", r.Outputs["cache-save-reason"], r.Outputs["cache-warnings"])
	var readWarn, writeWarn, layerWarn int
	for _, w := range cacheWarnings(t, r) {
		if strings.HasPrefix(w, "mount cache: ") && strings.Contains(w, cachetest.ReadDenied) {
			readWarn++
		}
		if strings.HasPrefix(w, "mount cache: ") && strings.Contains(w, cachetest.WriteDenied) {
			writeWarn++
		}
		if !strings.HasPrefix(w, "mount cache: ") && (strings.Contains(w, cachetest.WriteDenied) || strings.Contains(w, cachetest.ReadDenied)) {
			layerWarn++
		}
		if strings.Contains(w, "another job") || strings.Contains(w, "saved this key first") {
			t.Errorf("a refusal reported as a race: %q", w)
		}
	}
	if readWarn != 1 || writeWarn != 1 {
		t.Errorf("want one mount cache warning with GitHub's read denial and one with its write denial, got %d and %d: %q", readWarn, writeWarn, cacheWarnings(t, r))
	}
	if layerWarn == 0 {
		t.Errorf("the layer cache's warning does not carry GitHub's message: %q", cacheWarnings(t, r))
	}
	for _, msg := range []string{cachetest.ReadDenied, cachetest.WriteDenied} {
		if !strings.Contains(r.Log, "::warning title=Mount cache::") || !strings.Contains(r.Log, msg) {
			t.Errorf("the log has no warning with %q\n%s", msg, tail(r.Log, 60))
		}
	}
	reps := mountReports(t, r)
	if len(reps) != 1 || reps[0].Saved || !strings.Contains(reps[0].SaveNote, cachetest.WriteDenied) || reps[0].Hit != "miss" {
		t.Errorf("mount cache report %+v", reps)
	}
	if reason := r.Outputs["cache-save-reason"]; !strings.HasPrefix(reason, "not saved: ") {
		t.Errorf("cache-save-reason %q says saved though nothing was", reason)
	}
	if strings.Contains(r.Summary, "| Save | saved:") {
		t.Errorf("the summary says saved though nothing was:\n%s", r.Summary)
	}
}
