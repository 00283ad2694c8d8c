package run

import (
	"encoding/json"
	"slices"
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
		Phases: []mountcache.Phase{{Name: "restore", Duration: time.Second}, {Name: "inject"},
			{Name: "extract", During: "export"}, {Name: "save", During: "export"}},
		Warnings:  []string{"mount cache: w"},
		Hints:     []string{"h"},
		SavedKeys: []string{"k2"},
		PipTotal:  3, PipCached: 3,
	}
	r := &runner{}
	r.mountResults(res, report.Phase{Name: "build"})
	var names []string
	for _, p := range r.phases {
		names = append(names, p.Name+"/"+p.During)
	}
	if want := []string{"restore/", "inject/", "build/", "extract/export", "save/export"}; !slices.Equal(names, want) {
		t.Errorf("phases %v, want %v", names, want)
	}
	o := r.out
	if o.MountCacheHit != "partial" || o.MountCacheRestoredBytes != 10 || o.MountCacheSavedBytes != 7 || o.PipPackagesTotal != 3 || o.PipPackagesCached != 3 {
		t.Errorf("outputs %+v", o)
	}
	if !slices.Equal(o.CacheWarnings, res.Warnings) || !slices.Equal(r.summary.Hints, res.Hints) || !slices.Equal(r.savedMountKeys, []string{"k2"}) {
		t.Errorf("warnings %q hints %q saved %q", o.CacheWarnings, r.summary.Hints, r.savedMountKeys)
	}
	if len(r.summary.Mounts) != 2 || r.summary.Mounts[0].PipTotal != 3 || r.summary.Mounts[1].Note != "x" || !r.summary.Mounts[1].Saved {
		t.Errorf("summary mounts %+v", r.summary.Mounts)
	}
	b, err := json.Marshal(o.MountCacheReport)
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got[1]["hit"] != "miss" || got[1]["savedKey"] != "k2" || got[0]["pip"] == nil || len(got[0]) != 10 {
		t.Errorf("mount-cache-report %s", b)
	}

	// No mount in play: hit none, no report, the build phase alone.
	r = &runner{}
	r.mountResults(&mountcache.Result{}, report.Phase{Name: "build"})
	if r.out.MountCacheHit != "none" || r.out.MountCacheReport != nil || len(r.phases) != 1 {
		t.Errorf("%+v %v", r.out, r.phases)
	}
}
