package buildrecord

import (
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// Facts are what a run knows about its layer cache when the build is done.
type Facts struct {
	Steps []builder.Step // the counted steps, in BuildKit's order
	// NoCache and NoCacheFilters are the no-cache and no-cache-filters inputs.
	NoCache        bool
	NoCacheFilters []string
	// ReadScopes are what the layer cache read; none means nothing was imported.
	ReadScopes []string
	// ImportErrors are the failed cache imports BuildKit reported (redacted).
	ImportErrors []string
	// Lines are the steps' Dockerfile lines (Lines), when known: the first miss is the
	// one earliest in the Dockerfile, as BuildKit reports the vertices in no set order.
	Lines map[StepKey]int
}

// FirstMiss finds the first counted step that ran and says why, in the order a user
// would look: asked for (no-cache), nothing to read (cold), the import failed
// (import-failed). Nil when every step was cached or none was counted. Without a build
// record of the scope to compare with, a miss after cached steps is "unknown".
func FirstMiss(f Facts) *report.Miss {
	i := -1
	for j, s := range f.Steps {
		if s.Cached {
			continue
		}
		if i < 0 || earlier(f.Lines[StepKey{s.Stage, s.Index}], f.Lines[StepKey{f.Steps[i].Stage, f.Steps[i].Index}]) {
			i = j
		}
	}
	if i < 0 {
		return nil
	}
	step := f.Steps[i]
	m := &report.Miss{Step: step.Name}
	anyCached := slices.ContainsFunc(f.Steps, func(s builder.Step) bool { return s.Cached })
	switch {
	case f.NoCache:
		m.Reason, m.Detail = report.MissNoCache, "the no-cache input builds every step anew"
	case step.Stage != "" && slices.Contains(f.NoCacheFilters, step.Stage):
		m.Reason, m.Detail = report.MissNoCache, "no-cache-filters names the stage "+step.Stage
	case len(f.ReadScopes) == 0:
		m.Reason, m.Detail = report.MissCold, "the layer cache reads nothing on this run"
	case len(f.ImportErrors) > 0 && !anyCached:
		if allNotFound(f.ImportErrors) {
			m.Reason, m.Detail = report.MissCold, "nothing saved for "+strings.Join(f.ReadScopes, ", ")+" yet"
		} else {
			m.Reason, m.Detail = report.MissImportFailed, f.ImportErrors[0]
		}
	case !anyCached:
		// The gha backend imports an empty cache for a scope with nothing saved, without
		// an error: no step at all came from the cache.
		m.Reason, m.Detail = report.MissCold, "no step came from the layer cache: nothing saved for "+strings.Join(f.ReadScopes, ", ")+" yet, or it is gone"
	default:
		m.Reason, m.Detail = report.MissUnknown, "no build record of the scope says what changed"
	}
	return m
}

// allNotFound is whether every import failed because the cache was not there: a registry
// answers a missing cache ref with "not found" (a cold scope, not a failure).
func allNotFound(errs []string) bool {
	for _, e := range errs {
		if !strings.Contains(strings.ToLower(e), "not found") {
			return false
		}
	}
	return true
}

// earlier is whether line a comes before line b; an unknown line (0) comes after any other.
func earlier(a, b int) bool {
	return a > 0 && (b == 0 || a < b)
}
