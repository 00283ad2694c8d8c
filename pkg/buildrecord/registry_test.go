package buildrecord

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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

// recordManifest is a record's manifest as Write pushes it, with edits.
func recordManifest(edit func(m map[string]any)) []byte {
	m := map[string]any{
		"schemaVersion": 2, "mediaType": ocispec.MediaTypeImageManifest, "artifactType": MediaType,
		"config": map[string]any{"mediaType": ocispec.MediaTypeEmptyJSON, "digest": ocispec.DescriptorEmptyJSON.Digest, "size": 2},
		"layers": []any{map[string]any{"mediaType": MediaType, "digest": digest.FromString("{}").String(), "size": 2}},
	}
	if edit != nil {
		edit(m)
	}
	b, _ := json.Marshal(m)
	return b
}

// What a registry returns under a record's tag is untrusted: only a record's manifest,
// matching the digest the registry named, with one bounded layer, is read.
func TestOnlyARecordsManifestMatchingItsDigestIsRead(t *testing.T) {
	good := recordManifest(nil)
	layer, err := recordLayer(good, digest.FromBytes(good))
	if err != nil || layer.Digest != digest.FromString("{}") || layer.Size != 2 {
		t.Fatalf("a record's manifest: %+v, %v", layer, err)
	}
	if _, err := recordLayer(good, digest.FromString("other")); err == nil || errors.Is(err, errNotARecord) {
		t.Errorf("a manifest not matching its digest: %v, want a digest error", err)
	}
	for name, m := range map[string][]byte{
		"a BuildKit cache manifest": recordManifest(func(m map[string]any) {
			delete(m, "artifactType")
			m["config"] = map[string]any{"mediaType": "application/vnd.buildkit.cacheconfig.v0", "digest": digest.FromString("c").String(), "size": 1}
		}),
		"another artifact type": recordManifest(func(m map[string]any) { m["artifactType"] = "application/vnd.example+json" }),
		"two layers":            recordManifest(func(m map[string]any) { m["layers"] = append(m["layers"].([]any), m["layers"].([]any)[0]) }),
		"an index":              recordManifest(func(m map[string]any) { m["mediaType"] = ocispec.MediaTypeImageIndex }),
		"not JSON":              []byte("<html>"),
		"too large":             append(recordManifest(nil), bytes.Repeat([]byte(" "), maxManifestBytes)...),
	} {
		if _, err := recordLayer(m, digest.FromBytes(m)); !errors.Is(err, errNotARecord) {
			t.Errorf("%s: %v, want it taken for no record (never overwritten)", name, err)
		}
	}
	for name, m := range map[string][]byte{
		"a layer over MaxBytes": recordManifest(func(m map[string]any) { m["layers"].([]any)[0].(map[string]any)["size"] = MaxBytes + 1 }),
		"a negative size":       recordManifest(func(m map[string]any) { m["layers"].([]any)[0].(map[string]any)["size"] = -1 }),
		"a bad digest":          recordManifest(func(m map[string]any) { m["layers"].([]any)[0].(map[string]any)["digest"] = "sha256:zz" }),
	} {
		if _, err := recordLayer(m, digest.FromBytes(m)); err == nil {
			t.Errorf("%s: read, want an error", name)
		}
	}
}

func FuzzRecordLayer(f *testing.F) {
	f.Add(recordManifest(nil))
	f.Add([]byte(`{"layers":[{"size":-1}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		layer, err := recordLayer(data, digest.FromBytes(data))
		if err == nil && (layer.Size < 0 || layer.Size > MaxBytes || layer.MediaType != MediaType || layer.Digest.Validate() != nil) {
			t.Fatalf("accepted %+v", layer)
		}
	})
}
