package run

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/layercache"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// Mount cache hit values (output mount-cache-hit).
const (
	hitExact   = "exact"
	hitPartial = "partial"
	hitMiss    = "miss"
	hitNone    = "none"
)

// mountRun carries the mount caches of one run from restore to save.
type mountRun struct {
	service *cacheservice.Client // nil: no cache service, nothing restored or saved
	helper  mountcache.HelperBuild
	tmp     string // removed when the run ends
	mounts  []*mountState
	// streamOnly is set once the build could not reach the cache storage itself.
	streamOnly bool
	// readDenied and writeDenied are set once the service refused this job's token a read
	// or a write ("cache read denied: ..."): the other mounts are not asked again.
	readDenied, writeDenied string
	// readDeniedMsg and writeDeniedMsg are the service's own messages of those refusals.
	readDeniedMsg, writeDeniedMsg string
	// prewarm unpacks the carried mounts' base images while they are injected.
	prewarmOnce sync.Once
	prewarmDone chan struct{}
	prewarmStop context.CancelFunc
	prewarmLog  []string // what the prewarm did, printed once it is done
}

// startPrewarm unpacks the base images of the carried mounts' stages in the background:
// a RUN that gets an injected cache is about to run, and on a new runner the build
// would otherwise start by unpacking its base after the injection.
func (r *runner) startPrewarm(ctx context.Context, mr *mountRun, caches []mountcache.Cache, platform string) {
	mr.prewarmOnce.Do(func() {
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
		mr.prewarmDone = make(chan struct{})
		pctx, stop := context.WithCancel(ctx)
		mr.prewarmStop = stop
		c, cfgDir := mr.helper.Client, r.plan.Request.DockerConfigDir
		go func() {
			defer close(mr.prewarmDone)
			for _, img := range images {
				start := time.Now()
				if err := builder.Prewarm(pctx, c, img, platform, cfgDir); err != nil {
					if pctx.Err() != nil && ctx.Err() == nil {
						mr.prewarmLog = append(mr.prewarmLog, fmt.Sprintf("Base image %s: prewarm stopped after %.2fs, the build was done without it", img, time.Since(start).Seconds()))
						return
					}
					// The build pulls and unpacks it itself; nothing is lost.
					mr.prewarmLog = append(mr.prewarmLog, err.Error())
					continue
				}
				mr.prewarmLog = append(mr.prewarmLog, fmt.Sprintf("Base image %s pulled and unpacked in %.2fs, started with the injection", img, time.Since(start).Seconds()))
			}
		}()
	})
}

// endPrewarm is called once the build is done: a prewarm still running is of no more
// use (a failed build, or one that never needed the base), so it is stopped rather than
// waited for. Then it says what the prewarm did.
func (mr *mountRun) endPrewarm(ctx context.Context, log func(format string, args ...any)) {
	if mr == nil || mr.prewarmDone == nil {
		return
	}
	mr.prewarmStop()
	select {
	case <-mr.prewarmDone:
	case <-ctx.Done():
		return
	}
	for _, l := range mr.prewarmLog {
		log("%s", l)
	}
}

// mountState is one BuildKit cache directory (mountcache.Cache) and what happened to it;
// it is also the JSON of one mount-cache-report entry.
type mountState struct {
	cache mountcache.Cache

	ID         string `json:"id"`
	CacheID    string `json:"cacheId"`
	Target     string `json:"target"`
	Key        string `json:"key"`
	MatchedKey string `json:"matchedKey,omitempty"`
	Hit        string `json:"hit"`
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
	StepCached *bool                `json:"stepCached,omitempty"`
	Pip        *mountcache.PipStats `json:"pip,omitempty"`

	version        string
	restoredDigest string // paths digest of what was injected
	// base is what the restored full entry held (the base of a restored delta), read
	// while it streamed into the build: a save can then store only what changed.
	base       *archive.Manifest
	baseKey    string
	restoreKey string
}

