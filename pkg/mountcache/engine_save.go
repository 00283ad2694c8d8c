package mountcache

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// Build is what Save reads of the finished build.
type Build struct {
	// Err is the solve's error: nothing is saved after a failed build.
	Err error
	// Logs returns the log lines of the steps match accepts; nil when the build
	// produced no result (nothing is then read of it).
	Logs func(match func(name string) bool) string
	// Steps are the build's steps, to tell whether the layer cache skipped a RUN.
	Steps []builder.Step
}

// BuildOf is the Build of a solve's result and error.
func BuildOf(res *builder.Result, err error) Build {
	b := Build{Err: err}
	if res != nil {
		b.Logs, b.Steps = res.Logs, res.Steps.Steps
	}
	return b
}

// earlySave runs the extraction and save of the mount caches while BuildKit exports the
// image and the layer cache: every build step has finished when the first exporter
// starts, so the cache directories hold their final content.
//
// Its goroutine writes nothing the Run shares: it computes a saveBatch and logs to a
// tape, and Save (on the caller's goroutine) reads both only after done is closed. The
// tape is replayed after the build's log, so the two do not interleave.
type earlySave struct {
	once    sync.Once
	started bool // set by start, read by Save after the solve returned
	done    chan struct{}
	tape    logTape
	run     func(log Logger) saveBatch
	batch   saveBatch // written by the goroutine, read after done
}

// start is the solve's export-start callback; it must not block.
func (e *earlySave) start() {
	e.once.Do(func() {
		e.started = true
		go func() {
			defer close(e.done)
			e.batch = e.run(&e.tape)
		}()
	})
}

// planEarlySave returns the early save of the run's caches, or nil when it saves none.
func (r *Run) planEarlySave(ctx context.Context) *earlySave {
	if !r.active {
		return nil
	}
	pending := false
	for _, ms := range r.res.Mounts {
		if reason, _ := r.skipSave(ms, nil, ""); reason == ReasonNone {
			pending = true
		}
	}
	if !pending {
		return nil
	}
	e := &earlySave{done: make(chan struct{})}
	e.run = func(log Logger) saveBatch { return r.extractAndSave(ctx, log, true, nil) }
	return e
}

// ExportStart is the callback for builder.WithExportStart that saves the caches while
// BuildKit exports, or nil when this run saves none.
func (r *Run) ExportStart() func() {
	if r == nil || r.early == nil {
		return nil
	}
	return r.early.start
}

// Save reads what the build did with the mounts (pip's log, whether the layer cache
// skipped the step) and makes sure the changed caches are saved: it waits for the early
// save, or, when the build exported nothing, extracts and saves now. It never fails; it
// removes the run's temporary files and returns everything the run did.
func (r *Run) Save(ctx context.Context, b Build) *Result {
	if r == nil {
		return &Result{}
	}
	if !r.active {
		return &r.res
	}
	defer os.RemoveAll(r.tmp)
	if r.early != nil && r.early.started {
		// Until done, the early save's goroutine owns its batch and its tape.
		<-r.early.done
		r.early.tape.replay(r.e.log)
		r.apply(r.early.batch)
		r.pipStats(b)
		return &r.res
	}
	// What the build did is told before the save, as the save's log is after the build's.
	r.pipStats(b)
	r.apply(r.extractAndSave(ctx, r.e.log, false, b.Err))
	return &r.res
}

// saveDone is the save of one mount.
type saveDone struct {
	status       SaveStatus
	reason       SaveReason
	note         string
	bytes        int64
	key, deltaOn string
	pruned       *Pruned
}

// quotaBytes is what ms's entries hold of the repository's cache once d is done: the entry
// saved (with the full entry a delta completes, which the cleanup keeps), else what was
// restored, which stays; nil when a size is unknown.
func quotaBytes(ms *Outcome, d saveDone) *int64 {
	n := int64(0)
	switch {
	case d.status == Saved && d.deltaOn != "":
		n = sumKnown(ms.fullBytes, d.bytes)
	case d.status == Saved:
		n = d.bytes
	case d.reason == ReasonAlreadyExists:
		n = -1 // another run's entry, of a size not asked
	case ms.MatchedKey != "":
		n = ms.heldBytes
	}
	if n < 0 {
		return nil
	}
	return &n
}

// sumKnown adds two sizes, -1 when either is unknown.
func sumKnown(a, b int64) int64 {
	if a < 0 || b < 0 {
		return -1
	}
	return a + b
}

