package run

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/report"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

const copyFirst = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"

// A cache pitfall is a warning annotation at its Dockerfile line (relative to the
// workspace), titled with its id and ending with the fix, and is in the summary;
// cache-pitfalls-ignore silences it.
func TestPitfallsAnnotateTheDockerfileLineUnlessIgnored(t *testing.T) {
	ws := workspaceWith(t, "app/Dockerfile", copyFirst)
	t.Chdir(ws)
	for _, ignore := range []inputs.PitfallsIgnore{nil, {"copy-before-install"}, {"all"}} {
		var out bytes.Buffer
		getenv := func(k string) string { return map[string]string{"GITHUB_WORKSPACE": ws}[k] }
		r := &runner{rep: report.New(&out, getenv), renv: runnerenv.Read(getenv), in: &inputs.Inputs{File: filepath.Join("app", "Dockerfile"), PitfallsIgnore: ignore}}
		r.checkPitfalls()
		log := out.String()
		want := "::warning file=app/Dockerfile,line=3,title=copy-before-install::this COPY of the whole context comes before the pip install at line 4, so every code change reinstalls the dependencies. Copy only the dependency files first (e.g. COPY requirements.txt .), run the install, and copy the rest of the code after it.\n"
		if ignore == nil {
			if !strings.Contains(log, want) {
				t.Errorf("no annotation at the COPY:\n%s", log)
			}
			if len(r.res.Pitfalls) != 1 || r.res.Pitfalls[0].Line != 3 || r.res.Pitfalls[0].File != "app/Dockerfile" {
				t.Errorf("summary pitfalls: %+v", r.res.Pitfalls)
			}
			if !strings.Contains(r.res.Summary(), "`copy-before-install`") {
				t.Errorf("not in the summary:\n%s", r.res.Summary())
			}
			continue
		}
		if strings.Contains(log, "copy-before-install") || len(r.res.Pitfalls) != 0 {
			t.Errorf("ignore %q: still reported:\n%s%+v", ignore, log, r.res.Pitfalls)
		}
	}
}

// The Dockerfile of a Git context is in the repository BuildKit fetches: a file of the
// same name in the workspace is not what is built, and is not checked.
func TestPitfallsAreNotCheckedOnAGitContextsDockerfile(t *testing.T) {
	ws := workspaceWith(t, "Dockerfile", copyFirst)
	t.Chdir(ws)
	var out bytes.Buffer
	getenv := func(k string) string { return map[string]string{"GITHUB_WORKSPACE": ws}[k] }
	r := &runner{rep: report.New(&out, getenv), renv: runnerenv.Read(getenv), in: &inputs.Inputs{File: "Dockerfile"},
		plan: &Plan{Git: &GitContext{URL: "https://github.com/octo-org/app.git", Dockerfile: "Dockerfile"}}}
	r.checkPitfalls()
	if strings.Contains(out.String(), "copy-before-install") || len(r.res.Pitfalls) != 0 {
		t.Errorf("a Git context's Dockerfile was checked from the workspace:\n%s", out.String())
	}
}
