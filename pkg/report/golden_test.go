package report

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite pkg/report/testdata/*.golden from the current code")

// golden compares got with testdata/name, or rewrites the file under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run: go test ./pkg/report -run Golden -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (if the change is meant, run: go test ./pkg/report -update):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// outputsText is the outputs one per line, as a later step reads them.
func outputsText(list []Output) string {
	var b strings.Builder
	for _, o := range list {
		b.WriteString(o.Name + "=" + o.Value + "\n")
	}
	return b.String()
}

// legacyMount is pkg/run's mountState as JSON (its tags, copied): what mount-cache-report
// held before it had a type of its own.
type legacyMount struct {
	ID            string `json:"id"`
	CacheID       string `json:"cacheId"`
	Target        string `json:"target"`
	Key           string `json:"key"`
	MatchedKey    string `json:"matchedKey,omitempty"`
	Hit           string `json:"hit"`
	Injected      bool   `json:"injected"`
	Reason        string `json:"reason,omitempty"`
	RestoredBytes int64  `json:"restoredBytes"`
	Saved         bool   `json:"saved"`
	SavedBytes    int64  `json:"savedBytes"`
	SaveNote      string `json:"saveNote,omitempty"`
	SavedKey      string `json:"savedKey,omitempty"`
	DeltaOn       string `json:"deltaOn,omitempty"`
	StepCached    *bool  `json:"stepCached,omitempty"`
	Pip           *struct {
		Total      int      `json:"total"`
		Cached     int      `json:"cached"`
		Downloaded []string `json:"downloaded,omitempty"`
		Built      []string `json:"built,omitempty"`
	} `json:"pip,omitempty"`
}

type pip = struct {
	Total      int      `json:"total"`
	Cached     int      `json:"cached"`
	Downloaded []string `json:"downloaded,omitempty"`
	Built      []string `json:"built,omitempty"`
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

const (
	pipKey   = "warmbuild-mount-root-.cache-pip-linux-amd64-3f9a1c0d2e4b5a69"
	pipKeyV1 = "warmbuild-mount-root-.cache-pip-linux-amd64-8c2e7d41a0b9f356"
	policy   = "saved: push to main (the default branch)"
)

var legacyCases = []struct {
	name    string
	out     Outputs
	summary Summary
}{
	{"cold", Outputs{
		Digest: "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f", ImageID: "sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
		Metadata:              map[string]any{"containerimage.digest": "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f", "image.name": "ghcr.io/octo-org/warm-app:main"},
		LayerCacheStepsCached: 0, LayerCacheStepsTotal: 6, BuildDurationSeconds: 48.317,
		CacheBackend: "gha", CacheSaved: true, CacheSaveReason: policy,
		MountCacheHit: "miss", MountCacheReport: []legacyMount{{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, Hit: "miss", Reason: "no cache entry yet",
			Saved: true, SavedBytes: 41_943_040, SavedKey: pipKey, StepCached: no(), Pip: &pip{Total: 12, Downloaded: []string{"certifi", "charset-normalizer", "flask"}, Built: []string{"pyyaml"}}}},
		MountCacheSavedBytes: 41_943_040, PipPackagesTotal: 12, RepoCacheUsageBytes: 52_428_800,
	}, Summary{
		Image: "ghcr.io/octo-org/warm-app:main", Tags: []string{"ghcr.io/octo-org/warm-app:main"}, Digest: "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f",
		Duration: 48317 * time.Millisecond, StepsTotal: 6,
		CacheBackend: "gha: the Actions cache service of this runner", CacheReads: []string{"warmbuild-main"}, CacheWrite: "warmbuild-main",
		CacheSaved: true, CacheSaveReason: policy,
		Mounts: []MountSummary{{ID: "/root/.cache/pip", Key: pipKey, Hit: "miss", SavedBytes: 41_943_040, Saved: true, PipTotal: 12}},
		Phases: []Phase{{Name: "connect", Duration: 1200 * time.Millisecond}, {Name: "restore", Duration: 150 * time.Millisecond}, {Name: "inject", Duration: 0},
			{Name: "build", Duration: 48317 * time.Millisecond}, {Name: "extract", Duration: 2100 * time.Millisecond, During: "export"}, {Name: "save", Duration: 3400 * time.Millisecond, During: "export"}},
	}},
	{"warm-exact", Outputs{
		Digest: "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f", ImageID: "sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
		Metadata:              map[string]any{"containerimage.digest": "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f"},
		LayerCacheStepsCached: 6, LayerCacheStepsTotal: 6, BuildDurationSeconds: 3.904,
		CacheBackend: "gha", CacheSaved: true, CacheSaveReason: policy,
		MountCacheHit: "exact", MountCacheReport: []legacyMount{{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, MatchedKey: pipKey, Hit: "exact",
			Reason: "exact hit: requirements unchanged, the layer cache holds the pip step", SaveNote: "unchanged: an entry with this key exists", StepCached: yes()}},
		RepoCacheUsageBytes: 94_371_840,
	}, Summary{
		Image: "ghcr.io/octo-org/warm-app:main", Tags: []string{"ghcr.io/octo-org/warm-app:main"}, Digest: "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f",
		Duration: 3904 * time.Millisecond, StepsCached: 6, StepsTotal: 6,
		CacheBackend: "gha: the Actions cache service of this runner", CacheReads: []string{"warmbuild-main"}, CacheWrite: "warmbuild-main",
		CacheSaved: true, CacheSaveReason: policy,
		Mounts: []MountSummary{{ID: "/root/.cache/pip", Key: pipKey, Hit: "exact", Note: "unchanged: an entry with this key exists"}},
		Phases: []Phase{{Name: "connect", Duration: 900 * time.Millisecond}, {Name: "restore", Duration: 210 * time.Millisecond}, {Name: "inject", Duration: 0}, {Name: "build", Duration: 3904 * time.Millisecond}},
	}},
	{"partial-delta", Outputs{
		Digest: "sha256:77aa1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", ImageID: "sha256:66bb7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
		Metadata:              map[string]any{"containerimage.digest": "sha256:77aa1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "buildx.build.ref": "warmbuild/k1/x"},
		LayerCacheStepsCached: 4, LayerCacheStepsTotal: 7, BuildDurationSeconds: 11.2,
		CacheBackend: "gha", CacheSaved: true, CacheSaveReason: policy,
		MountCacheHit: "partial", MountCacheReport: []legacyMount{
			{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, MatchedKey: pipKeyV1, Hit: "partial", Injected: true, RestoredBytes: 41_943_040,
				Saved: true, SavedBytes: 1_258_291, SavedKey: pipKey + "+" + "8c2e7d41", DeltaOn: pipKeyV1, SaveNote: "delta of 3 files on " + pipKeyV1, StepCached: no(),
				Pip: &pip{Total: 13, Cached: 11, Downloaded: []string{"requests"}, Built: []string{"mypkg"}}},
			{ID: "apt", CacheID: "apt", Target: "/var/cache/apt", Key: "warmbuild-mount-apt-linux-amd64-3f9a1c0d2e4b5a69", Hit: "miss",
				Reason: "not carried: sharing=locked is not carried (a BuildKit cache directory that is shared this way cannot be injected)", SaveNote: "not carried"},
		},
		MountCacheRestoredBytes: 41_943_040, MountCacheSavedBytes: 1_258_291, PipPackagesTotal: 13, PipPackagesCached: 11, RepoCacheUsageBytes: -1,
	}, Summary{
		Image: "ghcr.io/octo-org/warm-app:main", Tags: []string{"ghcr.io/octo-org/warm-app:main", "ghcr.io/octo-org/warm-app:sha-1234567"}, Digest: "sha256:77aa1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e",
		Duration: 11200 * time.Millisecond, StepsCached: 4, StepsTotal: 7,
		CacheBackend: "gha: the Actions cache service of this runner", CacheReads: []string{"warmbuild-main"}, CacheWrite: "warmbuild-main",
		CacheSaved: true, CacheSaveReason: policy,
		Mounts: []MountSummary{
			{ID: "/root/.cache/pip", Key: pipKey, Hit: "partial", RestoredBytes: 41_943_040, SavedBytes: 1_258_291, Saved: true, PipCached: 11, PipTotal: 13, Note: "delta of 3 files on " + pipKeyV1},
			{ID: "apt", Key: "warmbuild-mount-apt-linux-amd64-3f9a1c0d2e4b5a69", Hit: "miss", Note: "not carried"},
		},
		Phases: []Phase{{Name: "connect", Duration: 800 * time.Millisecond}, {Name: "restore", Duration: 400 * time.Millisecond}, {Name: "inject", Duration: 2600 * time.Millisecond},
			{Name: "build", Duration: 11200 * time.Millisecond}, {Name: "extract", Duration: 1500 * time.Millisecond, During: "export"}, {Name: "save", Duration: 700 * time.Millisecond, During: "export"}},
	}},
	{"failed", Outputs{
		LayerCacheStepsCached: 3, LayerCacheStepsTotal: 6, BuildDurationSeconds: 7.5,
		CacheBackend: "gha", CacheSaved: false, CacheSaveReason: "not saved: the build failed (push to main (the default branch))",
		MountCacheHit: "partial", MountCacheReport: []legacyMount{{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, MatchedKey: pipKeyV1, Hit: "partial", Injected: true,
			RestoredBytes: 41_943_040, SaveNote: "not saved: the build failed", StepCached: no(), Pip: &pip{Total: 4, Cached: 3, Downloaded: []string{"nosuchpkg"}}}},
		MountCacheRestoredBytes: 41_943_040, PipPackagesTotal: 4, PipPackagesCached: 3, RepoCacheUsageBytes: -1,
	}, Summary{
		Image: "ghcr.io/octo-org/warm-app:main", Tags: []string{"ghcr.io/octo-org/warm-app:main"},
		Failed:   `process "/bin/sh -c pip install -r requirements.txt | tee /tmp/pip.log" did not complete successfully: exit code: 1`,
		Duration: 7500 * time.Millisecond, StepsCached: 3, StepsTotal: 6,
		CacheBackend: "gha: the Actions cache service of this runner", CacheReads: []string{"warmbuild-main"}, CacheWrite: "warmbuild-main",
		CacheSaveReason: "not saved: the build failed (push to main (the default branch))",
		Mounts:          []MountSummary{{ID: "/root/.cache/pip", Key: pipKey, Hit: "partial", RestoredBytes: 41_943_040, PipCached: 3, PipTotal: 4, Note: "not saved: the build failed"}},
		Phases: []Phase{{Name: "connect", Duration: 700 * time.Millisecond}, {Name: "restore", Duration: 300 * time.Millisecond}, {Name: "inject", Duration: 2200 * time.Millisecond},
			{Name: "build", Duration: 7500 * time.Millisecond}, {Name: "extract", Duration: 0}, {Name: "save", Duration: 0}},
	}},
	{"cache-mode-read", Outputs{
		Digest: "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f", ImageID: "sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
		LayerCacheStepsCached: 6, LayerCacheStepsTotal: 6, BuildDurationSeconds: 4.02,
		CacheBackend: "gha", CacheSaveReason: "skipped: ACTIONS_CACHE_MODE=read (read-only cache access) — otherwise push to main (the default branch)",
		CacheWarnings: []string{"mount cache: /root/.cache/pip: not restored: the cache service denied reading: cache read denied: token has no readable scopes (ACTIONS_CACHE_MODE=read (read-only cache access))"},
		MountCacheHit: "miss", MountCacheReport: []legacyMount{{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, Hit: "miss",
			Reason: "not restored: the cache service denied reading: cache read denied: token has no readable scopes", SaveNote: "not saved: skipped: ACTIONS_CACHE_MODE=read (read-only cache access) — otherwise push to main (the default branch)", StepCached: yes()}},
		RepoCacheUsageBytes: -1,
	}, Summary{
		Image: "ghcr.io/octo-org/warm-app:main", Tags: []string{"ghcr.io/octo-org/warm-app:main"}, Digest: "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f",
		Duration: 4020 * time.Millisecond, StepsCached: 6, StepsTotal: 6,
		CacheBackend: "gha: the Actions cache service of this runner", CacheReads: []string{"warmbuild-main"},
		CacheSaveReason: "skipped: ACTIONS_CACHE_MODE=read (read-only cache access) — otherwise push to main (the default branch)",
		CacheMode:       "ACTIONS_CACHE_MODE=read (read-only cache access): restores only, saves nothing",
		Mounts:          []MountSummary{{ID: "/root/.cache/pip", Key: pipKey, Hit: "miss", Note: "not saved: skipped: ACTIONS_CACHE_MODE=read (read-only cache access) — otherwise push to main (the default branch)"}},
		Phases:          []Phase{{Name: "connect", Duration: 600 * time.Millisecond}, {Name: "restore", Duration: 90 * time.Millisecond}, {Name: "inject", Duration: 0}, {Name: "build", Duration: 4020 * time.Millisecond}, {Name: "extract", Duration: 0}, {Name: "save", Duration: 0}},
	}},
	{"no-mount-caches", Outputs{
		Digest: "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef", ImageID: "sha256:fedcba0987654321fedcba0987654321fedcba0987654321fedcba0987654321",
		Metadata:              map[string]any{"containerimage.digest": "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef", "containerimage.descriptor": map[string]any{"size": 1234, "mediaType": "application/vnd.oci.image.index.v1+json"}},
		LayerCacheStepsCached: 2, LayerCacheStepsTotal: 5, BuildDurationSeconds: 20.555,
		CacheBackend: "registry", CacheSaved: false,
		CacheSaveReason: "not saved: the layer cache export failed: exporting cache to registry: 401 Unauthorized (push to main (the default branch))",
		CacheWarnings:   []string{"exporting cache to registry: 401 Unauthorized", "Actions cache nearly full: the repository's Actions caches use 93% of their 10.0 GiB limit; GitHub evicts the least recently used entries beyond it, which makes builds cold"},
		MountCacheHit:   "none", RepoCacheUsageBytes: 9_990_000_000,
	}, Summary{
		Image: "127.0.0.1:5000/octo-org/warm-app:main", Tags: []string{"127.0.0.1:5000/octo-org/warm-app:main", "127.0.0.1:5000/octo-org/warm-app:latest"}, Digest: "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef",
		Duration: 20555 * time.Millisecond, StepsCached: 2, StepsTotal: 5,
		CacheBackend: "registry: cache-ref is set", CacheReads: []string{"127.0.0.1:5000/octo-org/warm-app:buildcache", "127.0.0.1:5000/octo-org/warm-app:buildcache-main"}, CacheWrite: "127.0.0.1:5000/octo-org/warm-app:buildcache",
		CacheSaveReason: "not saved: the layer cache export failed: exporting cache to registry: 401 Unauthorized (push to main (the default branch))",
		Phases:          []Phase{{Name: "connect", Duration: 2 * time.Second}, {Name: "build", Duration: 20555 * time.Millisecond}},
		Hints: []string{"push retried: the first push failed (blob unknown) and the export ran again; the steps were cached, only the export was repeated",
			"layer cache not saved: exporting cache to registry: 401 Unauthorized",
			"the repository's Actions caches use 93% of their 10.0 GiB limit; GitHub evicts the least recently used entries beyond it, which makes builds cold"},
	}},
}

// The first golden files were written from these, by the code before Result.
func TestGoldenLegacy(t *testing.T) {
	for _, tc := range legacyCases {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name+".summary.md", tc.summary.Markdown())
			golden(t, tc.name+".outputs.txt", outputsText(tc.out.List()))
		})
	}
}
