package mountcache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// The engine carries a build's cache mounts across runs, in phases:
//
//	restore  look each carried mount's entry up (exact key, a delta completing it, the
//	         mount's newest entry) in the Store
//	inject   have the Helper download (or be streamed) the entry into the daemon's
//	         cache directory, while the carried stages' base images are prewarmed
//	[build]  the caller's solve; Run.ExportStart starts the next two phases early
//	extract  have the Helper archive what changed (a delta on the restored entry, or
//	         a full archive pruned to the size limit)
//	save     upload it to the Store under the run's key
//	prune    the caller deletes superseded entries of Result.SavedKeys (PrunePrefix)
//
// Its dependencies are injected (EngineOption) and what happened is returned (Result),
// never written anywhere else: outputs and the summary belong to the caller.

// Store is the cache service as the engine uses it. ServiceStore adapts a
// *cacheservice.Client; tests use fakes.
type Store interface {
	// Restore returns the newest entry of key, or of a key starting with one of
	// restoreKeys, or nil (and no error) on a miss.
	Restore(ctx context.Context, key string, restoreKeys []string, version string) (StoreEntry, error)
	Save(ctx context.Context, key, version string, r io.Reader) (cacheservice.SaveResult, error)
}

// StoreEntry is an entry the Store found.
type StoreEntry interface {
	Key() string
	Exact() bool
	// Source is what the in-build download needs; FreshSource renews its URL.
	Source() cacheservice.Source
	FreshSource(ctx context.Context) (cacheservice.Source, error)
	// Open streams the entry's bytes from this process.
	Open(ctx context.Context) io.ReadCloser
	// Unreachable is not nil when the storage answered this process not at all.
	Unreachable() error
}

// ServiceStore is the Store of a cache service client.
func ServiceStore(c *cacheservice.Client) Store { return serviceStore{c} }

type serviceStore struct{ c *cacheservice.Client }

func (s serviceStore) Restore(ctx context.Context, key string, restoreKeys []string, version string) (StoreEntry, error) {
	e, err := s.c.Restore(ctx, key, restoreKeys, version)
	if e == nil {
		// Not a typed nil inside the interface: a miss is a nil StoreEntry.
		return nil, err
	}
	return serviceEntry{e}, err
}

func (s serviceStore) Save(ctx context.Context, key, version string, r io.Reader) (cacheservice.SaveResult, error) {
	return s.c.Save(ctx, key, version, r)
}

type serviceEntry struct{ e *cacheservice.Entry }

func (e serviceEntry) Key() string                            { return e.e.Key }
func (e serviceEntry) Exact() bool                            { return e.e.Exact }
func (e serviceEntry) Source() cacheservice.Source            { return e.e.Source() }
func (e serviceEntry) Open(ctx context.Context) io.ReadCloser { return e.e.Open(ctx) }
func (e serviceEntry) Unreachable() error                     { return e.e.Unreachable() }
func (e serviceEntry) FreshSource(ctx context.Context) (cacheservice.Source, error) {
	return e.e.FreshSource(ctx)
}

// Helper runs the helper builds that move a cache directory's content in and out of
// the daemon. HelperBuild is the real one.
type Helper interface {
	InjectSources(ctx context.Context, c Cache, srcs []cacheservice.Source, fresh func(ctx context.Context, i int) (string, error), buildArgs map[string]string) (InjectResult, *archive.Manifest, error)
	InjectStream(ctx context.Context, c Cache, r io.Reader, buildArgs map[string]string) (InjectResult, error)
	Extract(ctx context.Context, c Cache, restoredDigest string, base *archive.Manifest, maxBytes int64, buildArgs map[string]string, outDir string) (mounthelper.ExtractResult, error)
}

// Warmer is a Helper that can send BuildKit what its builds share ahead of them
// (HelperBuild: its binary).
type Warmer interface {
	Warm(ctx context.Context) (wait func())
}

// Logger is where the engine tells what it does; *report.Reporter satisfies it.
type Logger interface {
	Infof(format string, args ...any)
	Notice(title, msg string)
	Warning(title, msg string)
	Group(name string) (end func())
	Writer() io.Writer
}

// Engine restores and saves the cache mounts of builds. Build it with NewEngine.
type Engine struct {
	openStore func() (Store, error)
	newHelper func(tempDir string, progress io.Writer) Helper
	prewarm   func(ctx context.Context, image, platform string) error
	log       Logger
	tempDir   string
}

// EngineOption sets one of the engine's dependencies.
type EngineOption func(*Engine)