// Pruned is what the extraction dropped, least recently used first, to keep a mount
// under its cap (mount-cache-max-size for its ecosystem).
type Pruned struct {
	Files    int64 `json:"files"`
	Bytes    int64 `json:"bytes"`    // uncompressed
	MaxBytes int64 `json:"maxBytes"` // the cap that applied
}

// capName says which cap applied: "2.0 GiB (mount-cache-max-size for go)".
func capName(eco string, maxBytes int64) string {
	if eco == "" {
		return report.Bytes(maxBytes) + " (mount-cache-max-size)"
	}
	return report.Bytes(maxBytes) + " (mount-cache-max-size for " + eco + ")"
}

// saveBatch is what extractAndSave did: per mount (in r.res.Mounts order), and overall.
type saveBatch struct {
	mounts      []saveDone
	phases      []report.Phase
	warnings    []string
	savedKeys   []string
	writeDenied string // the service's message, when it refused the write
}

func (r *Run) apply(b saveBatch) {
	for i, ms := range r.res.Mounts {
		d := b.mounts[i]
		ms.SaveStatus, ms.SaveReason, ms.SaveNote, ms.Pruned = d.status, d.reason, d.note, d.pruned
		if d.status == Saved {
			ms.Saved, ms.SavedBytes, ms.SavedKey, ms.DeltaOn = true, d.bytes, d.key, d.deltaOn
		}
		ms.QuotaBytes = quotaBytes(ms, d)
	}
	r.res.SavePhases = append(r.res.SavePhases, b.phases...)
	r.res.Warnings = append(r.res.Warnings, b.warnings...)
	r.res.SavedKeys = append(r.res.SavedKeys, b.savedKeys...)
	if b.writeDenied != "" {
		r.res.WriteDenied = b.writeDenied
	}
}

// skipSave says why ms is not saved (and the note saying so), or ReasonNone when it is
// extracted and saved. writeDenied is the note of a write the service refused earlier in
// this save.
func (r *Run) skipSave(ms *Outcome, buildErr error, writeDenied string) (SaveReason, string) {
	switch {
	case r.store == nil:
		return ReasonNoService, "no cache service"
	case buildErr != nil:
		return ReasonBuildFailed, "not saved: the build failed"
	case !r.req.Save:
		return ReasonPolicySkip, "not saved: " + r.req.SaveReason
	case writeDenied != "":
		return ReasonWriteDenied, writeDenied
	case ms.Hit == HitExact:
		return ReasonUnchanged, "unchanged: an entry with this key exists"
	case ms.Restore == RestoreNotCarried:
		return ReasonNotCarried, "not carried"
	}
	return ReasonNone, ""
}

