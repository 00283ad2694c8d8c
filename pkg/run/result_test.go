package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// mount-cache-report keeps the JSON it had when it was the engine's outcomes themselves:
// mountEntry carries every field.
func TestMountReportEntryIsTheOutcomesJSON(t *testing.T) {
	cached, quota := false, int64(110)
	ms := &mountcache.Outcome{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: "k2", MatchedKey: "k1",
		Hit: mountcache.HitPartial, Injected: true, Reason: "r", RestoredBytes: 100, Saved: true, SavedBytes: 10, SaveNote: "delta of 2 files on k1",
		SavedKey: "k2+k1", DeltaOn: "k1", StepCached: &cached,
		Pip:       &mountcache.PipStats{Total: 5, Cached: 3, Downloaded: []string{"requests"}, Built: []string{"mypkg"}},
		Ecosystem: "pip",
		Platform:  mountcache.PlatformAll, Pruned: &mountcache.Pruned{Files: 4, Bytes: 4096, MaxBytes: 1 << 30}, QuotaBytes: &quota}
	before, _ := json.Marshal([]*mountcache.Outcome{ms})
	after, _ := json.Marshal([]report.MountEntry{mountEntry(ms)})
	if string(before) != string(after) {
		t.Errorf("mount-cache-report changed:\nwas %s\nnow %s", before, after)
	}
}

// finish writes the outputs and the summary from the one Result, warnings raised on the
// early save's goroutine included; a failed build saves nothing and says why.
func TestFinishWritesOutputsAndSummaryFromTheResult(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status string
		saved  string
		reason string
	}{
		{"built", nil, "✅ built", "true", "saved: push to main"},
		{"failed", errors.New("process \"/bin/sh -c pip install\" did not complete successfully: exit code: 1"), "❌ failed", "false", "not saved: the build failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := t.TempDir()
			outFile, sumFile := filepath.Join(files, "output"), filepath.Join(files, "summary")
			payload := filepath.Join(files, "event.json")
			writeFile(t, payload, `{"repository":{"full_name":"octo-org/warm-app","default_branch":"main"}}`)
			getenv := planEnv(t, map[string]string{
				"GITHUB_EVENT_PATH":              payload,
				inputs.InputEnv("cache-backend"): "local", inputs.InputEnv("cache-dir"): t.TempDir(),
				inputs.InputEnv("tags"): "127.0.0.1:5000/app:main",
				"GITHUB_OUTPUT":         outFile, "GITHUB_STEP_SUMMARY": sumFile,
			})
			var log bytes.Buffer
			rep := report.New(&log, getenv)
			r := &runner{env: Env{Getenv: getenv, Stdout: &log}, rep: rep, warn: report.NewWarnings(rep), plan: mustPlan(t, getenv)}
			r.describePlan()
			// What build() and the mount caches would have recorded.
			r.res.StepsCached, r.res.StepsTotal, r.res.CacheSaved = 3, 4, true
			r.res.Mounts = []report.MountEntry{{ID: "/root/.cache/pip", Key: "k", Hit: report.HitMiss, Saved: true, SavedBytes: 2048}}
			var early bytes.Buffer
			done := make(chan struct{})
			go func() {
				defer close(done)
				r.warn.Via(report.New(&early, func(string) string { return "" })).Mount("/root/.cache/pip: save failed: 429")
			}()
			<-done
			r.finish(tc.err)

			outs, err := report.ParseOutputsFile(outFile)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range r.res.Outputs() {
				if outs[o.Name] != o.Value {
					t.Errorf("output %s = %q, the result says %q", o.Name, outs[o.Name], o.Value)
				}
			}
			if outs["cache-saved"] != tc.saved || !strings.HasPrefix(outs["cache-save-reason"], tc.reason) {
				t.Errorf("cache-saved %s, cache-save-reason %q; want %s, %q…", outs["cache-saved"], outs["cache-save-reason"], tc.saved, tc.reason)
			}
			if outs["cache-warnings"] != `["mount cache: /root/.cache/pip: save failed: 429"]` || outs["mount-cache-hit"] != "miss" || outs["mount-cache-saved-bytes"] != "2048" {
				t.Errorf("cache-warnings %s, mount-cache-hit %s, mount-cache-saved-bytes %s", outs["cache-warnings"], outs["mount-cache-hit"], outs["mount-cache-saved-bytes"])
			}
			sum, _ := os.ReadFile(sumFile)
			if !strings.Contains(string(sum), r.res.Summary()) || !strings.Contains(string(sum), "`127.0.0.1:5000/app:main` "+tc.status) {
				t.Errorf("summary:\n%s\nwant the result's:\n%s", sum, r.res.Summary())
			}
		})
	}
}
