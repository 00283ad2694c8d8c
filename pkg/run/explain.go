package run

import (
	"os"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/buildrecord"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// explain (issue 17): the counted steps with their Dockerfile lines into the summary, and
// the first miss with its reason into the outputs, the summary and a notice annotation at
// its line.
func (r *runner) explainSteps(st builder.StepStats) {
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
		ReadScopes: r.plan.LayerCache.ReadScopes, ImportErrors: st.CacheImportErrors,
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
	if df.Path != "" && m.Line > 0 {
		r.rep.NoticeAt("Layer cache miss ("+m.Reason+")", m.Sentence(), df.Path, m.Line)
	} else {
		r.rep.Notice("Layer cache miss ("+m.Reason+")", m.Sentence())
	}
}