// extractAndSave extracts each cache skipSave lets through and stores it, logging to
// log. It reads the mounts' restore fields (final before the build started) and writes
// only the batch it returns. during says it runs while BuildKit exports.
func (r *Run) extractAndSave(ctx context.Context, log Logger, during bool, buildErr error) saveBatch {
	b := saveBatch{mounts: make([]saveDone, len(r.res.Mounts))}
	var extractTime, saveTime time.Duration
	helper := r.helper
	r.waitWarm()
	if r.e.newHelper != nil {
		helper = r.e.newHelper(r.tmp, log.Writer())
	}
	warn := func(msg string) {
		b.warnings = append(b.warnings, "mount cache: "+msg)
		log.Warning("Mount cache", msg)
	}
	writeDenied := ""
	for i, ms := range r.res.Mounts {
		d := &b.mounts[i]
		if reason, note := r.skipSave(ms, buildErr, writeDenied); reason != ReasonNone {
			d.status, d.reason, d.note = SaveSkipped, reason, note
			continue
		}
		title := "Save mount cache " + ms.ID
		if during {
			title += " (while BuildKit exports)"
		}
		end := log.Group(title)
		start := time.Now()
		outDir := filepath.Join(r.tmp, "extract-"+sanitizeName(ms.ID))
		// A delta on the restored full entry, when its key fits; a full archive otherwise.
		saveKey, deltaOn := ms.Key, ms.base
		if deltaOn != nil {
			k, ok := DeltaKey(ms.Key, ms.baseKey, ms.restoreKey)
			if ok {
				saveKey = k
			} else {
				deltaOn = nil
			}
		}
		var ex mounthelper.ExtractResult
		var err error
		// The mount's ecosystem's cap (mount-cache-max-size: 2GiB, go=4GiB).
		maxBytes := r.req.MaxSize.For(ms.Ecosystem).Bytes()
		if helper == nil {
			err = fmt.Errorf("no helper to run inside BuildKit")
		} else {
			ex, err = helper.Extract(ctx, ms.cache, ms.restoredDigest, deltaOn, maxBytes, r.req.BuildArgs, outDir)
		}
		extractTime += time.Since(start)
		if err != nil {
			d.status, d.reason, d.note = SaveFailed, ReasonExtractFailed, "not saved: extraction failed"
			warn(fmt.Sprintf("%s: %v", ms.ID, err))
			end()
			continue
		}
		if ex.PrunedFiles > 0 {
			d.pruned = &Pruned{Files: ex.PrunedFiles, Bytes: ex.PrunedBytes, MaxBytes: maxBytes}
			log.Infof("Mount cache %s: pruned %d least recently used files (%s) to stay under %s", ms.ID, ex.PrunedFiles, report.Bytes(ex.PrunedBytes), capName(ms.Ecosystem, maxBytes))
		}
		deltaKey := ""
		switch ex.Status {
		case mounthelper.ExtractEmpty:
			d.status, d.reason, d.note = SaveSkipped, ReasonEmpty, "not saved: the cache mount is empty"
			end()
			continue
		case mounthelper.ExtractUnchanged:
			d.status, d.reason, d.note = SaveSkipped, ReasonNothingChanged, "unchanged"
			end()
			continue
		case mounthelper.ExtractDelta:
			deltaKey = ms.baseKey
			log.Infof("Mount cache %s: %d of %d files changed since %s (%s); saving them as a delta", ms.ID, ex.DeltaFiles, ex.Files, ms.baseKey, report.Bytes(ex.DeltaBytes))
		default:
			saveKey = ms.Key
		}
		start = time.Now()
		n, exists, err := saveFile(ctx, r.store, saveKey, ms.version, ExtractedArchive(outDir))
		saveTime += time.Since(start)
		deniedMsg, denied := cacheservice.WriteDenied(err)
		switch {
		case denied:
			// GitHub's words, once; the other mounts are not extracted for nothing.
			writeDenied, b.writeDenied = "not saved: the cache service denied the write: "+deniedMsg, deniedMsg
			d.status, d.reason, d.note = SaveFailed, ReasonWriteDenied, writeDenied
			warn(fmt.Sprintf("%s: %s%s", ms.ID, d.note, r.req.WriteDeniedHint))
		case err != nil:
			d.status, d.reason, d.note = SaveFailed, ReasonUploadFailed, "not saved: "+err.Error()
			warn(fmt.Sprintf("%s: %v", ms.ID, err))
		case exists:
			d.status, d.reason, d.note = SaveSkipped, ReasonAlreadyExists, "not saved: the cache already has an entry with this key (another run saved it first)"
		default:
			d.status, d.bytes, d.key, d.deltaOn = Saved, n, saveKey, deltaKey
			b.savedKeys = append(b.savedKeys, saveKey)
			if deltaKey != "" {
				d.note = fmt.Sprintf("delta of %d files on %s", ex.DeltaFiles, deltaKey)
			}
			log.Infof("Mount cache %s: saved %s as %s", ms.ID, report.Bytes(n), saveKey)
		}
		end()
	}
	overlap := ""
	if during {
		overlap = "export"
	}
	b.phases = []report.Phase{
		{Name: "extract", Duration: extractTime, During: overlap},
		{Name: "save", Duration: saveTime, During: overlap}}
	return b
}

// saveFile uploads path; exists is set when the service already has the key (its 409
// already_exists answer; any other refusal is an error carrying the service's message).
func saveFile(ctx context.Context, store Store, key, version, path string) (n int64, exists bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	res, err := store.Save(ctx, key, version, f)
	if err != nil {
		return 0, false, err
	}
	if res.AlreadyExists {
		return 0, true, nil
	}
	return res.Size, false, nil
}

// pipStats reads pip's log lines from the RUN steps that use the carried mounts, and
// whether the layer cache skipped them.
func (r *Run) pipStats(b Build) {
	if b.Logs == nil {
		return
	}
	var all []Mount
	for _, ms := range r.res.Mounts {
		match := usesMount(ms.cache.Mounts)
		if log := b.Logs(match); log != "" {
			st := ParsePipLog(log)
			if st.Total > 0 {
				ms.Pip = &st
			}
			ms.Packages = ecosystemStats(ms.Ecosystem, log, ms.cache.Mounts)
		}
		for _, s := range b.Steps {
			if match(s.Name) {
				cached := s.Cached
				ms.StepCached = &cached
			}
		}
		if ms.Restore == RestoreExactNotInjected && ms.StepCached != nil && !*ms.StepCached {
			hint := fmt.Sprintf("mount cache %s: the requirements did not change, but the layer cache missed the step that uses it, so it ran without its cache; it will be fast again once the layer cache of this run is saved", ms.ID)
			r.res.Hints = append(r.res.Hints, hint)
			r.res.Warnings = append(r.res.Warnings, hint)
			r.e.log.Notice("Mount cache", hint)
		}
		all = append(all, ms.cache.Mounts...)
	}
	// Outputs count each RUN once, even when it uses several carried mounts.
	st := ParsePipLog(b.Logs(usesMount(all)))
	r.res.PipTotal, r.res.PipCached = st.Total, st.Cached
	r.res.PackagesTotal, r.res.PackagesCached = r.packageTotals(b)
}