// restoreMounts finds the selected cache mounts, restores their newest entries and
// injects them into the daemon's cache directories. Cache problems are warnings; only
// bad input is an error.
func (r *runner) restoreMounts(ctx context.Context, c *client.Client) (*mountRun, error) {
	in := r.in
	sel, err := mountcache.ParseSelector(in.MountCache.Select)
	if err != nil {
		return nil, err
	}
	if sel.String() == "none" {
		return nil, nil
	}
	dockerfile, err := os.ReadFile(in.File)
	if err != nil {
		r.mountWarning(fmt.Sprintf("cannot read the Dockerfile: %v", err))
		return nil, nil
	}
	platform := ""
	if len(in.Platforms) > 0 {
		platform = in.Platforms[0]
	} else if platform, err = defaultPlatform(ctx, c); err != nil {
		r.mountWarning(err.Error())
		return nil, nil
	}
	found, err := mountcache.Discover(dockerfile, mountcache.Options{BuildArgs: in.BuildArgs, Target: in.Target, Platform: platform})
	if err != nil {
		r.mountWarning(fmt.Sprintf("cannot list the Dockerfile's cache mounts: %v", err))
		return nil, nil
	}
	selected, unmatched := sel.Select(found)
	for _, name := range unmatched {
		r.mountWarning(fmt.Sprintf("mount-caches lists %q, but no RUN --mount=type=cache of the built stages has that id or target", name))
	}
	caches := mountcache.Caches(selected)
	if len(caches) == 0 {
		return nil, nil
	}
	hash, err := mountcache.HashFiles(ctx, in.Context, in.MountCache.HashFiles)
	if err != nil {
		var ie *inputs.Error
		if errors.As(err, &ie) {
			return nil, err
		}
		r.mountWarning(err.Error())
		return nil, nil
	}

	end := r.rep.Group("Restore mount caches")
	defer end()
	// WARMBUILD_MOUNT_TRANSFER=stream skips the in-build download (and its reachability
	// probe) where the build is known to have no route to the cache storage.
	mr := &mountRun{streamOnly: r.renv.StreamMounts()}
	if mr.tmp, err = os.MkdirTemp(r.renv.RunnerTemp, "warmbuild-mounts-"); err != nil {
		r.mountWarning(err.Error())
		return nil, nil
	}
	exe, err := os.Executable()
	if err != nil {
		r.mountWarning(fmt.Sprintf("cannot find this program to run it inside BuildKit: %v", err))
	}
	mr.helper = mountcache.HelperBuild{Client: c, Binary: exe, Platform: firstOr(in.Platforms, ""), TempDir: mr.tmp, Progress: r.rep.Writer()}
	// 4 parallel 4 MiB blocks: enough to fill a runner's link to the blob store while the
	// transfer buffers stay near 20 MB, whatever the cache's size.
	mr.service, err = r.plan.CacheClient(
		cacheservice.WithParallelism(4), cacheservice.WithBlockSize(4<<20),
		cacheservice.WithWarnf(func(f string, a ...any) { r.rep.Infof("cache service: "+f, a...) }),
		// Signed storage URLs are masked the moment the service hands them out.
		cacheservice.WithMask(r.rep.Mask))
	serviceProblem := ""
	if err != nil {
		serviceProblem = "no Actions cache service: " + err.Error()
		if !errors.Is(err, cacheservice.ErrNoService) {
			r.mountWarning(serviceProblem)
		} else {
			r.rep.Infof("Mount caches: %s", serviceProblem)
		}
	}

	keys := map[string]bool{}
	var restoreTime, injectTime time.Duration
	for _, cache := range caches {
		m := cache.Mounts[0]
		ms := &mountState{cache: cache, ID: m.ID, CacheID: cache.CacheID, Target: m.Path, Hit: hitMiss,
			Key: mountcache.Key(m, platform, hash.Hash), version: mountcache.EntryVersion(cache)}
		mr.mounts = append(mr.mounts, ms)
		if ok, why := mountcache.Flaggable(cache); !ok {
			ms.Reason = "not carried: " + why
			r.rep.Notice("Mount cache "+m.ID, ms.Reason)
			continue
		}
		if keys[ms.Key] {
			// Same id, other owners: a second BuildKit directory under the same key; its
			// entry is told apart by the version.
			ms.Reason = "shares its key with another mount of other owners; kept apart by the cache version"
		}
		keys[ms.Key] = true
		if mr.service == nil {
			ms.Reason = serviceProblem
			continue
		}
		if d := r.plan.Decision; !d.Access.Reads() {
			ms.Reason = d.ReadReason
			r.rep.Infof("Mount cache %s: %s", m.ID, ms.Reason)
			continue
		}
		if mr.readDenied != "" {
			ms.Reason = mr.readDenied
			continue
		}
		start := time.Now()
		restoreKey := mountcache.RestoreKey(m, platform)
		ms.restoreKey = restoreKey
		// The key exactly, then a delta completing it, then the mount's newest entry.
		entry, err := mr.service.Restore(ctx, ms.Key, []string{ms.Key + "+", restoreKey}, ms.version)
		var base *cacheservice.Entry
		if err == nil && entry != nil {
			var gone bool
			if base, gone, err = r.deltaBase(ctx, mr, ms, entry, restoreKey); gone {
				entry = nil
			}
		}
		if msg, denied := cacheservice.ReadDenied(err); denied {
			// A miss with a warning, said once: every lookup of this job is refused alike.
			restoreTime += time.Since(start)
			mr.readDenied, mr.readDeniedMsg = "not restored: the cache service denied reading: "+msg, msg
			ms.Reason = mr.readDenied
			r.mountWarning(fmt.Sprintf("%s: %s%s%s", m.ID, ms.Reason, deniedHint(r.plan.Decision.Access), readDeniedNote(r.plan.LayerCache)))
			continue
		}
		if err != nil {
			restoreTime += time.Since(start)
			ms.Reason = "restore failed: " + err.Error()
			r.mountWarning(fmt.Sprintf("%s: %s", m.ID, ms.Reason))
			continue
		}
		if entry == nil {
			restoreTime += time.Since(start)
			if ms.Reason == "" {
				ms.Reason = "no cache entry yet"
			}
			r.rep.Infof("Mount cache %s: miss (%s)", m.ID, ms.Key)
			continue
		}
		ms.MatchedKey = entry.Key
		ms.Hit = hitPartial
		exact := mountcache.CompletesKey(entry.Key, ms.Key)
		if exact {
			ms.Hit = hitExact
		}
		if exact && r.plan.LayerCache.Backend != layercache.BackendNone && !in.NoCache {
			// Requirements unchanged: the layer cache holds the pip step, which will not
			// run, so downloading and injecting would be pure overhead.
			restoreTime += time.Since(start)
			ms.Reason = "exact hit: requirements unchanged, the layer cache holds the pip step"
			r.rep.Infof("Mount cache %s: exact hit %s, not injected (%s)", m.ID, entry.Key, ms.Reason)
			continue
		}
		restoreTime += time.Since(start)
		start = time.Now()
		r.startPrewarm(ctx, mr, caches, platform)
		res, n, dlErr, err := r.downloadAndInject(ctx, mr, ms, base, entry)
		injectTime += time.Since(start)
		ms.RestoredBytes = n
		if dlErr != nil || err != nil {
			if dlErr != nil {
				ms.Reason = "download failed, the pip step runs cold: " + dlErr.Error()
			} else {
				ms.Reason = "not injected, the pip step runs cold: " + err.Error()
			}
			ms.Hit, ms.base = hitMiss, nil
			r.mountWarning(fmt.Sprintf("%s: %s", m.ID, ms.Reason))
			continue
		}
		ms.Injected = true
		ms.restoredDigest = res.Report.PathsDigest
		if res.Report.Status == mounthelper.InjectKept {
			ms.Reason = "the builder already holds this cache directory; kept its content"
			ms.base = nil // the restored archives were not read
		}
		from := entry.Key
		if base != nil {
			from = base.Key + " + delta " + entry.Key
		}
		r.rep.Infof("Mount cache %s: %s hit %s, injected %d files (%s)", m.ID, ms.Hit, from, res.Report.Files, report.Bytes(n))
	}
	r.phases = append(r.phases, report.Phase{Name: "restore", Duration: restoreTime}, report.Phase{Name: "inject", Duration: injectTime})
	return mr, nil
}

