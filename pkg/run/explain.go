package run

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/buildrecord"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/layercache"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// explain (issue 17): the counted steps with their Dockerfile lines into the summary, and
// the first miss with its reason into the outputs, the summary and a notice annotation at
// its line.
func (r *runner) explainSteps(ctx context.Context, st builder.StepStats) {
	workspace := r.renv.Workspace
	if workspace == "" {
		workspace, _ = os.Getwd()
	}
	df := dockerfileOf(r.in.File, workspace)
	content := df.Content
	if content == nil {
		// Outside the workspace: no annotation, but the lines still help the summary.
		content, _ = os.ReadFile(r.in.File)
	}
	lines, _ := buildrecord.Lines(content) // a Dockerfile BuildKit took parses; if not, no lines
	r.res.Steps = r.res.Steps[:0]
	for _, s := range st.Steps {
		r.res.Steps = append(r.res.Steps, report.StepEntry{Name: s.Name, Stage: s.Stage, Line: lines[buildrecord.StepKey{Stage: s.Stage, Index: s.Index}], Cached: s.Cached, Duration: s.Duration})
	}
	m := buildrecord.FirstMiss(buildrecord.Facts{
		Steps: st.Steps, NoCache: r.in.NoCache, NoCacheFilters: r.in.Flags.NoCacheFilters,
		ReadScopes: r.plan.LayerCache.ReadScopes, ImportErrors: st.CacheImportErrors, Lines: lines,
	})
	if m == nil {
		r.res.FirstMiss = nil
		return
	}
	for _, s := range r.res.Steps {
		if s.Name == m.Step {
			m.Line = s.Line
			break
		}
	}
	m.File = df.Path
	r.res.FirstMiss = m
	if m.Reason == report.MissCold && len(r.plan.LayerCache.ReadScopes) > 0 || m.Reason == report.MissUnknown {
		r.compareWithRecord(ctx, st, content, m)
	}
	if m.Line == 0 {
		for _, s := range r.res.Steps {
			if s.Name == m.Step {
				m.Line = s.Line
			}
		}
	}
	if df.Path != "" && m.Line > 0 {
		r.rep.NoticeAt("Layer cache miss ("+m.Reason+")", m.Sentence(), df.Path, m.Line)
	} else {
		r.rep.Notice("Layer cache miss ("+m.Reason+")", m.Sentence())
	}
}

// recordBudget bounds a run's work on build records: hashing the COPY/ADD sources (about
// a second, buildrecord.DefaultBudget) and one small cache lookup or upload.
const recordTimeout = 10 * time.Second

// recordStore is where a layer cache entry's record lives, and its scope there: a gha
// scope in the Actions cache, a local directory beside the cache, a registry cache's ref
// (its record is a tag beside it, pushed with the build's registry logins;
// docs/ARCHITECTURE.md).
func (r *runner) recordStore(e *inputs.CacheEntry) (buildrecord.Store, string) {
	switch e.Type {
	case layercache.BackendGHA:
		c, err := r.plan.CacheClient(cacheservice.WithMask(r.rep.Mask), cacheservice.WithWarnf(func(f string, a ...any) { r.rep.Infof("cache service: "+f, a...) }))
		if err != nil {
			return nil, ""
		}
		return buildrecord.ServiceStore{Client: c}, cmp.Or(e.Attrs["scope"], "buildkit") // BuildKit's default gha scope
	case layercache.BackendLocal:
		return buildrecord.DirStore{}, cmp.Or(e.Attrs["dest"], e.Attrs["src"])
	case layercache.BackendRegistry:
		insecure, _ := strconv.ParseBool(e.Attrs["registry.insecure"]) // BuildKit refuses a bad value
		return buildrecord.RegistryStore{Credentials: r.plan.Request.Auth.Credentials, Insecure: insecure}, e.Attrs["ref"]
	}
	return nil, ""
}

// thisRecord is this run's build record.
func (r *runner) thisRecord(st builder.StepStats, dockerfile []byte) *buildrecord.Record {
	src := buildrecord.Source{Steps: st, Dockerfile: dockerfile, BuildArgs: r.in.BuildArgs, Budget: buildrecord.DefaultBudget()}
	if r.plan.Git == nil {
		if info, err := os.Stat(r.in.Context); err == nil && info.IsDir() {
			src.ContextDir = r.in.Context
			ig, err := buildrecord.Ignore(r.in.Context, r.in.File)
			if err != nil {
				r.rep.Infof("Build record: .dockerignore not read, files not compared: %v", err)
				src.ContextDir = ""
			}
			src.Ignore = buildrecord.NewIgnore(ig)
		}
	}
	rec, err := buildrecord.Make(src)
	if err != nil {
		r.rep.Infof("Build record: %v", err)
		return nil
	}
	return rec
}

// compareWithRecord lets the record the import scopes hold (read while the build ran)
// say why m missed. A record that cannot be read says nothing: the miss keeps its reason.
func (r *runner) compareWithRecord(ctx context.Context, st builder.StepStats, dockerfile []byte, m *report.Miss) {
	if r.prevRecord == nil { // not started with the build: read it now
		r.prevRecord = r.readRecordAhead(ctx)
	}
	prev := r.prevRecord.wait(ctx)
	for _, line := range prev.notes {
		r.rep.Infof("%s", line)
	}
	if prev.rec == nil {
		return
	}
	r.thisRun = r.thisRecord(st, dockerfile)
	anyCached := slices.ContainsFunc(st.Steps, func(s builder.Step) bool { return s.Cached })
	buildrecord.Explain(prev.rec, r.thisRun, m, anyCached)
}

