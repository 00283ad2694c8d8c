package run

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/warmbuild/warmbuild/pkg/pitfalls"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// pitfalls (issue 17)

// checkPitfalls reads the Dockerfile for cache pitfalls before the build starts: each
// finding is a warning annotation at its line (as build checks are, checks.go), titled
// with its id and ending with the fix, and goes into the summary. A Dockerfile that is not
// on disk (a Git context's) is not checked; nothing here fails the run.
func (r *runner) checkPitfalls() {
	if r.in == nil || (r.in.Call != nil && r.in.Call.Name != "lint") {
		return
	}
	if g := r.plan.gitContext(); g != nil && !filepath.IsAbs(g.Dockerfile) {
		// The Dockerfile comes from the Git repository BuildKit fetches, not the workspace
		// (the context URL is not logged: it may hold credentials).
		r.rep.Debugf("cache pitfalls: not checked: the Dockerfile is in the Git context")
		return
	}
	workspace := r.renv.Workspace
	if workspace == "" {
		workspace, _ = os.Getwd()
	}
	df := dockerfileOf(r.in.File, workspace)
	name := df.Path
	if name == "" {
		// Outside the workspace: checked, annotated without a file.
		content, err := os.ReadFile(r.in.File)
		if err != nil {
			r.rep.Debugf("cache pitfalls: not checked: %v", err)
			return
		}
		df.Content, name = content, filepath.ToSlash(r.in.File)
	}
	start := time.Now()
	found := pitfalls.Check(name, df.Content, pitfalls.Ignore(r.in.PitfallsIgnore...))
	r.rep.Debugf("cache pitfalls: %d found in %s (%s)", len(found), name, time.Since(start))
	for _, f := range found {
		if df.Path != "" {
			r.rep.WarningAt(f.ID, f.Message+" "+f.Fix, df.Path, f.Line)
		} else {
			r.rep.Warning(f.ID, fmt.Sprintf("%s, line %d: %s %s", name, f.Line, f.Message, f.Fix))
		}
		r.res.Pitfalls = append(r.res.Pitfalls, report.Pitfall{ID: f.ID, File: name, Line: f.Line, Message: f.Message, Fix: f.Fix})
	}
}

func (p *Plan) gitContext() *GitContext {
	if p == nil {
		return nil
	}
	return p.Git
}
