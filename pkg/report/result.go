package report

import "time"

// Result is everything one run found out. pkg/run fills it as the phases go; the step
// outputs (Outputs) and the job summary (Summary) are pure functions of it, so what a
// later step reads and what a person reads cannot disagree.
type Result struct {
	Image    string   // first tag, or the Dockerfile when untagged
	Tags     []string //
	Digest   string
	ImageID  string
	Metadata map[string]any
	// Failed is why the run failed once a plan was made; "" when it did not.
	Failed string

	// StepsCached of StepsTotal RUN/COPY/ADD steps came from the layer cache.
	StepsCached, StepsTotal int
	Duration                time.Duration // of the BuildKit solve

	Backend       string   // the layer cache backend: gha, registry, local or none
	BackendReason string   // which backend and why, for people
	ReadScopes    []string // what the layer cache reads
	WriteScope    string   // what it writes; "" when nothing
	// CacheMode says what ACTIONS_CACHE_MODE allows, when it forbids reads or writes.
	CacheMode string
	// CacheSaved is whether the layer cache was exported; SaveReason is the sentence of
	// cache-save-reason.
	CacheSaved bool
	SaveReason string

	// Mounts are the carried cache mounts, in the Dockerfile's order; none when no mount
	// cache is in play.
	Mounts []MountEntry
	// PipTotal and PipCached count pip's packages over the RUN steps that use a carried
	// mount, each RUN once (a per-mount sum would count a RUN with two mounts twice).
	PipTotal, PipCached int
	// eco (issue 18)
	// PackagesTotal and PackagesCached are the same for every ecosystem that prints a
	// count (pip, npm at --loglevel=http), each RUN once per ecosystem.
	PackagesTotal, PackagesCached int

	Phases   []Phase
	Hints    []string // short sentences where something went wrong or slow
	Warnings []string // the cache-warnings entries (see Warnings)

	// RepoCacheUsageBytes is the repository's Actions cache usage, when RepoCacheUsageKnown.
	RepoCacheUsageBytes int64
	RepoCacheUsageKnown bool

	// pitfalls (issue 17)
	// Pitfalls are the cache pitfalls the Dockerfile check found before the build, in
	// line order, without those cache-pitfalls-ignore silences.
	Pitfalls []Pitfall
	// explain (issue 17): the counted steps in BuildKit's order, for the per-stage summary
	// and the slowest steps; the first step that ran and why (layer-cache-first-miss,
	// layer-cache-miss-reason), nil when every step was cached.
	Steps     []StepEntry
	FirstMiss *Miss

	// accel (issue 16): how the gha layer cache moved. LayerTransfer is one line for the
	// summary ("accelerated: ..." or why BuildKit's own path was taken; "" when the layer
	// cache did not use the gha service); the bytes are counted only through the
	// accelerator (LayerBytesKnown), with the 429 waits it sat out.
	LayerTransfer                            string
	LayerBytesKnown                          bool
	LayerUploadedBytes, LayerDownloadedBytes int64
	LayerRateLimitWaits                      int
	LayerRateLimitWait                       time.Duration
}

// Mount cache hit values: MountEntry.Hit, and the mount-cache-hit output.
const (
	HitExact   = "exact"
	HitPartial = "partial"
	HitMiss    = "miss"
	HitNone    = "none" // mount-cache-hit only: no mount cache in play
)