// earlySave runs the extraction and save of the mount caches while BuildKit exports the
// image and the layer cache: every build step has finished when the first exporter
// starts, so the cache directories hold their final content. Its log is buffered and
// printed after the build's log, so the two do not interleave.
type earlySave struct {
	once    sync.Once
	started bool
	done    chan struct{}
	log     bytes.Buffer
	run     func(rep *report.Reporter) []report.Phase
	phases  []report.Phase // read after done
}

// start is the solve's export-start callback; it must not block.
func (e *earlySave) start() {
	e.once.Do(func() {
		e.started = true
		go func() {
			defer close(e.done)
			e.phases = e.run(report.New(&e.log, func(string) string { return "" }))
		}()
	})
}

// planEarlySave returns the early save of mr's caches, or nil when this run saves none.
func (r *runner) planEarlySave(ctx context.Context, mr *mountRun) *earlySave {
	if mr == nil {
		return nil
	}
	pending := false
	for _, ms := range mr.mounts {
		if r.skipSave(mr, ms, nil) == "" {
			pending = true
		}
	}
	if !pending {
		return nil
	}
	e := &earlySave{done: make(chan struct{})}
	e.run = func(rep *report.Reporter) []report.Phase { return r.extractAndSave(ctx, mr, rep, true) }
	return e
}

