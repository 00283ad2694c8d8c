package builder

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// A counted step is a Dockerfile RUN, COPY or ADD instruction: the steps that do work and
// that a layer cache can skip. The dockerfile frontend names their vertices
// "[stage 2/5] RUN ..." (or "[2/5] ...", "[linux/arm64 2/5] ..."), which is what we match.
// Internal vertices ("[internal] load metadata ...", "exporting to image", cache imports
// and exports), FROM, WORKDIR, ENV and the like are not counted: they are either
// bookkeeping or free, and counting them would flatter the hit ratio.
var countedStep = regexp.MustCompile(`^\[[^\]]*\b\d+/\d+\] (RUN|COPY|ADD) `)

// stepPrefix takes the dockerfile frontend's prefix apart: "[<platform> ][<stage> ]<i>/<n>] ".
// BuildKit's frontend/dockerfile/dockerfile2llb/convert.go (prefixCommand) writes it: the
// stage name is the stage's AS name or "stage-<index>", left out when the Dockerfile has one
// stage; i counts the stage's FROM (unless scratch or another stage), WORKDIR, RUN, COPY
// and ADD, padded with spaces to the width of n.
var stepPrefix = regexp.MustCompile(`^\[([^\]]*?)\s*(\d+)/(\d+)\] `)

// Step is one counted vertex of a build.
type Step struct {
	Name      string `json:"name"`
	Cached    bool   `json:"cached"`
	Completed bool   `json:"completed"`
	Error     string `json:"error,omitempty"`
	// Stage is the stage's name as the vertex gives it ("" for a one-stage Dockerfile);
	// Index is its i of i/n within that stage.
	Stage string `json:"stage,omitempty"`
	Index int    `json:"index,omitempty"`
	// Duration is from the vertex's start to its completion; 0 for a cached step.
	Duration time.Duration `json:"duration,omitempty"`
	// Digest is BuildKit's vertex digest: the step's cache key as the solver sees it.
	Digest digest.Digest `json:"digest,omitempty"`
	// Order is the step's place among the counted steps, in the order BuildKit reported them.
	Order int `json:"order"`
}

// parseStepName returns the stage and index of a counted step's vertex name.
func parseStepName(name string) (stage string, index int) {
	m := stepPrefix.FindStringSubmatch(name)
	if m == nil {
		return "", 0
	}
	index, _ = strconv.Atoi(m[2])
	// The platform ("linux/amd64", "linux/arm64->linux/amd64") always has a slash; a stage
	// name cannot.
	for _, f := range strings.Fields(m[1]) {
		if !strings.Contains(f, "/") {
			stage = f
		}
	}
	return stage, index
}

// StepStats summarises the counted steps of a build.
type StepStats struct {
	Total  int    `json:"total"`
	Cached int    `json:"cached"`
	Steps  []Step `json:"steps"`
	// CacheExportErrors are failed layer cache exports. Exports run with ignore-error=true,
	// so the build passes, but the cache was not saved and the user must be told.
	CacheExportErrors []string `json:"cacheExportErrors,omitempty"`
	// CacheImportErrors are failed layer cache imports ("importing cache manifest from …"),
	// redacted: a first miss may be explained by them.
	CacheImportErrors []string `json:"cacheImportErrors,omitempty"`
	// Bases are each stage's FROM as BuildKit resolved it ("docker.io/library/python:3.12@sha256:…"),
	// by the stage's name in the vertex ("" for a one-stage Dockerfile).
	Bases map[string]string `json:"bases,omitempty"`
}

// fromStep matches the FROM vertex of a stage: "[builder 1/5] FROM docker.io/library/python:3.12@sha256:…".
var fromStep = regexp.MustCompile(`^\[[^\]]*\b\d+/\d+\] FROM (\S+)`)

// isCacheExport matches BuildKit's cache export vertices: "exporting cache to registry",
// "exporting cache to client directory", "exporting to GitHub Actions Cache", ...
func isCacheExport(name string) bool {
	return strings.HasPrefix(name, "exporting cache") || (strings.HasPrefix(name, "exporting to") && strings.Contains(name, "Cache"))
}