// MountEntry is one carried cache mount and what the run did with it: one object of the
// mount-cache-report output (README, "The mount-cache-report output"). Its JSON field
// names are part of the action's interface: renaming one breaks workflows that read it.
type MountEntry struct {
	ID         string `json:"id"`                   // the mount's id=, or its target without one
	CacheID    string `json:"cacheId"`              // BuildKit's cache directory id
	Target     string `json:"target"`               // where the RUN mounts it
	Key        string `json:"key"`                  // the cache key of this run's inputs
	MatchedKey string `json:"matchedKey,omitempty"` // the entry restored, when one was
	Hit        string `json:"hit"`                  // HitExact, HitPartial or HitMiss
	Injected   bool   `json:"injected"`             // the restored content went into the build
	// Reason says why the cache was not injected, or what was special about it.
	Reason        string `json:"reason,omitempty"`
	RestoredBytes int64  `json:"restoredBytes"` // compressed bytes downloaded
	Saved         bool   `json:"saved"`
	SavedBytes    int64  `json:"savedBytes"` // compressed bytes uploaded
	// SaveNote says why nothing was saved, or that a delta was.
	SaveNote string `json:"saveNote,omitempty"`
	// SavedKey is the key the save used: Key, or a delta's key when only what changed
	// since DeltaOn (the restored full entry) was stored.
	SavedKey string `json:"savedKey,omitempty"`
	DeltaOn  string `json:"deltaOn,omitempty"`
	// StepCached is whether the layer cache skipped the RUN that uses the mount; absent
	// when the build did not get to it.
	StepCached *bool      `json:"stepCached,omitempty"`
	Pip        *PipCounts `json:"pip,omitempty"` // absent when pip did not run in that RUN
	// eco (issue 18)
	// Ecosystem is the package manager whose cache the mount holds ("pip", "uv", "npm",
	// ...); absent when discovery knows none (a mount named in mount-caches).
	Ecosystem string `json:"ecosystem,omitempty"`
	// Packages counts what that package manager took from its cache; absent when its
	// output gave no count (npm below --loglevel=http, uv, a step the layer cache skipped).
	Packages *PackageCounts `json:"packages,omitempty"`
	// caps (issue 18)
	// Platform is the platform whose steps use the directory ("linux/arm64"; the build's
	// one platform when it has one), "all" when every platform of a multi-platform build
	// shares it, or the platforms that do, separated by commas.
	Platform string `json:"platform,omitempty"`
	// Pruned is what the save dropped to stay under the mount's cap; absent when nothing.
	Pruned *PruneCounts `json:"pruned,omitempty"`
	// QuotaBytes is what the mount's entries take of the repository's cache quota after
	// the run (compressed): the entry saved (a delta with the full entry it completes), else
	// the entry restored, which stays; 0 when it has none, absent when the storage did not
	// say.
	QuotaBytes *int64 `json:"quotaBytes,omitempty"`
}

// PruneCounts is what a save dropped, least recently used first, to keep the mount under
// its cap (the report's copy of mountcache.Pruned).
type PruneCounts struct {
	Files    int64 `json:"files"`
	Bytes    int64 `json:"bytes"`    // uncompressed
	MaxBytes int64 `json:"maxBytes"` // the cap that applied: mount-cache-max-size for its ecosystem
}

// PackageCounts is what a package manager did with its cache in the steps using a mount
// (the report's copy of mountcache.PackageStats).
type PackageCounts struct {
	Total  int `json:"total"`  // distinct packages it installed or collected
	Cached int `json:"cached"` // of those, taken from its cache without fetching
}

// PipCounts is what a pip install did with its cache, read from pip's log lines (the
// report's copy of mountcache.PipStats, which this package cannot import).
type PipCounts struct {
	Total      int      `json:"total"`                // distinct packages pip collected
	Cached     int      `json:"cached"`               // of those, taken from pip's cache
	Downloaded []string `json:"downloaded,omitempty"` // fetched from the index
	Built      []string `json:"built,omitempty"`      // built into a wheel
}

// MountCacheHit is the mount-cache-hit output: exact or miss when every mount was,
// partial otherwise, none without mounts.
func (r Result) MountCacheHit() string {
	if len(r.Mounts) == 0 {
		return HitNone
	}
	counts := map[string]int{}
	for _, m := range r.Mounts {
		counts[m.Hit]++
	}
	switch len(r.Mounts) {
	case counts[HitExact]:
		return HitExact
	case counts[HitMiss]:
		return HitMiss
	}
	return HitPartial
}

// MountBytes sums what the mounts restored and saved.
func (r Result) MountBytes() (restored, saved int64) {
	for _, m := range r.Mounts {
		restored += m.RestoredBytes
		saved += m.SavedBytes
	}
	return restored, saved
}
