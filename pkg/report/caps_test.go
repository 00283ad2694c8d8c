package report

import (
	"strings"
	"testing"
)

// caps (issue 18): the mount cache table says what each mount takes of the repository's
// 10 GB, sums it by ecosystem ("pip 310.0 MiB + npm 45.0 MiB"), and the cap a pruned save
// was held to.
func TestSummarySaysWhatEachEcosystemCosts(t *testing.T) {
	r := Result{Mounts: []MountEntry{
		{ID: "/root/.cache/pip", Hit: HitExact, Ecosystem: "pip", Platform: "linux/amd64", RestoredBytes: 310 << 20, SaveNote: "unchanged", QuotaBytes: bytesOf(310 << 20)},
		{ID: "/root/.npm", Hit: HitMiss, Ecosystem: "npm", Platform: "linux/amd64", Saved: true, SavedBytes: 45 << 20, QuotaBytes: bytesOf(45 << 20),
			Pruned: &PruneCounts{Files: 3, Bytes: 1 << 20, MaxBytes: 256 << 20}},
		{ID: "/cache", Hit: HitMiss, Platform: "linux/amd64", Saved: true, SavedBytes: 1 << 20, QuotaBytes: bytesOf(1 << 20)},
	}, RepoCacheUsageBytes: 3 << 30, RepoCacheUsageKnown: true}
	s := r.Summary()
	for _, want := range []string{
		"| Mount cache | Hit | Restored | Saved | Packages cached | In quota |",
		"| `/root/.cache/pip` (pip) | exact | 310.0 MiB | unchanged | – | 310.0 MiB |",
		"| `/root/.npm` (npm) | miss | 0 B | 45.0 MiB (pruned 1.0 MiB to the 256.0 MiB cap) | – | 45.0 MiB |",
		"| total | | 310.0 MiB | 46.0 MiB | | 356.0 MiB |",
		"Mount caches in the repository's Actions cache: pip 310.0 MiB + npm 45.0 MiB + `/cache` 1.0 MiB of its 10 GB, which the layer cache shares (all its caches: 3.0 GiB).",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
	// A single-platform build does not repeat its platform on every row.
	if strings.Contains(s, "linux/amd64") {
		t.Errorf("single-platform summary names the platform:\n%s", s)
	}

	// A size the storage did not give makes the total a lower bound.
	r.Mounts[0].QuotaBytes = nil
	if s := r.Summary(); !strings.Contains(s, "| total | | 310.0 MiB | 46.0 MiB | | at least 46.0 MiB |") {
		t.Errorf("summary with an unknown size:\n%s", s)
	}
}

// In a multi-platform build each row says whose directory it is.
func TestSummaryNamesEachMountsPlatformInAMultiPlatformBuild(t *testing.T) {
	r := Result{Mounts: []MountEntry{
		{ID: "/root/.cache/pip", Hit: HitMiss, Ecosystem: "pip", Platform: "all"},
		{ID: "go-arm64", Hit: HitMiss, Ecosystem: "go", Platform: "linux/arm64"},
		{ID: "x", Hit: HitMiss, Platform: "linux/amd64,linux/arm64"},
	}}
	s := r.Summary()
	for _, want := range []string{"| `/root/.cache/pip` (pip, all platforms) |", "| `go-arm64` (go, linux/arm64) |", "| `x` (linux/amd64,linux/arm64) |"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary lacks %q:\n%s", want, s)
		}
	}
}