// saveMounts reads what the build did with the mounts (pip's log, whether the layer
// cache skipped the step) and makes sure the changed caches are saved: it waits for the
// early save, or, when the build exported nothing, extracts and saves now. It never
// fails the run.
func (r *runner) saveMounts(ctx context.Context, mr *mountRun, early *earlySave, res *builder.Result, buildErr error) {
	if mr == nil {
		return
	}
	defer os.RemoveAll(mr.tmp)
	defer r.mountResults(mr)
	if early != nil && early.started {
		// First: until it is done, the early save owns the mounts' save fields and
		// the run's warnings.
		<-early.done
		_, _ = r.rep.Writer().Write(early.log.Bytes())
		r.pipStats(mr, res)
		r.phases = append(r.phases, early.phases...)
		return
	}
	r.pipStats(mr, res)
	for _, ms := range mr.mounts {
		ms.SaveNote = r.skipSave(mr, ms, buildErr)
	}
	r.phases = append(r.phases, r.extractAndSave(ctx, mr, r.rep, false)...)
}

// skipSave says why ms is not saved, or "" when it is extracted and saved.
func (r *runner) skipSave(mr *mountRun, ms *mountState, buildErr error) string {
	switch {
	case mr.service == nil:
		return "no cache service"
	case buildErr != nil:
		return "not saved: the build failed"
	case !r.plan.Decision.Save:
		return "not saved: " + r.plan.Decision.Reason
	case mr.writeDenied != "":
		return mr.writeDenied
	case ms.Hit == hitExact:
		return "unchanged: an entry with this key exists"
	case strings.HasPrefix(ms.Reason, "not carried"):
		return "not carried"
	}
	return ""
}