// startsExport reports whether s shows an exporter at work. BuildKit runs exporters
// ("exporting to image", "exporting to client directory", "exporting cache to registry",
// "exporting to GitHub Actions Cache", "preparing layers for inline cache") only after
// the whole build graph is solved.
func startsExport(s *client.SolveStatus) bool {
	for _, v := range s.Vertexes {
		if v.Started != nil && (strings.HasPrefix(v.Name, "exporting ") || strings.HasPrefix(v.Name, "preparing layers for inline cache")) {
			return true
		}
	}
	return false
}

// HitRatio is cached steps over counted steps; 0 when nothing was counted.
func (s StepStats) HitRatio() float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Cached) / float64(s.Total)
}

// stepRecorder follows the solve status stream. A vertex appears in many status updates
// (started, then completed, possibly cached); the last word for each digest wins.
type stepRecorder struct {
	mu       sync.Mutex
	order    []digest.Digest
	vertices map[digest.Digest]*client.Vertex
	logs     map[digest.Digest]*strings.Builder
	logLimit int
}

func newStepRecorder() *stepRecorder {
	return &stepRecorder{vertices: map[digest.Digest]*client.Vertex{}, logs: map[digest.Digest]*strings.Builder{}, logLimit: 4 << 20}
}

func (r *stepRecorder) record(s *client.SolveStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, v := range s.Vertexes {
		prev, ok := r.vertices[v.Digest]
		if !ok {
			r.order = append(r.order, v.Digest)
		}
		cp := *v
		// Once cached, always cached: a step whose result came from a remote layer cache (gha,
		// registry) is reported CACHED first, then again, not cached, while BuildKit fetches
		// that result's layers from the cache ("#9 CACHED", then "#9 sha256:… done",
		// "#9 DONE"). It did not run.
		if ok && prev.Cached {
			cp.Cached = true
		}
		r.vertices[v.Digest] = &cp
	}
	for _, l := range s.Logs {
		b := r.logs[l.Vertex]
		if b == nil {
			b = &strings.Builder{}
			r.logs[l.Vertex] = b
		}
		// Keep a bounded tail per vertex: enough for pip's summary lines without letting a
		// chatty step grow memory without limit.
		if b.Len() < r.logLimit {
			b.Write(l.Data)
		}
	}
}

func (r *stepRecorder) stats() StepStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	var st StepStats
	for _, d := range r.order {
		v := r.vertices[d]
		if isCacheExport(v.Name) && v.Error != "" {
			// BuildKit's gha backend quotes the signed storage URL it failed on; these
			// errors become warnings, outputs and summary lines.
			st.CacheExportErrors = append(st.CacheExportErrors, v.Name+": "+cacheservice.Redact(v.Error))
		}
		if strings.HasPrefix(v.Name, "importing cache") && v.Error != "" {
			st.CacheImportErrors = append(st.CacheImportErrors, v.Name+": "+cacheservice.Redact(v.Error))
		}
		if m := fromStep.FindStringSubmatch(v.Name); m != nil {
			stage, _ := parseStepName(v.Name)
			if st.Bases == nil {
				st.Bases = map[string]string{}
			}
			st.Bases[stage] = m[1]
		}
		if !countedStep.MatchString(v.Name) {
			continue
		}
		st.Total++
		if v.Cached {
			st.Cached++
		}
		step := Step{Name: v.Name, Cached: v.Cached, Completed: v.Completed != nil, Error: v.Error, Digest: v.Digest, Order: len(st.Steps)}
		step.Stage, step.Index = parseStepName(v.Name)
		if !v.Cached && v.Started != nil && v.Completed != nil && v.Completed.After(*v.Started) {
			step.Duration = v.Completed.Sub(*v.Started)
		}
		st.Steps = append(st.Steps, step)
	}
	return st
}

// logsOf returns the log text of the vertices whose name satisfies match, in the order
// they started.
func (r *stepRecorder) logsOf(match func(name string) bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, d := range r.order {
		if match(r.vertices[d].Name) && r.logs[d] != nil {
			b.WriteString(r.logs[d].String())
		}
	}
	return b.String()
}
