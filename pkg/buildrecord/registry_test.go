package buildrecord

import (
	"strings"
	"testing"
)

// A registry cache's record is a tag of the cache's own repository: the cache's tag and
// the suffix, within the 128 characters a tag may have, and two long tags stay apart.
func TestRecordRefIsTheCacheTagWithTheSuffixInTheSameRepository(t *testing.T) {
	long := strings.Repeat("a", 120)
	for _, tc := range []struct{ cacheRef, want string }{
		{"ghcr.io/org/cache:buildcache-app-main", "ghcr.io/org/cache:buildcache-app-main.warmbuild-record"},
		{"127.0.0.1:5001/e2e/explain:dockerfile-main", "127.0.0.1:5001/e2e/explain:dockerfile-main.warmbuild-record"},
		// As BuildKit reads a ref: Docker Hub's short names in full, no tag is latest.
		{"org/cache:app-main", "docker.io/org/cache:app-main.warmbuild-record"},
		{"registry.example:5000/cache", "registry.example:5000/cache:latest.warmbuild-record"},
	} {
		got, err := RecordRef(tc.cacheRef)
		if err != nil || got != tc.want {
			t.Errorf("RecordRef(%q) = %q, %v; want %q", tc.cacheRef, got, err, tc.want)
		}
	}

	a, errA := RecordRef("ghcr.io/org/cache:" + long + "-main")
	b, errB := RecordRef("ghcr.io/org/cache:" + long + "-dev")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	for _, r := range []string{a, b} {
		tag := r[strings.LastIndex(r, ":")+1:]
		if len(tag) > 128 || !strings.HasSuffix(tag, TagSuffix) || !strings.HasPrefix(tag, long[:100]) {
			t.Errorf("long tag's record %q: want at most 128 characters, the cache tag's start and the suffix", tag)
		}
	}
	if a == b {
		t.Errorf("two long cache tags share the record tag %q", a)
	}
}

func TestRecordRefOfADigestOrABadRefIsAnError(t *testing.T) {
	for _, ref := range []string{"ghcr.io/org/cache@sha256:" + strings.Repeat("0", 64), "Not A Ref", ""} {
		if got, err := RecordRef(ref); err == nil {
			t.Errorf("RecordRef(%q) = %q, want an error", ref, got)
		}
	}
}