// usesMount matches the vertices of RUN steps that declare one of mounts. The frontend
// names them after the instruction as written, flags included, variables expanded. A
// mount with an id matches by its id when the name shows one: the platforms of a
// multi-platform build name the same target with their own ids (id=go-amd64, id=go-arm64).
func usesMount(mounts []Mount) func(string) bool {
	return func(name string) bool {
		if !strings.Contains(name, "RUN ") || !strings.Contains(name, "--mount") {
			return false
		}
		for _, m := range mounts {
			if m.ExplicitID && hasIDFlag(name, m.ID) {
				return true
			}
			if strings.Contains(name, m.Target) && (!m.ExplicitID || !mountIDOnTarget(name, m.Target)) {
				return true
			}
		}
		return false
	}
}

// hasIDFlag says whether a step name holds the mount option id=<id> (or id="<id>") whole.
func hasIDFlag(name, id string) bool {
	for _, opt := range []string{"id=" + id, `id="` + id + `"`} {
		for rest := name; ; {
			i := strings.Index(rest, opt)
			if i < 0 {
				break
			}
			before, after := rest[:i], rest[i+len(opt):]
			if (before == "" || strings.ContainsAny(before[len(before)-1:], ", =\"")) && (after == "" || strings.ContainsAny(after[:1], ", \"")) {
				return true
			}
			rest = after
		}
	}
	return false
}

// mountIDOnTarget says whether a --mount flag of the step name with target= target
// carries an id= of its own (then that id, not the target, tells the mount).
func mountIDOnTarget(name, target string) bool {
	for _, f := range strings.Fields(name) {
		if strings.HasPrefix(f, "--mount=") && strings.Contains(f, "target="+target) && strings.Contains(f, "id=") {
			return true
		}
	}
	return false
}

func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ' ' || r == '.' {
			return '-'
		}
		return r
	}, s)
}

// logTape records what the early save logs, to be replayed on the real logger once the
// build's own log is done.
type logTape struct {
	mu  sync.Mutex
	ops []func(Logger)
}

func (t *logTape) add(op func(Logger)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.ops = append(t.ops, op)
}

func (t *logTape) Infof(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	t.add(func(l Logger) { l.Infof("%s", s) })
}

func (t *logTape) Notice(title, msg string)  { t.add(func(l Logger) { l.Notice(title, msg) }) }
func (t *logTape) Warning(title, msg string) { t.add(func(l Logger) { l.Warning(title, msg) }) }

// tookGrouper is a Logger that can say how long a group's work took when the group is
// written out after the work (*report.Reporter.GroupTook).
type tookGrouper interface {
	GroupTook(name string) (end func(took time.Duration))
}

// Group records the group's own duration, measured while the early save runs: on replay
// the "took" line says how long the save took, not how long the replay did.
func (t *logTape) Group(name string) func() {
	start := time.Now()
	var end func(time.Duration)
	t.add(func(l Logger) {
		if g, ok := l.(tookGrouper); ok {
			end = g.GroupTook(name)
			return
		}
		endNow := l.Group(name)
		end = func(time.Duration) { endNow() }
	})
	return func() {
		took := time.Since(start)
		t.add(func(Logger) {
			if end != nil {
				end(took)
			}
		})
	}
}

func (t *logTape) Writer() io.Writer { return tapeWriter{t} }

type tapeWriter struct{ t *logTape }

func (w tapeWriter) Write(p []byte) (int, error) {
	b := append([]byte(nil), p...)
	w.t.add(func(l Logger) { _, _ = l.Writer().Write(b) })
	return len(p), nil
}

func (t *logTape) replay(l Logger) {
	t.mu.Lock()
	ops := t.ops
	t.ops = nil
	t.mu.Unlock()
	for _, op := range ops {
		op(l)
	}
}