// recordRead is the previous run's build record, read while the build runs. Only a miss
// needs it, but read after the build it is a lookup and a download on the critical path
// (0.23 s of the bench's far requirements-changed run, 30 ms from the storage); during
// the build it costs nothing anyone waits for.
type recordRead struct {
	done  chan struct{}
	rec   *buildrecord.Record
	notes []string // scopes whose record could not be read, for the log
}

// readRecordAhead starts reading the record of the first import scope that has one.
func (r *runner) readRecordAhead(ctx context.Context) *recordRead {
	rr := &recordRead{done: make(chan struct{})}
	type source struct {
		store buildrecord.Store
		scope string
	}
	var sources []source
	for _, e := range r.plan.LayerCache.Imports {
		if store, scope := r.recordStore(e); store != nil {
			sources = append(sources, source{store, scope})
		}
	}
	go func() {
		defer close(rr.done)
		ctx, cancel := context.WithTimeout(ctx, recordTimeout)
		defer cancel()
		for _, s := range sources {
			prev, err := s.store.Read(ctx, s.scope)
			if err != nil {
				rr.notes = append(rr.notes, fmt.Sprintf("Build record of %s not read: %v", s.scope, err))
				continue
			}
			if prev != nil {
				rr.rec = prev
				return
			}
		}
	}()
	return rr
}

// wait returns the read's outcome, or none when ctx ends first.
func (rr *recordRead) wait(ctx context.Context) *recordRead {
	select {
	case <-rr.done:
		return rr
	case <-ctx.Done():
		return &recordRead{}
	}
}

// saveBuildRecord stores this run's record next to the layer cache it saved. A failure
// is a line in the log: the record only explains later misses.
func (r *runner) saveBuildRecord(ctx context.Context, st builder.StepStats) {
	if !r.res.CacheSaved {
		return // a record staged at the export's start stays uncommitted: never read
	}
	rec := r.thisRun
	if !slices.ContainsFunc(r.plan.LayerCache.Exports, func(e *inputs.CacheEntry) bool {
		return e.Type == layercache.BackendGHA || e.Type == layercache.BackendLocal || e.Type == layercache.BackendRegistry
	}) {
		return
	}
	staged := r.stagedRecord.wait(st)
	if staged != nil {
		rec = staged.rec
	}
	if rec == nil {
		content, err := os.ReadFile(r.in.File)
		if err != nil {
			return
		}
		if rec = r.thisRecord(st, content); rec == nil {
			return
		}
	}
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	for _, e := range r.plan.LayerCache.Exports {
		store, scope := r.recordStore(e)
		if store == nil {
			continue
		}
		var err error
		if commit, ok := staged.commitOf(scope); ok {
			err = commit(ctx)
		} else {
			err = store.Write(ctx, scope, rec)
		}
		if err != nil {
			r.rep.Infof("Build record not saved to %s: %v", filepath.Base(scope), err)
		}
	}
}

// stageRecordAtExport returns what to call when BuildKit starts exporting, or nil when
// this run saves no record to the Actions cache. It makes the record from the steps,
// final by then, and uploads it to each gha scope, leaving only the commit for after
// the build: the reservation and upload are round trips to a service that may be far
// (0.26 s after the build in the bench's far profile), and BuildKit's export is seconds.
func (r *runner) stageRecordAtExport(ctx context.Context) func(builder.StepStats) {
	if !r.plan.Decision.Save || !slices.ContainsFunc(r.plan.LayerCache.Exports, func(e *inputs.CacheEntry) bool {
		return e.Type == layercache.BackendGHA
	}) {
		return nil
	}
	return func(st builder.StepStats) {
		s := &stagedRecord{done: make(chan struct{}), steps: st, commits: map[string]func(context.Context) error{}}
		r.stagedRecord = s // read after the solve returned, which is after this call
		go func() {
			defer close(s.done)
			content, err := os.ReadFile(r.in.File)
			if err != nil {
				return
			}
			if s.rec = r.thisRecord(st, content); s.rec == nil {
				return
			}
			ctx, cancel := context.WithTimeout(ctx, recordTimeout)
			defer cancel()
			for _, e := range r.plan.LayerCache.Exports {
				store, scope := r.recordStore(e)
				stager, ok := store.(buildrecord.Stager)
				if !ok || s.commits[scope] != nil {
					continue
				}
				if commit, err := stager.Stage(ctx, scope, s.rec); err == nil {
					s.commits[scope] = commit
				} // else the save after the build writes it whole, and says why it failed
			}
		}()
	}
}

// stagedRecord is this run's build record, made and uploaded while BuildKit exported.
type stagedRecord struct {
	done    chan struct{}
	steps   builder.StepStats // what the record was made from
	rec     *buildrecord.Record
	commits map[string]func(context.Context) error // by scope: uploaded, to commit
}

// wait returns the staged record once its uploads ended, or nil when there is none or
// it was made from other steps than the build's final ones (BuildKit reported a step
// only after the export started).
func (s *stagedRecord) wait(final builder.StepStats) *stagedRecord {
	if s == nil {
		return nil
	}
	<-s.done
	if s.rec == nil || !buildrecord.SameSteps(s.steps, final) {
		return nil
	}
	return s
}

// commitOf is scope's staged upload's commit, if it has one.
func (s *stagedRecord) commitOf(scope string) (func(context.Context) error, bool) {
	if s == nil {
		return nil, false
	}
	c, ok := s.commits[scope]
	return c, ok
}
