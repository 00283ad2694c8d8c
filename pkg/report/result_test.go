package report

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"
)

// mount-cache-hit is the worst of the mounts, none without one.
func TestMountCacheHitIsTheWorstOfTheMounts(t *testing.T) {
	for _, tc := range []struct {
		hits []string
		want string
	}{
		{nil, "none"},
		{[]string{"exact"}, "exact"},
		{[]string{"exact", "exact"}, "exact"},
		{[]string{"miss", "miss"}, "miss"},
		{[]string{"exact", "miss"}, "partial"},
		{[]string{"partial"}, "partial"},
		{[]string{"miss", "partial"}, "partial"},
	} {
		var r Result
		for _, h := range tc.hits {
			r.Mounts = append(r.Mounts, MountEntry{Hit: h})
		}
		if got := r.MountCacheHit(); got != tc.want {
			t.Errorf("hits %q: mount-cache-hit %q, want %q", tc.hits, got, tc.want)
		}
	}
}

// The JSON field names of mount-cache-report are public (README documents them): a
// fully filled entry has exactly these, in this order.
func TestMountCacheReportFieldNamesArePublic(t *testing.T) {
	cached := true
	e := MountEntry{ID: "i", CacheID: "c", Target: "t", Key: "k", MatchedKey: "m", Hit: HitPartial, Injected: true, Reason: "r",
		RestoredBytes: 1, Saved: true, SavedBytes: 2, SaveNote: "n", SavedKey: "s", DeltaOn: "d", StepCached: &cached,
		Pip: &PipCounts{Total: 3, Cached: 2, Downloaded: []string{"a"}, Built: []string{"b"}}}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"id", "cacheId", "target", "key", "matchedKey", "hit", "injected", "reason", "restoredBytes", "saved", "savedBytes", "saveNote", "savedKey", "deltaOn", "stepCached", "pip"}
	if got := keysInOrder(t, b); !slices.Equal(got, want) {
		t.Errorf("fields %q\nwant   %q", got, want)
	}
	var pip struct {
		Pip json.RawMessage `json:"pip"`
	}
	_ = json.Unmarshal(b, &pip)
	if got := keysInOrder(t, pip.Pip); !slices.Equal(got, []string{"total", "cached", "downloaded", "built"}) {
		t.Errorf("pip fields %q", got)
	}
}

func keysInOrder(t *testing.T, obj []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil { // {
		t.Fatal(err)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// A run that made a plan and stopped before the build (the builder could not be reached)
// still writes every output with its documented default.
func TestAnEmptyResultHasTheDocumentedDefaults(t *testing.T) {
	got := map[string]string{}
	for _, o := range (Result{Backend: "gha"}).Outputs() {
		got[o.Name] = o.Value
	}
	for name, want := range map[string]string{
		"metadata": "{}", "cache-warnings": "[]", "mount-cache-report": "[]", "mount-cache-hit": "none",
		"layer-cache-hit-ratio": "0.00", "pip-cache-hit-ratio": "0.00", "build-duration-seconds": "0.00",
		"mount-cache-restored-bytes": "0", "cache-saved": "false", "repo-cache-usage-bytes": "", "cache-backend": "gha",
	} {
		if got[name] != want {
			t.Errorf("%s = %q, want %q", name, got[name], want)
		}
	}
}

// The mount byte outputs are the sums over the mounts.
func TestMountBytesAreSummedOverTheMounts(t *testing.T) {
	r := Result{Mounts: []MountEntry{{RestoredBytes: 10, SavedBytes: 1}, {RestoredBytes: 5}, {SavedBytes: 7}}}
	if restored, saved := r.MountBytes(); restored != 15 || saved != 8 {
		t.Errorf("restored %d saved %d, want 15 and 8", restored, saved)
	}
}
