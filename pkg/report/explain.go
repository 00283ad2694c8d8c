package report

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Miss reasons: the layer-cache-miss-reason output (README, "Why a build went cold").
const (
	MissNone         = ""              // every counted step was cached, or none ran
	MissNoCache      = "no-cache"      // the no-cache or no-cache-filters input asked for it
	MissCold         = "cold"          // nothing was read: no scope to read, or nothing saved for it yet
	MissImportFailed = "import-failed" // the layer cache import failed
	MissDockerfile   = "dockerfile"    // the instruction changed since the scope's build record
	MissBuildArg     = "build-arg"     // a build arg the step sees changed
	MissFiles        = "files"         // a COPY/ADD source changed
	MissBaseImage    = "base-image"    // the FROM digest moved
	MissEvicted      = "evicted"       // the scope had a build record whose cache is gone
	MissUnknown      = "unknown"       // the step missed and nothing on record says why
)

// StepEntry is one counted step (RUN, COPY, ADD) of the build, in BuildKit's order.
type StepEntry struct {
	Name     string // as BuildKit names the vertex: "[builder 3/5] RUN pip install ..."
	Stage    string // "" for a one-stage Dockerfile
	Line     int    // the instruction's first Dockerfile line; 0 when unknown
	Cached   bool
	Duration time.Duration // how long it ran; 0 when cached
}

// Miss is the first counted step that ran and why.
type Miss struct {
	Step   string // as BuildKit names it
	Line   int    // its Dockerfile line; 0 when unknown
	File   string // the Dockerfile relative to the workspace, for the annotation
	Reason string // one of the Miss* values
	// Detail is one sentence for people: which arg, which base, why files were not hashed.
	Detail string
	// Files are the changed, added and removed paths (the first 20), FilesMore the count of
	// the others.
	Files     []string
	FilesMore int
}

// maxMissFiles bounds the paths a miss lists.
const maxMissFiles = 20

// FirstMissOutput is the layer-cache-first-miss output: the step with its Dockerfile line.
func (m *Miss) FirstMissOutput() string {
	if m == nil {
		return ""
	}
	if m.Line > 0 {
		return m.Step + " (line " + strconv.Itoa(m.Line) + ")"
	}
	return m.Step
}

// Sentence is the miss for people, as the notice annotation and the summary say it.
func (m *Miss) Sentence() string {
	if m == nil {
		return ""
	}
	s := "first miss: " + m.Step + ": " + m.Reason
	if m.Detail != "" {
		s += " — " + m.Detail
	}
	if len(m.Files) > 0 {
		s += "; files: " + strings.Join(m.Files, ", ")
		if m.FilesMore > 0 {
			s += fmt.Sprintf(" and %d more", m.FilesMore)
		}
	}
	return s
}

func (r Result) missReason() string {
	if r.FirstMiss == nil {
		return MissNone
	}
	return r.FirstMiss.Reason
}

// slowestSteps is how many of the steps that ran the summary names.
const slowestSteps = 3

// stepsSummary is the summary's section on the steps: per stage what was cached and what
// ran, the slowest steps that ran, and the first miss with its reason.
func (r Result) stepsSummary(b *strings.Builder) {
	if len(r.Steps) == 0 && r.FirstMiss == nil {
		return
	}
	if len(r.Steps) > 0 {
		type counts struct {
			stage       string
			cached, ran int
			time        time.Duration
		}
		var stages []*counts
		for _, s := range r.Steps {
			i := slices.IndexFunc(stages, func(c *counts) bool { return c.stage == s.Stage })
			if i < 0 {
				stages = append(stages, &counts{stage: s.Stage})
				i = len(stages) - 1
			}
			if s.Cached {
				stages[i].cached++
			} else {
				stages[i].ran++
				stages[i].time += s.Duration
			}
		}
		b.WriteString("\n| Stage | Cached | Ran | Ran for |\n|---|---|---|---|\n")
		for _, c := range stages {
			name := "(the only stage)"
			if c.stage != "" {
				name = TableCode(c.stage)
			}
			fmt.Fprintf(b, "| %s | %d | %d | %s |\n", name, c.cached, c.ran, seconds(c.time))
		}
		var ran []StepEntry
		for _, s := range r.Steps {
			if !s.Cached {
				ran = append(ran, s)
			}
		}
		slices.SortStableFunc(ran, func(a, b StepEntry) int { return cmp.Compare(b.Duration, a.Duration) })
		if len(ran) > 0 {
			b.WriteString("\nSlowest steps:\n")
			for _, s := range ran[:min(len(ran), slowestSteps)] {
				line := ""
				if s.Line > 0 {
					line = fmt.Sprintf(" (line %d)", s.Line)
				}
				fmt.Fprintf(b, "- %s %s%s\n", seconds(s.Duration), Code(s.Name), line)
			}
		}
	}
	if m := r.FirstMiss; m != nil {
		fmt.Fprintf(b, "\n**First miss:** %s", Code(m.Step))
		if m.Line > 0 {
			fmt.Fprintf(b, " at line %d", m.Line)
		}
		fmt.Fprintf(b, " — reason %s", Code(m.Reason))
		if m.Detail != "" {
			fmt.Fprintf(b, ": %s", TableText(m.Detail))
		}
		b.WriteString("\n")
		if len(m.Files) > 0 {
			b.WriteString("\n")
			for _, f := range m.Files {
				fmt.Fprintf(b, "- %s\n", Code(f))
			}
			if m.FilesMore > 0 {
				fmt.Fprintf(b, "- and %d more\n", m.FilesMore)
			}
		}
	}
}

// LimitFiles keeps the first maxMissFiles of paths and counts the rest.
func LimitFiles(paths []string) (first []string, more int) {
	if len(paths) <= maxMissFiles {
		return paths, 0
	}
	return paths[:maxMissFiles], len(paths) - maxMissFiles
}
