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
	r.explainSteps(builder.StepStats{Steps: []builder.Step{
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
