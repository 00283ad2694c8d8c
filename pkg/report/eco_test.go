package report

import (
	"strings"
	"testing"
)

func TestSummaryNamesEachMountsEcosystemAndCounts(t *testing.T) {
	r := Result{Mounts: []MountEntry{
		{ID: "/root/.npm", Hit: HitPartial, Ecosystem: "npm", RestoredBytes: 2 << 20, Saved: true, SavedBytes: 3 << 20, Packages: &PackageCounts{Total: 3, Cached: 2}},
		{ID: "/root/.cache/pip", Hit: HitExact, Ecosystem: "pip", Pip: &PipCounts{Total: 12, Cached: 11}, Packages: &PackageCounts{Total: 12, Cached: 11}},
		{ID: "/cache", Hit: HitMiss},
	}}
	s := r.Summary()
	for _, want := range []string{
		"| Mount cache | Hit | Restored | Saved | Packages cached | In quota |",
		"| `/root/.npm` (npm) | partial | 2.0 MiB | 3.0 MiB | 2/3 |",
		"| `/root/.cache/pip` (pip) | exact |",
		"| 11/12 |",
		"| `/cache` | miss |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}