// WithStore sets how the cache service is reached. open is called once per run, when
// there is something to restore or save; an error wrapping cacheservice.ErrNoService
// means no service in this environment (said as information, not a warning). Without
// it, there is no service.
func WithStore(open func() (Store, error)) EngineOption {
	return func(e *Engine) { e.openStore = open }
}

// WithHelper sets how helper builds are run: newHelper gets the run's temporary
// directory and where the helper builds' progress goes.
func WithHelper(newHelper func(tempDir string, progress io.Writer) Helper) EngineOption {
	return func(e *Engine) { e.newHelper = newHelper }
}

// WithPrewarm sets how a carried stage's base image is pulled and unpacked while its
// cache is injected (builder.Prewarm). Without it, nothing is prewarmed.
func WithPrewarm(prewarm func(ctx context.Context, image, platform string) error) EngineOption {
	return func(e *Engine) { e.prewarm = prewarm }
}

// WithLogger sets where the engine logs. Without it, nothing is logged.
func WithLogger(l Logger) EngineOption {
	return func(e *Engine) { e.log = l }
}

// WithTempDir sets the directory the run's temporary directory is made in (RUNNER_TEMP;
// "" is the system's).
func WithTempDir(dir string) EngineOption {
	return func(e *Engine) { e.tempDir = dir }
}

