package run

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/layercache"
)

// ACTIONS_CACHE_MODE=read on a push to the default branch plans imports and no export,
// and says the mode decided.
func TestReadCacheModeOnADefaultBranchPushPlansNoExport(t *testing.T) {
	payload := t.TempDir() + "/event.json"
	writeFile(t, payload, `{"repository":{"full_name":"octo-org/warm-app","default_branch":"main"}}`)
	getenv := planEnv(t, map[string]string{
		"GITHUB_EVENT_PATH": payload, "ACTIONS_CACHE_MODE": "read",
		inputs.InputEnv("cache-backend"): "local", inputs.InputEnv("cache-dir"): t.TempDir(),
	})
	p := mustPlan(t, getenv)
	if p.Decision.Save || len(p.Request.CacheExports) != 0 {
		t.Errorf("read mode: save %v, exports %+v", p.Decision.Save, p.Request.CacheExports)
	}
	if len(p.Request.CacheImports) == 0 {
		t.Error("read mode must still import the layer cache")
	}
	if !strings.Contains(p.Decision.Reason, "ACTIONS_CACHE_MODE=read (read-only cache access)") {
		t.Errorf("reason %q does not name the cache mode", p.Decision.Reason)
	}
}

// cache-save-reason follows what happened: never "saved" when nothing was.
func TestSaveReasonFollowsTheResult(t *testing.T) {
	payload := t.TempDir() + "/event.json"
	writeFile(t, payload, `{"repository":{"full_name":"octo-org/warm-app","default_branch":"main"}}`)
	getenv := planEnv(t, map[string]string{"GITHUB_EVENT_PATH": payload,
		inputs.InputEnv("cache-backend"): "local", inputs.InputEnv("cache-dir"): t.TempDir()})
	policy := mustPlan(t, getenv).Decision.Reason
	if !strings.HasPrefix(policy, "saved: push to main") {
		t.Fatalf("policy reason %q", policy)
	}
	after := func(mutate func(r *runner)) *runner {
		r := &runner{plan: mustPlan(t, getenv)}
		mutate(r)
		return r
	}
	for _, tc := range []struct {
		name   string
		r      *runner
		err    error
		prefix string
		has    string
	}{
		{"exported", after(func(r *runner) { r.res.CacheSaved = true }), nil, policy, ""},
		{"export failed", after(func(r *runner) {
			r.layerNotSaved = "the layer cache export failed: exporting cache to local: write denied"
		}), nil, "not saved: the layer cache export failed", "push to main"},
		{"build failed", after(func(r *runner) {}), errors.New("boom"), "not saved: the build failed", ""},
		{"only the mount caches", after(func(r *runner) {
			r.layerNotSaved = "the layer cache export failed: x"
			r.savedMountKeys = []string{"k"}
		}), nil, "saved: mount caches only; layer cache not saved", ""},
		{"no layer cache backend", after(func(r *runner) {
			r.plan.LayerCache = layercache.Plan{Backend: layercache.BackendNone, BackendReason: "none: cache-backend is none"}
		}), nil, "not saved: no layer cache is written (none: cache-backend is none)", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.resultSaveReason(tc.err)
			if !strings.HasPrefix(got, tc.prefix) || !strings.Contains(got, tc.has) {
				t.Errorf("reason %q, want prefix %q containing %q", got, tc.prefix, tc.has)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// BuildKit's gha exporter keeps only the twirp code of a refusal; the warning gets
// GitHub's message when warmbuild's own requests received one.
func TestLayerExportRefusalGetsGitHubsMessage(t *testing.T) {
	msg := "cache write denied: token has no writable scopes"
	got := layerDeniedNote("writing layer: failed to reserve cache", "", msg)
	if !strings.Contains(got, msg) {
		t.Errorf("note %q lacks GitHub's message", got)
	}
	read := "cache read denied: token has no readable scopes"
	if got := layerDeniedNote("exporting to GitHub Actions Cache: permission_denied", read, msg); !strings.Contains(got, read) {
		t.Errorf("a 403 is the read denial: note %q", got)
	}
	if got := layerDeniedNote("exporting to GitHub Actions Cache: permission_denied", "", ""); !strings.Contains(got, "ACTIONS_CACHE_MODE") {
		t.Errorf("without a message the note %q must still say what refused", got)
	}
	if got := layerDeniedNote("exporting cache to registry: connection refused", "", msg); got != "" {
		t.Errorf("an unrelated export error got a note: %q", got)
	}
	if got := layerDeniedNote("writing layer: failed to reserve cache: "+msg, "", msg); got != "" {
		t.Errorf("an error that has the message already got it twice: %q", got)
	}
}
