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
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := range max(len(g), len(w)) {
		if i >= len(g) || i >= len(w) || g[i] != w[i] {
			t.Errorf("%s differs from line %d (if the change is meant, run: go test ./pkg/report -update):\n got: %q\nwant: %q\n--- whole got:\n%s", path, i+1, at(g, i), at(w, i), got)
			return
		}
	}
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end of file>"
}

// outputsText is the outputs one per line, as a later step reads them.
func outputsText(list []Output) string {
	var b strings.Builder
	for _, o := range list {
		b.WriteString(o.Name + "=" + o.Value + "\n")
	}
	return b.String()
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func bytesOf(n int64) *int64 { return &n }

const (
	pipKey   = "warmbuild-mount-root-.cache-pip-linux-amd64-3f9a1c0d2e4b5a69"
	pipKeyV1 = "warmbuild-mount-root-.cache-pip-linux-amd64-8c2e7d41a0b9f356"
	policy   = "saved: push to main (the default branch)"
	ghaWhy   = "gha: the Actions cache service of this runner"
	image    = "ghcr.io/octo-org/warm-app:main"
	digest   = "sha256:4b1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f"
	imageID  = "sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d"
	readOnly = "skipped: ACTIONS_CACHE_MODE=read (read-only cache access) — otherwise push to main (the default branch)"
)

// goldenCases are realistic runs; their summary and outputs are in testdata/<name>.*. The
// first golden files were written by the code before Result (two structs filled field by
// field), from the same data.
var goldenCases = []struct {
	name string
	res  Result
}{
	{"cold", Result{
		Image: image, Tags: []string{image}, Digest: digest, ImageID: imageID,
		Metadata:    map[string]any{"containerimage.digest": digest, "image.name": image},
		StepsCached: 0, StepsTotal: 6, Duration: 48317 * time.Millisecond,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"}, WriteScope: "warmbuild-main",
		CacheSaved: true, SaveReason: policy,
		Mounts: []MountEntry{{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, Hit: HitMiss, Reason: "no cache entry yet",
			Saved: true, SavedBytes: 41_943_040, SavedKey: pipKey, StepCached: no(), Pip: &PipCounts{Total: 12, Downloaded: []string{"certifi", "charset-normalizer", "flask"}, Built: []string{"pyyaml"}},
			QuotaBytes: bytesOf(41_943_040)}},
		PipTotal: 12,
		Phases: []Phase{{Name: "connect", Duration: 1200 * time.Millisecond}, {Name: "restore", Duration: 150 * time.Millisecond}, {Name: "inject", Duration: 0},
			{Name: "build", Duration: 48317 * time.Millisecond}, {Name: "extract", Duration: 2100 * time.Millisecond, During: "export"}, {Name: "save", Duration: 3400 * time.Millisecond, During: "export"}},
		RepoCacheUsageBytes: 52_428_800, RepoCacheUsageKnown: true,
	}},
	{"warm-exact", Result{
		Image: image, Tags: []string{image}, Digest: digest, ImageID: imageID,
		Metadata:    map[string]any{"containerimage.digest": digest},
		StepsCached: 6, StepsTotal: 6, Duration: 3904 * time.Millisecond,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"}, WriteScope: "warmbuild-main",
		CacheSaved: true, SaveReason: policy,
		Mounts: []MountEntry{{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, MatchedKey: pipKey, Hit: HitExact,
			Reason: "exact hit: requirements unchanged, the layer cache holds the pip step", SaveNote: "unchanged: an entry with this key exists", StepCached: yes(),
			QuotaBytes: bytesOf(41_943_040)}},
		Phases:              []Phase{{Name: "connect", Duration: 900 * time.Millisecond}, {Name: "restore", Duration: 210 * time.Millisecond}, {Name: "inject", Duration: 0}, {Name: "build", Duration: 3904 * time.Millisecond}},
		RepoCacheUsageBytes: 94_371_840, RepoCacheUsageKnown: true,
	}},
	{"partial-delta", Result{
		Image: image, Tags: []string{image, "ghcr.io/octo-org/warm-app:sha-1234567"},
		Digest: "sha256:77aa1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", ImageID: "sha256:66bb7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d",
		Metadata:    map[string]any{"containerimage.digest": "sha256:77aa1f7e0c9a2d3e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e", "buildx.build.ref": "warmbuild/k1/x"},
		StepsCached: 4, StepsTotal: 7, Duration: 11200 * time.Millisecond,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"}, WriteScope: "warmbuild-main",
		CacheSaved: true, SaveReason: policy,
		Mounts: []MountEntry{
			{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, MatchedKey: pipKeyV1, Hit: HitPartial, Injected: true, RestoredBytes: 41_943_040,
				Saved: true, SavedBytes: 1_258_291, SavedKey: pipKey + "+" + "8c2e7d41", DeltaOn: pipKeyV1, SaveNote: "delta of 3 files on " + pipKeyV1, StepCached: no(),
				Pip: &PipCounts{Total: 13, Cached: 11, Downloaded: []string{"requests"}, Built: []string{"mypkg"}}, QuotaBytes: bytesOf(41_943_040 + 1_258_291)},
			{ID: "apt", CacheID: "apt", Target: "/var/cache/apt", Key: "warmbuild-mount-apt-linux-amd64-3f9a1c0d2e4b5a69", Hit: HitMiss,
				Reason: "not carried: sharing=locked is not carried (a BuildKit cache directory that is shared this way cannot be injected)", SaveNote: "not carried", QuotaBytes: bytesOf(0)},
		},
		PipTotal: 13, PipCached: 11,
		Phases: []Phase{{Name: "connect", Duration: 800 * time.Millisecond}, {Name: "restore", Duration: 400 * time.Millisecond}, {Name: "inject", Duration: 2600 * time.Millisecond},
			{Name: "build", Duration: 11200 * time.Millisecond}, {Name: "extract", Duration: 1500 * time.Millisecond, During: "export"}, {Name: "save", Duration: 700 * time.Millisecond, During: "export"}},
	}},
	{"failed", Result{
		Image: image, Tags: []string{image},
		Failed:      `process "/bin/sh -c pip install -r requirements.txt | tee /tmp/pip.log" did not complete successfully: exit code: 1`,
		StepsCached: 3, StepsTotal: 6, Duration: 7500 * time.Millisecond,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"}, WriteScope: "warmbuild-main",
		SaveReason: "not saved: the build failed (push to main (the default branch))",
		Mounts: []MountEntry{{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, MatchedKey: pipKeyV1, Hit: HitPartial, Injected: true,
			RestoredBytes: 41_943_040, SaveNote: "not saved: the build failed", StepCached: no(), Pip: &PipCounts{Total: 4, Cached: 3, Downloaded: []string{"nosuchpkg"}},
			QuotaBytes: bytesOf(41_943_040)}},
		PipTotal: 4, PipCached: 3,
		Phases: []Phase{{Name: "connect", Duration: 700 * time.Millisecond}, {Name: "restore", Duration: 300 * time.Millisecond}, {Name: "inject", Duration: 2200 * time.Millisecond},
			{Name: "build", Duration: 7500 * time.Millisecond}, {Name: "extract", Duration: 0}, {Name: "save", Duration: 0}},
	}},
	{"cache-mode-read", Result{
		Image: image, Tags: []string{image}, Digest: digest, ImageID: imageID,
		StepsCached: 6, StepsTotal: 6, Duration: 4020 * time.Millisecond,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"},
		CacheMode:  "ACTIONS_CACHE_MODE=read (read-only cache access): restores only, saves nothing",
		SaveReason: readOnly,
		Mounts: []MountEntry{{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, Hit: HitMiss,
			Reason: "not restored: the cache service denied reading: cache read denied: token has no readable scopes", SaveNote: "not saved: " + readOnly, StepCached: yes(),
			QuotaBytes: bytesOf(0)}},
		Phases:   []Phase{{Name: "connect", Duration: 600 * time.Millisecond}, {Name: "restore", Duration: 90 * time.Millisecond}, {Name: "inject", Duration: 0}, {Name: "build", Duration: 4020 * time.Millisecond}, {Name: "extract", Duration: 0}, {Name: "save", Duration: 0}},
		Warnings: []string{"mount cache: /root/.cache/pip: not restored: the cache service denied reading: cache read denied: token has no readable scopes (ACTIONS_CACHE_MODE=read (read-only cache access))"},
	}},
	{"first-miss-files", Result{
		Image: image, Tags: []string{image}, Digest: digest, ImageID: imageID,
		StepsCached: 3, StepsTotal: 6, Duration: 31200 * time.Millisecond,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"},
		SaveReason: "skipped: pull request (reads the default branch's scope)",
		Steps: []StepEntry{
			{Name: "[builder 2/4] COPY requirements.txt .", Stage: "builder", Line: 3, Cached: true},
			{Name: "[builder 3/4] RUN pip wheel -r requirements.txt -w /wheels", Stage: "builder", Line: 4, Cached: true},
			{Name: "[stage-1 2/5] COPY --from=builder /wheels /wheels", Stage: "stage-1", Line: 7, Cached: true},
			{Name: "[stage-1 3/5] COPY . .", Stage: "stage-1", Line: 8, Duration: 400 * time.Millisecond},
			{Name: "[stage-1 4/5] RUN pip install /wheels/*", Stage: "stage-1", Line: 9, Duration: 24600 * time.Millisecond},
			{Name: "[stage-1 5/5] RUN python -m compileall .", Stage: "stage-1", Line: 10, Duration: 3100 * time.Millisecond},
		},
		FirstMiss: &Miss{Step: "[stage-1 3/5] COPY . .", Line: 8, File: "Dockerfile", Reason: MissFiles, Detail: "2 changed, 1 added, 0 removed",
			Files: []string{"app/main.py", "app/views.py", "app/new.py"}},
		Phases: []Phase{{Name: "connect", Duration: 700 * time.Millisecond}, {Name: "build", Duration: 31200 * time.Millisecond}},
	}},
	{"no-mount-caches", Result{
		Image: "127.0.0.1:5000/octo-org/warm-app:main", Tags: []string{"127.0.0.1:5000/octo-org/warm-app:main", "127.0.0.1:5000/octo-org/warm-app:latest"},
		Digest: "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef", ImageID: "sha256:fedcba0987654321fedcba0987654321fedcba0987654321fedcba0987654321",
		Metadata:    map[string]any{"containerimage.digest": "sha256:1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef", "containerimage.descriptor": map[string]any{"size": 1234, "mediaType": "application/vnd.oci.image.index.v1+json"}},
		StepsCached: 2, StepsTotal: 5, Duration: 20555 * time.Millisecond,
		Backend: "registry", BackendReason: "registry: cache-ref is set",
		ReadScopes: []string{"127.0.0.1:5000/octo-org/warm-app:buildcache", "127.0.0.1:5000/octo-org/warm-app:buildcache-main"}, WriteScope: "127.0.0.1:5000/octo-org/warm-app:buildcache",
		SaveReason: "not saved: the layer cache export failed: exporting cache to registry: 401 Unauthorized (push to main (the default branch))",
		Phases:     []Phase{{Name: "connect", Duration: 2 * time.Second}, {Name: "build", Duration: 20555 * time.Millisecond}},
		Hints: []string{"push retried: the first push failed (blob unknown) and the export ran again; the steps were cached, only the export was repeated",
			"layer cache not saved: exporting cache to registry: 401 Unauthorized",
			"the repository's Actions caches use 93% of their 10.0 GiB limit; GitHub evicts the least recently used entries beyond it, which makes builds cold"},
		Warnings:            []string{"exporting cache to registry: 401 Unauthorized", "Actions cache nearly full: the repository's Actions caches use 93% of their 10.0 GiB limit; GitHub evicts the least recently used entries beyond it, which makes builds cold"},
		RepoCacheUsageBytes: 9_990_000_000, RepoCacheUsageKnown: true,
	}},
	// caps (issue 18): a two-platform build carrying pip's cache (one directory both
	// platforms share), npm's and Go's build cache per platform (id=go-$TARGETARCH) under
	// mount-cache-max-size: 2GiB, go=512MiB; what each takes of the quota, and the total.
	{"caps-multiplatform", Result{
		Image: image, Tags: []string{image}, Digest: digest, ImageID: imageID,
		StepsCached: 2, StepsTotal: 9, Duration: 95 * time.Second,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"}, WriteScope: "warmbuild-main",
		CacheSaved: true, SaveReason: policy,
		Mounts: []MountEntry{
			{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip", Target: "/root/.cache/pip", Key: pipKey, MatchedKey: pipKey, Hit: HitExact, Injected: true, RestoredBytes: 325_058_560,
				SaveNote: "unchanged: an entry with this key exists", StepCached: no(), Ecosystem: "pip", Platform: "all",
				Pip: &PipCounts{Total: 40, Cached: 40}, Packages: &PackageCounts{Total: 40, Cached: 40}, QuotaBytes: bytesOf(325_058_560)},
			{ID: "/root/.npm", CacheID: "/root/.npm", Target: "/root/.npm", Key: "warmbuild-mount-root-.npm-linux-amd64-5d1e", Hit: HitMiss, Reason: "no cache entry yet",
				Saved: true, SavedBytes: 47_185_920, SavedKey: "warmbuild-mount-root-.npm-linux-amd64-5d1e", StepCached: no(), Ecosystem: "npm", Platform: "all", QuotaBytes: bytesOf(47_185_920)},
			{ID: "go-amd64", CacheID: "go-amd64", Target: "/root/.cache/go-build", Key: "warmbuild-mount-go-amd64-linux-amd64-77c0", MatchedKey: "warmbuild-mount-go-amd64-linux-amd64-1b9e", Hit: HitPartial, Injected: true,
				RestoredBytes: 150_994_944, Saved: true, SavedBytes: 157_286_400, SavedKey: "warmbuild-mount-go-amd64-linux-amd64-77c0", StepCached: no(), Ecosystem: "go", Platform: "linux/amd64",
				Pruned: &PruneCounts{Files: 812, Bytes: 96_468_992, MaxBytes: 512 << 20}, QuotaBytes: bytesOf(157_286_400)},
			{ID: "go-arm64", CacheID: "go-arm64", Target: "/root/.cache/go-build", Key: "warmbuild-mount-go-arm64-linux-arm64-77c0", MatchedKey: "warmbuild-mount-go-arm64-linux-arm64-1b9e", Hit: HitPartial, Injected: true,
				RestoredBytes: 146_800_640, Saved: true, SavedBytes: 153_092_096, SavedKey: "warmbuild-mount-go-arm64-linux-arm64-77c0", StepCached: no(), Ecosystem: "go", Platform: "linux/arm64",
				Pruned: &PruneCounts{Files: 790, Bytes: 92_274_688, MaxBytes: 512 << 20}, QuotaBytes: bytesOf(153_092_096)},
		},
		PipTotal: 40, PipCached: 40, PackagesTotal: 40, PackagesCached: 40,
		Phases: []Phase{{Name: "connect", Duration: 900 * time.Millisecond}, {Name: "restore", Duration: 600 * time.Millisecond}, {Name: "inject", Duration: 9 * time.Second},
			{Name: "build", Duration: 95 * time.Second}, {Name: "extract", Duration: 6 * time.Second, During: "export"}, {Name: "save", Duration: 4 * time.Second, During: "export"}},
		RepoCacheUsageBytes: 2_684_354_560, RepoCacheUsageKnown: true,
	}},
	// accel (issue 16): a mode=max export through the accelerator, paced by the upload limit.
	{"gha-accelerated", Result{
		Image: image, Tags: []string{image}, Digest: digest, ImageID: imageID,
		StepsCached: 0, StepsTotal: 7, Duration: 25200 * time.Millisecond,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"}, WriteScope: "warmbuild-main",
		CacheSaved: true, SaveReason: policy,
		LayerTransfer: "accelerated: parallel blocks and ranges", LayerBytesKnown: true,
		LayerUploadedBytes: 31_457_280, LayerDownloadedBytes: 1_048_576, LayerRateLimitWaits: 2, LayerRateLimitWait: 16 * time.Second,
		Hints:  []string{"layer cache paced: the cache service limited uploads; waited 16.0s in all as its Retry-After asked"},
		Phases: []Phase{{Name: "connect", Duration: 100 * time.Millisecond}, {Name: "build", Duration: 25200 * time.Millisecond}},
	}},
}

// The summary Markdown, compared whole, and the outputs of each case are what they were.
func TestGoldenSummaryAndOutputs(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			golden(t, tc.name+".summary.md", tc.res.Summary())
			golden(t, tc.name+".outputs.txt", outputsText(tc.res.Outputs()))
		})
	}
}
