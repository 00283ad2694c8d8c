package run

import (
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/mountcache"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// mountResults is the one place the engine's Result reaches outputs and summary: the
// build phase sits between the restore and the save phases, and the report keeps its
// field names.
func TestMountResults(t *testing.T) {
	res := &mountcache.Result{
		Mounts: []*mountcache.Outcome{
			{ID: "pip", Key: "k1", Hit: mountcache.HitExact, RestoredBytes: 10, Pip: &mountcache.PipStats{Total: 3, Cached: 3}},
			{ID: "npm", Key: "k2", Hit: mountcache.HitMiss, Saved: true, SavedBytes: 7, SavedKey: "k2", SaveNote: "x"},
		},
		RestorePhases: []report.Phase{{Name: "restore", Duration: time.Second}, {Name: "inject"}},
		SavePhases:    []report.Phase{{Name: "extract", During: "export"}, {Name: "save", During: "export"}},
		Warnings:      []string{"mount cache: w"},
		Hints:         []string{"h"},
		SavedKeys:     []string{"k2"},
		PipTotal:      3, PipCached: 3,
	}
	r := &runner{warn: report.NewWarnings(report.New(io.Discard, func(string) string { return "" }))}
	r.mountResults(res, report.Phase{Name: "build"}, false)
	var names []string
	for _, p := range r.phases {
		names = append(names, p.Name+"/"+p.During)
	}
	if want := []string{"restore/", "inject/", "build/", "extract/export", "save/export"}; !slices.Equal(names, want) {
		t.Errorf("phases %v, want %v", names, want)
	}
	beside := &runner{warn: report.NewWarnings(report.New(io.Discard, func(string) string { return "" }))}
	beside.mountResults(res, report.Phase{Name: "build"}, true)
	if p := beside.phases[1]; p.Name != "inject" || p.During != "build" {
		t.Errorf("an injection the build started beside is %s/%s, want inject/build (not added to the wall time)", p.Name, p.During)
	}
	out := outputsOf(r.res)
	if out["mount-cache-hit"] != "partial" || out["mount-cache-restored-bytes"] != "10" || out["mount-cache-saved-bytes"] != "7" || out["pip-packages-total"] != "3" || out["pip-packages-cached"] != "3" {
		t.Errorf("outputs %v", out)
	}
	if !slices.Equal(r.warn.Entries(), res.Warnings) || !slices.Equal(r.res.Hints, res.Hints) || !slices.Equal(r.savedMountKeys, []string{"k2"}) {
		t.Errorf("warnings %q hints %q saved %q", r.warn.Entries(), r.res.Hints, r.savedMountKeys)
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(out["mount-cache-report"]), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1]["hit"] != "miss" || got[1]["savedKey"] != "k2" || got[1]["saveNote"] != "x" || got[1]["saved"] != true || got[0]["pip"] == nil || len(got[0]) != 10 {
		t.Errorf("mount-cache-report %s", out["mount-cache-report"])
	}
	if sum := r.res.Summary(); !strings.Contains(sum, "| `pip` | exact |") || !strings.Contains(sum, "| 3/3 |") {
		t.Errorf("summary:\n%s", sum)
	}

	// No mount in play: hit none, an empty report, the build phase alone.
	r = &runner{warn: report.NewWarnings(report.New(io.Discard, func(string) string { return "" }))}
	r.mountResults(&mountcache.Result{}, report.Phase{Name: "build"}, false)
	if out := outputsOf(r.res); out["mount-cache-hit"] != "none" || out["mount-cache-report"] != "[]" || len(r.phases) != 1 {
		t.Errorf("%v %v", out, r.phases)
	}
}

func outputsOf(res report.Result) map[string]string {
	m := map[string]string{}
	for _, o := range res.Outputs() {
		m[o.Name] = o.Value
	}
	return m
}
