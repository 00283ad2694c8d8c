package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/layercache"
	"github.com/warmbuild/warmbuild/pkg/report"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// The first step that ran is a notice on its Dockerfile line, and the summary and the
// outputs name it with its reason; every step is placed on its line for the summary.
func TestFirstMissIsANoticeAtItsDockerfileLine(t *testing.T) {
	ws := t.TempDir()
	df := filepath.Join(ws, "docker", "Dockerfile")
	if err := os.MkdirAll(filepath.Dir(df), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(df, []byte("FROM python:3.12-slim\nWORKDIR /app\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_WORKSPACE": ws}
	getenv := func(k string) string { return env[k] }
	var out strings.Builder
	r := &runner{rep: report.New(&out, getenv), renv: runnerenv.Read(getenv), in: &inputs.Inputs{File: df, NoCache: true},
		plan: &Plan{LayerCache: layercache.Plan{ReadScopes: []string{"warmbuild-main"}}}}
	r.explainSteps(t.Context(), builder.StepStats{Steps: []builder.Step{
		{Name: "[3/5] COPY requirements.txt .", Index: 3, Cached: true},
		{Name: "[4/5] RUN pip install -r requirements.txt", Index: 4, Duration: 9 * time.Second},
		{Name: "[5/5] COPY . .", Index: 5, Duration: time.Second},
	}})
	if !strings.Contains(out.String(), "::notice file=docker/Dockerfile,line=4,title=Layer cache miss (no-cache)::first miss: [4/5] RUN pip install -r requirements.txt: no-cache") {
		t.Errorf("log:\n%s", out.String())
	}
	outputs := map[string]string{}
	for _, o := range r.res.Outputs() {
		outputs[o.Name] = o.Value
	}
	if outputs["layer-cache-first-miss"] != "[4/5] RUN pip install -r requirements.txt (line 4)" || outputs["layer-cache-miss-reason"] != "no-cache" {
		t.Errorf("outputs %q %q", outputs["layer-cache-first-miss"], outputs["layer-cache-miss-reason"])
	}
	if s := r.res.Summary(); !strings.Contains(s, "- 9.0s `[4/5] RUN pip install -r requirements.txt` (line 4)") || !strings.Contains(s, "**First miss:** `[4/5] RUN pip install -r requirements.txt` at line 4 — reason `no-cache`") {
		t.Errorf("summary:\n%s", s)
	}
}

// A saving run with a local cache leaves its build record in the cache directory; the next
// run that reads it and misses at a changed file names the file.
func TestLocalCacheRunNamesTheChangedFileFromTheSavedRecord(t *testing.T) {
	f := newRecordFixture(t)
	write, steps, newRunner := f.write, f.steps, f.newRunner
	write("app.py", "print(1)\n")
	var out strings.Builder
	first := newRunner(&out)
	first.res.CacheSaved = true
	first.explainSteps(t.Context(), steps(99))
	first.saveBuildRecord(t.Context(), steps(99))
	if _, err := os.Stat(filepath.Join(f.cache, "warmbuild-buildrecord.json")); err != nil {
		t.Fatalf("no record beside the cache: %v\n%s", err, out.String())
	}
	write("requirements.txt", "flask\nrequests\n")
	second := newRunner(&out)
	second.explainSteps(t.Context(), steps(2))
	m := second.res.FirstMiss
	if m == nil || m.Step != "[2/4] COPY requirements.txt ." || m.Reason != report.MissFiles || len(m.Files) != 1 || m.Files[0] != "requirements.txt" || m.Line != 2 {
		t.Errorf("miss %+v\n%s", m, out.String())
	}
	if !strings.Contains(out.String(), "::notice file=Dockerfile,line=2,title=Layer cache miss (files)::first miss: [2/4] COPY requirements.txt .: files") {
		t.Errorf("log:\n%s", out.String())
	}
}

// The record a miss is explained with is the one the scope held when the build started
// (read while it ran, as the build's cache import was): another run saving to the same
// scope meanwhile does not change the explanation.
func TestMissIsExplainedWithTheRecordReadWhenTheBuildStarted(t *testing.T) {
	f := newRecordFixture(t)
	write, steps := f.write, f.steps
	var out strings.Builder
	newRunner := func() *runner { return f.newRunner(&out) }
	save := func() {
		r := newRunner()
		r.res.CacheSaved = true
		r.explainSteps(t.Context(), steps(99))
		r.saveBuildRecord(t.Context(), steps(99))
	}
	save() // the record of flask alone
	write("requirements.txt", "flask\nrequests\n")
	this := newRunner()
	this.prevRecord = this.readRecordAhead(t.Context()) // as build starts it
	<-this.prevRecord.done
	save() // another run saves the new requirements to the scope meanwhile
	this.explainSteps(t.Context(), steps(2))
	if m := this.res.FirstMiss; m == nil || m.Reason != report.MissFiles || len(m.Files) != 1 || m.Files[0] != "requirements.txt" {
		t.Errorf("miss %+v\n%s", m, out.String())
	}
}

// recordFixture is a workspace with a Dockerfile and requirements.txt, and runners that
// read and save build records in a local cache directory beside it.
type recordFixture struct {
	t         *testing.T
	ws, cache string
}

func newRecordFixture(t *testing.T) *recordFixture {
	f := &recordFixture{t: t, ws: t.TempDir(), cache: filepath.Join(t.TempDir(), "main")}
	if err := os.MkdirAll(f.cache, 0o755); err != nil {
		t.Fatal(err)
	}
	f.write("Dockerfile", "FROM python:3.12-slim\nCOPY requirements.txt .\nRUN pip install -r requirements.txt\nCOPY . .\n")
	f.write("requirements.txt", "flask\n")
	return f
}

func (f *recordFixture) write(name, content string) {
	if err := os.WriteFile(filepath.Join(f.ws, name), []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// steps are the Dockerfile's steps with those before firstRan cached.
func (f *recordFixture) steps(firstRan int) builder.StepStats {
	st := builder.StepStats{Bases: map[string]string{"": "docker.io/library/python:3.12-slim@sha256:aaa"}}
	for i, n := range []string{"[2/4] COPY requirements.txt .", "[3/4] RUN pip install -r requirements.txt", "[4/4] COPY . ."} {
		st.Steps = append(st.Steps, builder.Step{Name: n, Index: i + 2, Cached: i+2 < firstRan})
	}
	return st
}

func (f *recordFixture) newRunner(out *strings.Builder) *runner {
	getenv := func(k string) string { return map[string]string{"GITHUB_WORKSPACE": f.ws}[k] }
	return &runner{rep: report.New(out, getenv), renv: runnerenv.Read(getenv), in: &inputs.Inputs{File: filepath.Join(f.ws, "Dockerfile"), Context: f.ws},
		plan: &Plan{LayerCache: layercache.Plan{Backend: "local", ReadScopes: []string{f.cache},
			Imports: inputs.CacheEntries{{Type: "local", Attrs: map[string]string{"src": f.cache}}},
			Exports: inputs.CacheEntries{{Type: "local", Attrs: map[string]string{"dest": f.cache}}}}}}
}