// extractAndSave extracts each cache that skipSave lets through and stores it, logging
// to rep, and returns its phases. during says it runs while BuildKit exports (its phases
// overlap the build's); it then must not touch r.phases, which the build's goroutine
// still appends to.
func (r *runner) extractAndSave(ctx context.Context, mr *mountRun, rep *report.Reporter, during bool) (phases []report.Phase) {
	var extractTime, saveTime time.Duration
	defer func() {
		overlap := ""
		if during {
			overlap = "export"
		}
		phases = []report.Phase{
			{Name: "extract", Duration: extractTime, During: overlap},
			{Name: "save", Duration: saveTime, During: overlap}}
	}()
	helper := mr.helper
	helper.Progress = rep.Writer()
	// Annotated in rep's log, recorded in the run's cache-warnings (safe from this goroutine).
	warn := r.warn.Via(rep).Mount
	for _, ms := range mr.mounts {
		if note := r.skipSave(mr, ms, nil); note != "" {
			ms.SaveNote = note
			continue
		}
		if ms.SaveNote != "" {
			continue
		}
		title := "Save mount cache " + ms.ID
		if during {
			title += " (while BuildKit exports)"
		}
		end := rep.Group(title)
		start := time.Now()
		outDir := filepath.Join(mr.tmp, "extract-"+sanitizeName(ms.ID))
		// A delta on the restored full entry, when its key fits; a full archive otherwise.
		saveKey, deltaOn := ms.Key, ms.base
		if deltaOn != nil {
			k, ok := mountcache.DeltaKey(ms.Key, ms.baseKey, ms.restoreKey)
			if ok {
				saveKey = k
			} else {
				deltaOn = nil
			}
		}
		ex, err := helper.Extract(ctx, ms.cache, ms.restoredDigest, deltaOn, r.in.MountCache.MaxSize.Bytes(), r.in.BuildArgs, outDir)
		extractTime += time.Since(start)
		if err != nil {
			ms.SaveNote = "not saved: extraction failed"
			warn(fmt.Sprintf("%s: %v", ms.ID, err))
			end()
			continue
		}
		if ex.PrunedFiles > 0 {
			rep.Infof("Mount cache %s: pruned %d least recently used files (%s) to stay under %s", ms.ID, ex.PrunedFiles, report.Bytes(ex.PrunedBytes), report.Bytes(r.in.MountCache.MaxSize.Bytes()))
		}
		file := mountcache.ExtractedArchive(outDir)
		switch ex.Status {
		case mounthelper.ExtractEmpty:
			ms.SaveNote = "not saved: the cache mount is empty"
			end()
			continue
		case mounthelper.ExtractUnchanged:
			ms.SaveNote = "unchanged"
			end()
			continue
		case mounthelper.ExtractDelta:
			ms.DeltaOn = ms.baseKey
			rep.Infof("Mount cache %s: %d of %d files changed since %s (%s); saving them as a delta", ms.ID, ex.DeltaFiles, ex.Files, ms.baseKey, report.Bytes(ex.DeltaBytes))
		default:
			saveKey = ms.Key
		}
		start = time.Now()
		n, note, err := saveFile(ctx, mr.service, saveKey, ms.version, file)
		saveTime += time.Since(start)
		deniedMsg, denied := cacheservice.WriteDenied(err)
		switch {
		case denied:
			// GitHub's words, once; the other mounts are not extracted for nothing.
			mr.writeDenied, mr.writeDeniedMsg = "not saved: the cache service denied the write: "+deniedMsg, deniedMsg
			ms.SaveNote = mr.writeDenied
			warn(fmt.Sprintf("%s: %s%s", ms.ID, ms.SaveNote, deniedHint(r.plan.Decision.Access)))
		case err != nil:
			ms.SaveNote = "not saved: " + err.Error()
			warn(fmt.Sprintf("%s: %v", ms.ID, err))
		case note != "":
			ms.SaveNote = note
		default:
			ms.Saved, ms.SavedBytes, ms.SavedKey = true, n, saveKey
			r.savedMountKeys = append(r.savedMountKeys, saveKey)
			if ms.DeltaOn != "" {
				ms.SaveNote = fmt.Sprintf("delta of %d files on %s", ex.DeltaFiles, ms.DeltaOn)
			}
			rep.Infof("Mount cache %s: saved %s as %s", ms.ID, report.Bytes(n), saveKey)
		}
		end()
	}
	return phases // set by the deferred func
}

