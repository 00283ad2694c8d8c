package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
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

// The new fields are public too: README's mount-cache-report table has a row for every
// field a fully filled entry has, in order, and their inner fields are as documented.
func TestMountCacheReportREADMEListsEveryField(t *testing.T) {
	cached, quota := true, int64(5)
	e := MountEntry{ID: "i", CacheID: "c", Target: "t", Key: "k", MatchedKey: "m", Hit: HitPartial, Injected: true, Reason: "r",
		RestoredBytes: 1, Saved: true, SavedBytes: 2, SaveNote: "n", SavedKey: "s", DeltaOn: "d", StepCached: &cached,
		Pip: &PipCounts{Total: 3, Cached: 2}, Ecosystem: "pip", Packages: &PackageCounts{Total: 3, Cached: 2},
		Platform: "all", Pruned: &PruneCounts{Files: 1, Bytes: 2, MaxBytes: 3}, QuotaBytes: &quota}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	got := keysInOrder(t, b)
	if tail := got[len(got)-3:]; !slices.Equal(tail, []string{"platform", "pruned", "quotaBytes"}) {
		t.Errorf("fields %q end with %q", got, tail)
	}
	var inner struct {
		Pruned json.RawMessage `json:"pruned"`
	}
	_ = json.Unmarshal(b, &inner)
	if k := keysInOrder(t, inner.Pruned); !slices.Equal(k, []string{"files", "bytes", "maxBytes"}) {
		t.Errorf("pruned fields %q", k)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "### The `mount-cache-report` output")
	if !ok {
		t.Fatal("README has no mount-cache-report section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows []string
	for _, line := range strings.Split(section, "\n") {
		if f, ok := strings.CutPrefix(line, "| `"); ok {
			rows = append(rows, f[:strings.Index(f, "`")])
		}
	}
	if !slices.Equal(rows, got) {
		t.Errorf("README documents %q\nthe output has   %q", rows, got)
	}
}