// NewEngine returns an engine with the given dependencies.
func NewEngine(opts ...EngineOption) *Engine {
	e := &Engine{
		openStore: func() (Store, error) { return nil, cacheservice.ErrNoService },
		log:       discardLogger{},
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Request is what one run asks of the engine, decided before the build.
type Request struct {
	Selector   Selector
	Dockerfile string // path of the Dockerfile
	ContextDir string
	HashFiles  inputs.HashGlobs // mount-cache-hash-files, parsed
	BuildArgs  map[string]string
	Target     string
	// Platform is the platform the build's first image is for; "" asks DefaultPlatform.
	Platform        string
	DefaultPlatform func(ctx context.Context) (string, error)
	// MaxSize is mount-cache-max-size: each mount is pruned to its ecosystem's cap.
	MaxSize inputs.MountMaxSize
	// Platforms are every platform of a multi-platform build (platforms input), the
	// first being Platform; empty or one: a single-platform build (issue 18).
	Platforms []string
	// StreamOnly skips the in-build download where the build has no route to the storage.
	StreamOnly bool
	// ContextOnlyHashFiles says ContextDir holds only the HashFiles (a Git context's copy).
	ContextOnlyHashFiles bool

	// Reads and ReadReason: whether the cache mode lets this run restore, and why not.
	Reads      bool
	ReadReason string
	// Save and SaveReason: whether the policy saves caches on this run, and its reason.
	Save       bool
	SaveReason string
	// LayerCacheHoldsSteps is true when a layer cache is read and no-cache is off: an
	// exact hit's pip step will be cached, so the mount is not injected.
	LayerCacheHoldsSteps bool
	// ReadDeniedHint and WriteDeniedHint complete the warning about a denied read or
	// write (what to look at, what else the token affects).
	ReadDeniedHint, WriteDeniedHint string
}

// Hit is how much of a mount cache was found. The run's overall mount-cache-hit (with
// "none" when no mount is in play) is report.Result.MountCacheHit, worked out from these.
type Hit string

const (
	HitExact   Hit = "exact"   // an entry of this run's key
	HitPartial Hit = "partial" // an older entry of the same mount
	HitMiss    Hit = "miss"    // nothing restored
)

// RestoreStatus is what the restore did with one mount.
type RestoreStatus int

const (
	RestoreNotCarried       RestoreStatus = iota // the mount cannot be carried (Flaggable)
	RestoreNoService                             // no cache service
	RestoreNotAllowed                            // the cache mode does not read
	RestoreDenied                                // the service refused this job's token a read
	RestoreFailed                                // the lookup failed
	RestoreMissed                                // no entry (or a delta whose base is gone)
	RestoreExactNotInjected                      // exact hit; the layer cache holds the step
	RestoreInjectFailed                          // found, but the download or injection failed
	RestoreInjected                              // found and injected
	RestoreKept                                  // found; the builder already held the directory
)

// SaveStatus is what the save did with one mount.
type SaveStatus int

const (
	SaveNotTried SaveStatus = iota // the build never got to it
	Saved
	SaveSkipped
	SaveFailed
)

// SaveReason says why a mount was skipped or failed.
type SaveReason int

const (
	ReasonNone           SaveReason = iota
	ReasonNoService                 // no cache service
	ReasonBuildFailed               // the build failed
	ReasonPolicySkip                // the save policy saves nothing on this run
	ReasonWriteDenied               // the service refused this job's token a write
	ReasonUnchanged                 // exact hit: an entry with the key exists
	ReasonNotCarried                // the mount is not carried
	ReasonEmpty                     // the cache directory is empty
	ReasonNothingChanged            // the extraction found what was injected
	ReasonAlreadyExists             // another run saved the key first
	ReasonExtractFailed             // the extraction failed
	ReasonUploadFailed              // the upload failed
)

// Outcome is one BuildKit cache directory and what happened to it; it is also the JSON
// of one mount-cache-report entry (the field names are the output's schema).
type Outcome struct {
	cache Cache

	ID         string `json:"id"`
	CacheID    string `json:"cacheId"`
	Target     string `json:"target"`
	Key        string `json:"key"`
	MatchedKey string `json:"matchedKey,omitempty"`
	Hit        Hit    `json:"hit"`
	Injected   bool   `json:"injected"`
	// Reason says why the cache was not injected, or what was special about it.
	Reason        string `json:"reason,omitempty"`
	RestoredBytes int64  `json:"restoredBytes"`
	Saved         bool   `json:"saved"`
	SavedBytes    int64  `json:"savedBytes"`
	SaveNote      string `json:"saveNote,omitempty"`
	// SavedKey is the key the save used: Key, or a delta's key when only what changed
	// since DeltaOn (the restored full entry) was stored.
	SavedKey string `json:"savedKey,omitempty"`
	DeltaOn  string `json:"deltaOn,omitempty"`
	// StepCached is whether the layer cache skipped the RUN that uses the mount.
	StepCached *bool     `json:"stepCached,omitempty"`
	Pip        *PipStats `json:"pip,omitempty"`
	// Ecosystem is the package manager whose cache it is (Ecosystems); Packages its
	// counts, when its output gives them.
	Ecosystem string        `json:"ecosystem,omitempty"`
	Packages  *PackageStats `json:"packages,omitempty"`
	// caps (issue 18)
	// Platform is the platform whose steps use the directory ("linux/arm64"; the build's
	// one platform when it has one), PlatformAll when every platform of a multi-platform
	// build shares it, or the platforms that do, separated by commas.
	Platform string `json:"platform,omitempty"`
	// Pruned is what the extraction dropped to stay under the mount's cap; nil when nothing.
	Pruned *Pruned `json:"pruned,omitempty"`
	// QuotaBytes is what the mount's entries take of the repository's cache quota after
	// the run (compressed): the entry saved (a delta with the full entry it completes), else
	// the entry restored, which stays; 0 when it has none, nil when the storage did not say.
	QuotaBytes *int64 `json:"quotaBytes,omitempty"`

	Restore    RestoreStatus `json:"-"`
	SaveStatus SaveStatus    `json:"-"`
	SaveReason SaveReason    `json:"-"`

	version        string
	platform       string // the platform its key names (the first that uses it)
	restoredDigest string // paths digest of what was injected
	// base is what the restored full entry held (the base of a restored delta), read
	// while it streamed into the build: a save can then store only what changed.
	base       *archive.Manifest
	baseKey    string
	restoreKey string
	// uncovered lists the steps' inputs the key could not hash (StepsHash.Uncovered):
	// an exact hit then does not mean the layer cache holds the steps.
	uncovered []string

	// fullBytes and heldBytes are the sizes of the restored full entry and of all the
	// restored entries (a delta and its base); -1 when the storage did not say.
	fullBytes, heldBytes int64
}

// Result is everything a run of the engine did.
type Result struct {
	// Mounts are the carried mounts' outcomes, in Dockerfile order; empty when no mount
	// cache was in play.
	Mounts []*Outcome
	// RestorePhases (restore, inject) ran before the build, SavePhases (extract, save)
	// after it or during its export; both empty when no mount cache was in play.
	RestorePhases, SavePhases []report.Phase
	// Warnings are the cache-warnings entries raised, in order ("mount cache: ...").
	Warnings []string
	// Hints are for the summary (each is also in Warnings).
	Hints []string
	// SavedKeys are the entries stored, for the cleanup (PrunePrefix).
	SavedKeys []string
	// PipTotal and PipCached count the packages of the RUN steps using the mounts.
	PipTotal, PipCached int
	// PackagesTotal and PackagesCached count every ecosystem's packages, each RUN once
	// per ecosystem.
	PackagesTotal, PackagesCached int
	// ReadDenied and WriteDenied are the service's own messages when it refused this
	// job's token a read or a write.
	ReadDenied, WriteDenied string
}

// Run carries the mount caches of one build from restore to save.
type Run struct {
	e          *Engine
	req        Request
	res        Result
	platform   string
	active     bool // mounts were found and the restore ran: Save extracts and reports
	store      Store
	tmp        string
	helper     Helper
	warmed     func() // waits for the helper's warm build (warmHelper), nil without one
	warmCancel context.CancelFunc
	// streamOnly is set once the build could not reach the cache storage itself.
	streamOnly bool
	// readDenied is the note of a refused read, said once: the other mounts are not
	// asked again.
	readDenied string

	prewarmOnce sync.Once
	prewarmDone chan struct{}
	prewarmStop context.CancelFunc
	prewarmLog  []string // written by the prewarm goroutine, read after prewarmDone

	early *earlySave

	// Between Lookup and Inject: the caches found, the mounts to inject, the lookups'
	// time, and the end of the restore's log group.
	caches      []Cache
	pending     []pendingInject
	restoreTime time.Duration
	endRestore  func()
}

func (r *Run) warn(msg string) {
	r.res.Warnings = append(r.res.Warnings, "mount cache: "+msg)
	r.e.log.Warning("Mount cache", msg)
}

// Restore finds the selected cache mounts, restores their newest entries and injects
// them into the daemon's cache directories. Cache problems are warnings in the Run's
// Result; the request's inputs were checked by pkg/inputs, so nothing here is an error.
func (e *Engine) Restore(ctx context.Context, req Request) *Run {
	r := e.Lookup(ctx, req)
	r.Inject(ctx)
	return r
}

// Lookup is Restore's first half: it finds the selected cache mounts and looks their
// entries up, which takes a few of the service's round trips. Inject does the rest, and
// is to be called once, whatever Lookup found. Between the two the build may start when
// BuildMayStartBeside says that holding its context holds every step Inject feeds.
func (e *Engine) Lookup(ctx context.Context, req Request) *Run {
	r := &Run{e: e, req: req, streamOnly: req.StreamOnly}
	if req.Selector.None() {
		return r
	}
	dockerfile, err := os.ReadFile(req.Dockerfile)
	if err != nil {
		r.warn(fmt.Sprintf("cannot read the Dockerfile: %v", err))
		return r
	}
	platform := req.Platform
	if platform == "" && len(req.Platforms) > 0 {
		platform = req.Platforms[0]
	}
	if platform == "" {
		if req.DefaultPlatform == nil {
			r.warn("no platform to build for")
			return r
		}
		if platform, err = req.DefaultPlatform(ctx); err != nil {
			r.warn(err.Error())
			return r
		}
	}
	r.platform = platform
	// Every platform's mounts (platforms.go); one platform: the build's only one.
	plats := []string{platform}
	if len(req.Platforms) > 1 {
		plats = req.Platforms
	}
	caches, usedBy, unmatched, err := platformCaches(dockerfile, req, plats)
	if err != nil {
		r.warn(fmt.Sprintf("cannot list the Dockerfile's cache mounts: %v", err))
		return r
	}
	for _, name := range unmatched {
		r.warn(fmt.Sprintf("mount-caches lists %q, but no RUN --mount=type=cache of the built stages has that id or target", name))
	}
	if len(caches) == 0 {
		return r
	}
	// Each ecosystem's caches are keyed on its own files (KeyGlobs), hashed once.
	hashes := map[string]FilesHash{}
	for _, cache := range caches {
		eco := cacheEcosystem(cache)
		if _, ok := hashes[eco]; ok {
			continue
		}
		hash, err := HashFiles(ctx, req.ContextDir, KeyGlobs(req.HashFiles, eco))
		if err != nil {
			r.warn(err.Error())
			return r
		}
		hashes[eco] = hash
	}

	end := e.log.Group("Restore mount caches")
	r.endRestore = end
	if r.tmp, err = os.MkdirTemp(e.tempDir, "warmbuild-mounts-"); err != nil {
		r.warn(err.Error())
		return r
	}
	r.active = true
	if e.newHelper != nil {
		r.helper = e.newHelper(r.tmp, e.log.Writer())
	}
	serviceProblem := ""
	if r.store, err = e.openStore(); err != nil {
		r.store = nil
		serviceProblem = "no Actions cache service: " + err.Error()
		if !errors.Is(err, cacheservice.ErrNoService) {
			r.warn(serviceProblem)
		} else {
			e.log.Infof("Mount caches: %s", serviceProblem)
		}
	}

	if r.store != nil && (req.Reads || req.Save) && slices.ContainsFunc(caches, func(c Cache) bool { ok, _ := Flaggable(c); return ok }) {
		r.warmHelper(ctx)
		defer r.endWarmUnlessUsed()
	}
	keys := map[string]bool{}
	r.caches = caches
	for ci, cache := range caches {
		m := cache.Mounts[0]
		// The key covers the steps' inputs, not only the hashed files (issue 18).
		steps, err := HashSteps(ctx, req.ContextDir, req.ContextOnlyHashFiles, hashes[cacheEcosystem(cache)], cache)
		if err != nil {
			r.warn(err.Error())
			return r
		}
		platform := usedBy[ci][0]
		ms := &Outcome{cache: cache, ID: m.ID, CacheID: cache.CacheID, Target: m.Path, Hit: HitMiss,
			Key: Key(m, platform, steps.Hash), version: EntryVersion(cache), uncovered: steps.Uncovered,
			Ecosystem: cacheEcosystem(cache), platform: platform, Platform: platformField(usedBy[ci], plats)}
		r.res.Mounts = append(r.res.Mounts, ms)
		if ok, why := Flaggable(cache); !ok {
			ms.Restore, ms.Reason = RestoreNotCarried, "not carried: "+why
			e.log.Notice("Mount cache "+m.ID, ms.Reason)
			continue
		}
		if keys[ms.Key] {
			// Same id, other owners: a second BuildKit directory under the same key; its
			// entry is told apart by the version.
			ms.Reason = "shares its key with another mount of other owners; kept apart by the cache version"
		}
		keys[ms.Key] = true
		if r.store == nil {
			ms.Restore, ms.Reason = RestoreNoService, serviceProblem
			continue
		}
		if !req.Reads {
			ms.Restore, ms.Reason = RestoreNotAllowed, req.ReadReason
			e.log.Infof("Mount cache %s: %s", m.ID, ms.Reason)
			continue
		}
		if r.readDenied != "" {
			ms.Restore, ms.Reason = RestoreDenied, r.readDenied
			continue
		}
		start := time.Now()
		restored, inject := r.restoreOne(ctx, ms)
		r.restoreTime += time.Since(start)
		if inject {
			r.pending = append(r.pending, pendingInject{ms, restored})
		}
	}
	return r
}

// pendingInject is a mount Lookup found an entry of, to be injected.
type pendingInject struct {
	ms    *Outcome
	found restored
}

// Inject injects what Lookup found, in Dockerfile order, and ends the restore.
func (r *Run) Inject(ctx context.Context) {
	if r == nil {
		return
	}
	if r.endRestore != nil {
		defer r.endRestore()
	}
	if !r.active {
		return
	}
	start := time.Now()
	r.waitWarm()
	for _, p := range r.pending {
		r.startPrewarm(ctx, r.caches)
		r.injectOne(ctx, p.ms, p.found)
	}
	r.res.RestorePhases = append(r.res.RestorePhases, report.Phase{Name: "restore", Duration: r.restoreTime}, report.Phase{Name: "inject", Duration: time.Since(start)})
	r.early = r.planEarlySave(ctx)
}

// BuildMayStartBeside reports whether the build may start while Inject runs: there is
// something to inject, and every RUN step that uses a mount to be injected reads files of
// the build context (a COPY or ADD from it, a bind mount of it, in its stage or a stage it
// copies from). BuildKit runs such a step only after the context arrives, so a build whose
// context transfer is held until Inject returns cannot run it on a half-injected
// directory. False for a Git context, which BuildKit fetches itself.
func (r *Run) BuildMayStartBeside() bool {
	if r == nil || r.req.ContextOnlyHashFiles || len(r.pending) == 0 {
		return false
	}
	for _, p := range r.pending {
		for _, m := range p.ms.cache.Mounts {
			if len(m.ContextFiles) == 0 {
				return false
			}
		}
	}
	return true
}

// restored is what the lookup of one mount found: entry, and base when entry is a
// delta on it.
type restored struct{ entry, base StoreEntry }

// restoreOne looks ms's entry up: the key exactly, then a delta completing it, then the
// mount's newest entry. inject says whether it is to be injected.
func (r *Run) restoreOne(ctx context.Context, ms *Outcome) (found restored, inject bool) {
	m, log := ms.cache.Mounts[0], r.e.log
	ms.restoreKey = RestoreKey(m, ms.platform)
	entry, err := r.store.Restore(ctx, ms.Key, []string{ms.Key + "+", ms.restoreKey}, ms.version)
	var base StoreEntry
	if err == nil && entry != nil {
		var gone bool
		if base, gone, err = r.deltaBase(ctx, ms, entry); gone {
			entry = nil
		}
	}
	if msg, denied := cacheservice.ReadDenied(err); denied {
		// A miss with a warning, said once: every lookup of this job is refused alike.
		r.readDenied, r.res.ReadDenied = "not restored: the cache service denied reading: "+msg, msg
		ms.Restore, ms.Reason = RestoreDenied, r.readDenied
		r.warn(fmt.Sprintf("%s: %s%s", m.ID, ms.Reason, r.req.ReadDeniedHint))
		return found, false
	}
	if err != nil {
		ms.Restore, ms.Reason = RestoreFailed, "restore failed: "+err.Error()
		r.warn(fmt.Sprintf("%s: %s", m.ID, ms.Reason))
		return found, false
	}
	if entry == nil {
		ms.Restore = RestoreMissed
		if ms.Reason == "" {
			ms.Reason = "no cache entry yet"
		}
		log.Infof("Mount cache %s: miss (%s)", m.ID, ms.Key)
		return found, false
	}
	ms.MatchedKey = entry.Key()
	ms.fullBytes, ms.heldBytes = entry.Source().Size, entry.Source().Size
	if base != nil {
		ms.fullBytes = base.Source().Size
		ms.heldBytes = sumKnown(ms.fullBytes, ms.heldBytes)
	}
	ms.Hit = HitPartial
	exact := CompletesKey(entry.Key(), ms.Key)
	if exact {
		ms.Hit = HitExact
	}
	if exact && r.req.LayerCacheHoldsSteps && len(ms.uncovered) == 0 {
		// The key covers every input of the steps using the mount: the layer cache holds
		// the pip step, which will not run, so downloading and injecting would be pure
		// overhead.
		ms.Restore, ms.Reason = RestoreExactNotInjected, "exact hit: "+keyFilesWord(ms.Ecosystem)+" unchanged and the key covers every input of the step, the layer cache holds the "+stepWord(ms.Ecosystem)
		log.Infof("Mount cache %s: exact hit %s, not injected (%s)", m.ID, entry.Key(), ms.Reason)
		return found, false
	}
	if exact && r.req.LayerCacheHoldsSteps {
		ms.Reason = "exact hit, injected: the key does not cover every input of the step (" + ms.uncovered[0] + "), so the layer cache may not hold it"
		log.Infof("Mount cache %s: %s", m.ID, ms.Reason)
	}
	return restored{entry: entry, base: base}, true
}

// warmHelper has the helper send BuildKit what its builds share while the lookups wait
// on the service: the injection, or the save's extraction, then sends next to nothing.
// Inject and the save wait for it (two transfers of one named context at once would
// both send it all).
func (r *Run) warmHelper(ctx context.Context) {
	w, ok := r.helper.(Warmer)
	if !ok {
		return
	}
	ctx, r.warmCancel = context.WithCancel(ctx)
	r.warmed = w.Warm(ctx)
}

// endWarmUnlessUsed stops the warm build when no helper build will follow: nothing to
// inject, and nothing this run may save (a run that does not save, or whose every mount
// is an exact hit the layer cache holds).
func (r *Run) endWarmUnlessUsed() {
	if r.warmCancel == nil || len(r.pending) > 0 {
		return
	}
	saves := r.req.Save && slices.ContainsFunc(r.res.Mounts, func(ms *Outcome) bool {
		return ms.Restore != RestoreExactNotInjected && ms.Restore != RestoreNotCarried
	})
	if !saves {
		r.warmCancel()
		// Nothing waits for it: a cancelled solve returns only when BuildKit's client
		// gives up on the status stream, 5 s later (statusInactivityTimeout,
		// client/solve.go), which the restore would otherwise spend doing nothing.
		r.warmed = nil
	}
}

// waitWarm waits for the warm build, if one ran.
func (r *Run) waitWarm() {
	if r.warmed != nil {
		r.warmed()
	}
}

// deltaBase returns the full entry a restored delta completes, or nil for a full entry.
// A delta whose base is gone (evicted) is useless: entry is then treated as a miss.
func (r *Run) deltaBase(ctx context.Context, ms *Outcome, entry StoreEntry) (base StoreEntry, gone bool, err error) {
	baseKey := BaseKey(entry.Key(), ms.restoreKey)
	if baseKey == "" {
		return nil, false, nil
	}
	if base, err = r.store.Restore(ctx, baseKey, nil, ms.version); err != nil {
		return nil, false, err
	}
	if base == nil || !base.Exact() {
		ms.Reason = fmt.Sprintf("no cache entry: the base %s of delta %s is gone", baseKey, entry.Key())
		return nil, true, nil
	}
	return base, false, nil
}

// injectOne injects what restoreOne found into ms's cache directory.
func (r *Run) injectOne(ctx context.Context, ms *Outcome, found restored) {
	res, n, dlErr, err := r.downloadAndInject(ctx, ms, found.base, found.entry)
	ms.RestoredBytes = n
	if dlErr != nil || err != nil {
		if dlErr != nil {
			ms.Reason = "download failed, the " + stepWord(ms.Ecosystem) + " runs cold: " + dlErr.Error()
		} else {
			ms.Reason = "not injected, the " + stepWord(ms.Ecosystem) + " runs cold: " + err.Error()
		}
		ms.Restore, ms.Hit, ms.base = RestoreInjectFailed, HitMiss, nil
		r.warn(fmt.Sprintf("%s: %s", ms.ID, ms.Reason))
		return
	}
	ms.Restore, ms.Injected = RestoreInjected, true
	ms.restoredDigest = res.Report.PathsDigest
	if res.Report.Status == mounthelper.InjectKept {
		ms.Restore = RestoreKept
		ms.Reason = "the builder already holds this cache directory; kept its content"
		ms.base = nil // the restored archives were not read
	}
	from := found.entry.Key()
	if found.base != nil {
		from = found.base.Key() + " + delta " + found.entry.Key()
	}
	r.e.log.Infof("Mount cache %s: %s hit %s, injected %d files (%s)", ms.ID, ms.Hit, from, res.Report.Files, report.Bytes(n))
}

// downloadAndInject has the inject helper download the entry (after its base, for a
// delta) from inside the build; where the build cannot reach the storage it streams the
// download through the session into the helper instead. Either way downloading and
// unpacking overlap, and the full entry's archive is listed on the way (archive.List),
// so the save can store a delta on it. dlErr is set when a download broke (the helper
// then refuses the cut stream, and the error should name the download, not the archive).
func (r *Run) downloadAndInject(ctx context.Context, ms *Outcome, base, e StoreEntry) (res InjectResult, n int64, dlErr, err error) {
	if r.helper == nil {
		return res, 0, nil, errors.New("no helper to run inside BuildKit")
	}
	full := e
	if base != nil {
		full = base
	}
	if !r.streamOnly {
		// First choice: the helper fetches the storage URLs itself, inside the build.
		srcs := []cacheservice.Source{full.Source()}
		entries := []StoreEntry{full}
		if base != nil {
			srcs = append(srcs, e.Source())
			entries = append(entries, e)
		}
		// The helper asks for a fresh URL when its own has expired (masked by the
		// client's WithMask as the service hands it out, before it leaves this process).
		fresh := func(ctx context.Context, i int) (string, error) {
			s, err := entries[i].FreshSource(ctx)
			if err != nil {
				// The reason stays here: the answer goes into the build's log.
				r.e.log.Infof("Mount cache %s: no fresh URL for the in-build download: %v", ms.ID, err)
				return "", fmt.Errorf("the cache service gave no fresh URL for %s", entries[i].Key())
			}
			return s.URL, nil
		}
		res, manifest, err := r.helper.InjectSources(ctx, ms.cache, srcs, fresh, r.req.BuildArgs)
		if !errors.Is(err, ErrUnreachable) {
			if err == nil && manifest != nil {
				ms.base, ms.baseKey = manifest, full.Key()
			}
			return res, res.Report.StreamBytes, nil, err
		}
		if uerr := full.Unreachable(); uerr != nil {
			// Unreachable from the build and from here: streaming would only spend
			// more retries on it.
			return res, 0, fmt.Errorf("the cache storage answers neither the build nor the action: %w", uerr), nil
		}
		r.streamOnly = true
		r.e.log.Infof("Mount cache %s: %v; streaming it through the session instead", ms.ID, err)
	}
	fullBody := full.Open(ctx)
	defer fullBody.Close()
	listed, wait := archive.ListWhileReading(ctx, fullBody, archive.Limits{})
	src := &trackingReader{r: listed}
	var stream io.Reader = src
	var delta *trackingReader
	if base != nil {
		deltaBody := e.Open(ctx)
		defer deltaBody.Close()
		delta = &trackingReader{r: deltaBody}
		stream = io.MultiReader(src, delta)
	}
	res, err = r.helper.InjectStream(ctx, ms.cache, stream, r.req.BuildArgs)
	if m, lerr := wait(); lerr == nil && err == nil {
		ms.base, ms.baseKey = &m, full.Key()
	}
	n, dlErr = src.n, src.err
	if delta != nil {
		n += delta.n
		if dlErr == nil {
			dlErr = delta.err
		}
	}
	return res, n, dlErr, err
}

// trackingReader counts bytes and remembers a read error other than the end of the
// stream. The end is io.EOF itself, compared with == as io.Reader's contract and
// io.MultiReader do: a wrapped io.EOF is a broken download, not the end of one.
type trackingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && err != io.EOF { //nolint:errorlint // the io.Reader contract: EOF is returned unwrapped
		t.err = err
	}
	return n, err
}

// startPrewarm unpacks the base images of the carried mounts' stages in the background:
// a RUN that gets an injected cache is about to run, and on a new runner the build
// would otherwise start by unpacking its base after the injection.
func (r *Run) startPrewarm(ctx context.Context, caches []Cache) {
	r.prewarmOnce.Do(func() {
		if r.e.prewarm == nil {
			return
		}
		var images []string
		for _, cache := range caches {
			for _, m := range cache.Mounts {
				if m.BaseImage != "" && !slices.Contains(images, m.BaseImage) {
					images = append(images, m.BaseImage)
				}
			}
		}
		if len(images) == 0 {
			return
		}
		r.prewarmDone = make(chan struct{})
		pctx, stop := context.WithCancel(ctx)
		r.prewarmStop = stop
		prewarm, platform := r.e.prewarm, r.platform
		go func() {
			// Writes prewarmLog only; EndPrewarm reads it after prewarmDone is closed.
			defer close(r.prewarmDone)
			for _, img := range images {
				start := time.Now()
				if err := prewarm(pctx, img, platform); err != nil {
					if pctx.Err() != nil && ctx.Err() == nil {
						r.prewarmLog = append(r.prewarmLog, fmt.Sprintf("Base image %s: prewarm stopped after %.2fs, the build was done without it", img, time.Since(start).Seconds()))
						return
					}
					// The build pulls and unpacks it itself; nothing is lost.
					r.prewarmLog = append(r.prewarmLog, err.Error())
					continue
				}
				r.prewarmLog = append(r.prewarmLog, fmt.Sprintf("Base image %s pulled and unpacked in %.2fs, started with the injection", img, time.Since(start).Seconds()))
			}
		}()
	})
}

// EndPrewarm is called once the build is done: a prewarm still running is of no more
// use (a failed build, or one that never needed the base), so it is stopped rather than
// waited for. Then it says what the prewarm did.
func (r *Run) EndPrewarm(ctx context.Context) {
	if r == nil || r.prewarmDone == nil {
		return
	}
	r.prewarmStop()
	select {
	case <-r.prewarmDone:
	case <-ctx.Done():
		return
	}
	for _, l := range r.prewarmLog {
		r.e.log.Infof("%s", l)
	}
}

// DefaultPlatform is the platform the daemon builds for when the build names none.
func DefaultPlatform(ctx context.Context, c *client.Client) (string, error) {
	ws, err := c.ListWorkers(ctx)
	if err != nil {
		return "", fmt.Errorf("ask BuildKit for its platform: %w", err)
	}
	for _, w := range ws {
		if len(w.Platforms) > 0 {
			return platforms.Format(platforms.Normalize(w.Platforms[0])), nil
		}
	}
	return "", errors.New("BuildKit reports no worker platform")
}

type discardLogger struct{}

func (discardLogger) Infof(string, ...any)   {}
func (discardLogger) Notice(string, string)  {}
func (discardLogger) Warning(string, string) {}
func (discardLogger) Group(string) func()    { return func() {} }
func (discardLogger) Writer() io.Writer      { return io.Discard }

func (s RestoreStatus) String() string {
	names := [...]string{"not-carried", "no-service", "not-allowed", "denied", "failed", "missed", "exact-not-injected", "inject-failed", "injected", "kept"}
	if int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("RestoreStatus(%d)", int(s))
}

func (s SaveStatus) String() string {
	names := [...]string{"not-tried", "saved", "skipped", "failed"}
	if int(s) < len(names) {
		return names[s]
	}
	return fmt.Sprintf("SaveStatus(%d)", int(s))
}

func (r SaveReason) String() string {
	names := [...]string{"none", "no-service", "build-failed", "policy-skip", "write-denied", "unchanged", "not-carried", "empty", "nothing-changed", "already-exists", "extract-failed", "upload-failed"}
	if int(r) < len(names) {
		return names[r]
	}
	return fmt.Sprintf("SaveReason(%d)", int(r))
}

// stepWord names the step that uses a mount in messages: "pip step", "pnpm step", or
// "step" for a mount of no known ecosystem.
func stepWord(eco string) string {
	if eco == "" {
		return "step"
	}
	return eco + " step"
}

// keyFilesWord names what keys a cache in messages: the Python tools' requirements,
// another ecosystem's lockfiles, or, for one keyed on its command alone (apt), that.
func keyFilesWord(eco string) string {
	e, ok := EcosystemNamed(eco)
	switch {
	case !ok:
		return "its key files"
	case e.Python:
		return "requirements"
	case len(e.KeyFiles) == 0:
		return "the command"
	}
	return "lockfiles"
}