// pipStats reads pip's log lines from the RUN steps that use the carried mounts, and
// whether the layer cache skipped them.
func (r *runner) pipStats(mr *mountRun, res *builder.Result) {
	if res == nil {
		return
	}
	var all []mountcache.Mount
	for _, ms := range mr.mounts {
		match := usesMount(ms.cache.Mounts)
		if log := res.Logs(match); log != "" {
			st := mountcache.ParsePipLog(log)
			if st.Total > 0 {
				ms.Pip = &st
			}
		}
		for _, s := range res.Steps.Steps {
			if match(s.Name) {
				cached := s.Cached
				ms.StepCached = &cached
			}
		}
		if ms.Hit == hitExact && !ms.Injected && ms.StepCached != nil && !*ms.StepCached {
			hint := fmt.Sprintf("mount cache %s: the requirements did not change, but the layer cache missed the step that uses it, so it ran without its cache; it will be fast again once the layer cache of this run is saved", ms.ID)
			r.res.Hints = append(r.res.Hints, hint)
			r.warn.Notice("Mount cache", hint)
		}
		all = append(all, ms.cache.Mounts...)
	}
	// Outputs count each RUN once, even when it uses several carried mounts.
	st := mountcache.ParsePipLog(res.Logs(usesMount(all)))
	r.res.PipTotal, r.res.PipCached = st.Total, st.Cached
}

// usesMount matches the vertices of RUN steps that declare one of mounts. The frontend
// names them after the instruction as written, flags included.
func usesMount(mounts []mountcache.Mount) func(string) bool {
	return func(name string) bool {
		if !strings.Contains(name, "RUN ") || !strings.Contains(name, "--mount") {
			return false
		}
		for _, m := range mounts {
			if strings.Contains(name, m.Target) || (m.ExplicitID && strings.Contains(name, "id="+m.ID)) {
				return true
			}
		}
		return false
	}
}

// mountResults puts what happened to the mounts into the run's result, from which
// mount-cache-hit, mount-cache-report, the byte counts and the summary's mount table are made.
func (r *runner) mountResults(mr *mountRun) {
	r.res.Mounts = make([]report.MountEntry, 0, len(mr.mounts))
	for _, ms := range mr.mounts {
		r.res.Mounts = append(r.res.Mounts, mountEntry(ms))
	}
}

// mountEntry is the one mapping of a mount's state to its mount-cache-report entry.
func mountEntry(ms *mountState) report.MountEntry {
	e := report.MountEntry{
		ID: ms.ID, CacheID: ms.CacheID, Target: ms.Target, Key: ms.Key, MatchedKey: ms.MatchedKey,
		Hit: ms.Hit, Injected: ms.Injected, Reason: ms.Reason, RestoredBytes: ms.RestoredBytes,
		Saved: ms.Saved, SavedBytes: ms.SavedBytes, SaveNote: ms.SaveNote, SavedKey: ms.SavedKey,
		DeltaOn: ms.DeltaOn, StepCached: ms.StepCached,
	}
	if p := ms.Pip; p != nil {
		e.Pip = &report.PipCounts{Total: p.Total, Cached: p.Cached, Downloaded: p.Downloaded, Built: p.Built}
	}
	return e
}

func (r *runner) mountWarning(msg string) {
	r.warn.Mount(msg)
}

// defaultPlatform is the platform the daemon builds for when the build names none.
func defaultPlatform(ctx context.Context, c *client.Client) (string, error) {
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

// deltaBase returns the full entry a restored delta completes, or nil for a full entry.
// A delta whose base is gone (evicted) is useless: entry is then treated as a miss.
func (r *runner) deltaBase(ctx context.Context, mr *mountRun, ms *mountState, entry *cacheservice.Entry, restoreKey string) (base *cacheservice.Entry, gone bool, err error) {
	baseKey := mountcache.BaseKey(entry.Key, restoreKey)
	if baseKey == "" {
		return nil, false, nil
	}
	if base, err = mr.service.Restore(ctx, baseKey, nil, ms.version); err != nil {
		return nil, false, err
	}
	if base == nil || !base.Exact {
		ms.Reason = fmt.Sprintf("no cache entry: the base %s of delta %s is gone", baseKey, entry.Key)
		return nil, true, nil
	}
	return base, false, nil
}

// downloadAndInject has the inject helper download the entry (after its base, for a
// delta) from inside the build; where the build cannot reach the storage it streams the
// download through the session into the helper instead. Either way downloading and
// unpacking overlap, and the full entry's archive is listed on the way (archive.List),
// so the save can store a delta on it. dlErr is set when a download broke (the helper then refuses the cut
// stream, and the error should name the download, not the archive).
func (r *runner) downloadAndInject(ctx context.Context, mr *mountRun, ms *mountState, base, e *cacheservice.Entry) (res mountcache.InjectResult, n int64, dlErr, err error) {
	full := e
	if base != nil {
		full = base
	}
	if !mr.streamOnly {
		// First choice: the helper fetches the storage URLs itself, inside the build.
		srcs := []cacheservice.Source{full.Source()}
		entries := []*cacheservice.Entry{full}
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
				r.rep.Infof("Mount cache %s: no fresh URL for the in-build download: %v", ms.ID, err)
				return "", fmt.Errorf("the cache service gave no fresh URL for %s", entries[i].Key)
			}
			return s.URL, nil
		}
		res, manifest, err := mr.helper.InjectSources(ctx, ms.cache, srcs, fresh, r.in.BuildArgs)
		if !errors.Is(err, mountcache.ErrUnreachable) {
			if err == nil && manifest != nil {
				ms.base, ms.baseKey = manifest, full.Key
			}
			return res, res.Report.StreamBytes, nil, err
		}
		if uerr := full.Unreachable(); uerr != nil {
			// Unreachable from the build and from here: streaming would only spend
			// more retries on it.
			return res, 0, fmt.Errorf("the cache storage answers neither the build nor the action: %w", uerr), nil
		}
		mr.streamOnly = true
		r.rep.Infof("Mount cache %s: %v; streaming it through the session instead", ms.ID, err)
	}
	fullBody := full.Open(ctx)
	defer fullBody.Close()
	listed, wait := archive.ListWhileReading(ctx, fullBody, archive.Limits{})
	src := &trackingReader{r: listed}
	var stream io.Reader = src
	if base != nil {
		deltaBody := e.Open(ctx)
		defer deltaBody.Close()
		delta := &trackingReader{r: deltaBody}
		defer func() { n += delta.n; dlErr = cmp.Or(dlErr, delta.err) }()
		stream = io.MultiReader(src, delta)
	}
	res, err = mr.helper.InjectStream(ctx, ms.cache, stream, r.in.BuildArgs)
	if m, lerr := wait(); lerr == nil && err == nil {
		ms.base, ms.baseKey = &m, full.Key
	}
	return res, src.n, src.err, err
}

// trackingReader counts bytes and remembers a read error other than EOF.
type trackingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (t *trackingReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.n += int64(n)
	if err != nil && !errors.Is(err, io.EOF) {
		t.err = err
	}
	return n, err
}

// saveFile uploads path; note is set when the service already has the key (its 409
// already_exists answer; any other refusal is an error carrying the service's message).
func saveFile(ctx context.Context, svc *cacheservice.Client, key, version, path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	res, err := svc.Save(ctx, key, version, f)
	if err != nil {
		return 0, "", err
	}
	if res.AlreadyExists {
		return 0, "not saved: the cache already has an entry with this key (another run saved it first)", nil
	}
	return res.Size, "", nil
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == '.' {
			return '-'
		}
		return r
	}, s)
}
