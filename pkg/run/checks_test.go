package run

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/solver/pb"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/report"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

const violating = "FROM python:3.11-slim as base\nRUN echo hi\n"

// fromAsCasing is the warning BuildKit's Dockerfile frontend reports for violating, as
// it reports it (frontend/dockerfile/builder/build.go: LintFormatShort, the rule's
// description as detail, the source and range).
func fromAsCasing(filename, data string) client.VertexWarning {
	return client.VertexWarning{
		Level:      1,
		Short:      []byte("FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"),
		Detail:     [][]byte{[]byte("The 'as' keyword should match the case of the 'from' keyword")},
		URL:        "https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
		SourceInfo: &pb.SourceInfo{Filename: filename, Data: []byte(data)},
		Range:      []*pb.Range{{Start: &pb.Position{Line: 1}, End: &pb.Position{Line: 1}}},
	}
}

func workspaceWith(t *testing.T, path, content string) string {
	t.Helper()
	ws := t.TempDir()
	p := filepath.Join(ws, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return ws
}

// The annotations are actions-toolkit's convertWarningsToGitHubAnnotations: the file
// relative to the workspace, the first line of the range, the detail as title, the short
// text without "(line N)" plus "More info:"; only for the build's own Dockerfile.
func TestBuildCheckAnnotationsAreBuildPushActions(t *testing.T) {
	ws := workspaceWith(t, "docker/app.Dockerfile", violating)
	df := dockerfileOf(filepath.Join(ws, "docker/app.Dockerfile"), ws)
	got := checkAnnotations([]client.VertexWarning{fromAsCasing("app.Dockerfile", violating)}, df)
	want := annotation{
		Title:   "The 'as' keyword should match the case of the 'from' keyword",
		Message: "FromAsCasing: 'as' and 'FROM' keywords' casing do not match\nMore info: https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
		File:    "docker/app.Dockerfile", Line: 1,
	}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("annotations %+v\nwant %+v", got, want)
	}

	noSource := fromAsCasing("app.Dockerfile", violating)
	noSource.SourceInfo = nil
	noDetail := fromAsCasing("app.Dockerfile", violating)
	noDetail.Detail = nil
	for name, w := range map[string]client.VertexWarning{
		"another file's content":   fromAsCasing("app.Dockerfile", "FROM alpine as x\n"),
		"another file's name":      fromAsCasing("other.Dockerfile", violating),
		"a warning without source": noSource,
		"a warning without detail": noDetail,
	} {
		if got := checkAnnotations([]client.VertexWarning{w}, df); len(got) != 0 {
			t.Errorf("%s is annotated: %+v", name, got)
		}
	}
	outside := workspaceWith(t, "Dockerfile", violating)
	if got := checkAnnotations([]client.VertexWarning{fromAsCasing("Dockerfile", violating)}, dockerfileOf(filepath.Join(outside, "Dockerfile"), ws)); len(got) != 0 {
		t.Errorf("a Dockerfile outside the workspace is annotated: %+v", got)
	}
}

// What the runner's log gets: a warning annotation at the line, unless
// DOCKER_BUILD_CHECKS_ANNOTATIONS=false; the list of warnings either way.
func TestBuildChecksBecomeWarningAnnotationsUnlessSwitchedOff(t *testing.T) {
	ws := workspaceWith(t, "Dockerfile", violating)
	t.Chdir(ws)
	for _, off := range []string{"", "false"} {
		var out bytes.Buffer
		getenv := func(k string) string {
			return map[string]string{"GITHUB_WORKSPACE": ws, "DOCKER_BUILD_CHECKS_ANNOTATIONS": off}[k]
		}
		r := &runner{rep: report.New(&out, getenv), renv: runnerenv.Read(getenv), in: &inputs.Inputs{File: "Dockerfile"}}
		r.buildChecks(nil)
		r.annotateChecks([]client.VertexWarning{fromAsCasing("Dockerfile", violating)}, true)
		log := out.String()
		annotated := strings.Contains(log, "::warning file=Dockerfile,line=1,title=The 'as' keyword should match the case of the 'from' keyword::FromAsCasing: 'as' and 'FROM' keywords' casing do not match%0AMore info: https://docs.docker.com/go/dockerfile/rule/from-as-casing/\n")
		if annotated != (off == "") {
			t.Errorf("DOCKER_BUILD_CHECKS_ANNOTATIONS=%q: annotated = %v:\n%s", off, annotated, log)
		}
		if !strings.Contains(log, "1 warning found:\n - FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)\n") {
			t.Errorf("the warnings are not listed as buildx lists them:\n%s", log)
		}
	}
}

// A call plans no image, no layer cache and no save: push and cache settings are moot.
func TestACallPlansNothingToExportOrSave(t *testing.T) {
	extra := map[string]string{
		inputs.InputEnv("push"): "true", inputs.InputEnv("tags"): "registry.example/app:1",
		inputs.InputEnv("cache-backend"): "registry", inputs.InputEnv("cache-ref"): "registry.example/app:cache",
		inputs.InputEnv("cache-save-on"): "main",
	}
	build, err := planOf(t, extra)
	if err != nil {
		t.Fatal(err)
	}
	if build.Request.Call != "" || len(build.Request.Exports) == 0 || len(build.Request.CacheExports) == 0 || !build.Decision.Save {
		t.Fatalf("without call the plan builds, pushes and saves: %+v %+v", build.Request, build.Decision)
	}
	extra[inputs.InputEnv("call")] = "check"
	p, err := planOf(t, extra)
	if err != nil {
		t.Fatal(err)
	}
	if p.Request.Call != "lint" {
		t.Errorf("call: check asks the frontend for %q, want lint (buildx's name)", p.Request.Call)
	}
	if len(p.Request.Exports)+len(p.Request.CacheExports)+len(p.Request.CacheImports)+len(p.LayerCache.Exports) != 0 || p.Decision.Save {
		t.Errorf("call: check still exports or saves: exports %v, cache %v/%v, save %v", p.Request.Exports, p.Request.CacheImports, p.Request.CacheExports, p.Decision.Save)
	}
	if !strings.Contains(p.Decision.Reason, "call: check") {
		t.Errorf("cache-save-reason does not say why nothing is saved: %q", p.Decision.Reason)
	}
}

func planOf(t *testing.T, extra map[string]string) (*Plan, error) {
	t.Helper()
	getenv := planEnv(t, extra)
	in, err := inputs.Parse(getenv)
	if err != nil {
		return nil, err
	}
	return MakePlan(in, runnerenv.Read(getenv))
}

// lintAnswer is the frontend's answer to frontend.lint as BuildKit makes it
// (frontend/subrequests/lint LintResults.ToResult), for one finding or none.
func lintAnswer(t *testing.T, findings int, withError bool) map[string]string {
	t.Helper()
	lr := lint.LintResults{Sources: []*pb.SourceInfo{{Filename: "Dockerfile", Data: []byte(violating), Language: "Dockerfile"}}}
	for range findings {
		lr.Warnings = append(lr.Warnings, lint.Warning{
			RuleName: "FromAsCasing", Description: "The 'as' keyword should match the case of the 'from' keyword",
			URL: "https://docs.docker.com/go/dockerfile/rule/from-as-casing/", Detail: "'as' and 'FROM' keywords' casing do not match",
			Location: &pb.Location{SourceIndex: 0, Ranges: []*pb.Range{{Start: &pb.Position{Line: 1}, End: &pb.Position{Line: 1}}}},
		})
	}
	if withError {
		lr.Error = &lint.BuildError{Message: "lint violation found for rules: FromAsCasing", Location: pb.Location{SourceIndex: -1}}
	}
	res, err := lr.ToResult(nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range res.Metadata {
		out[k] = string(v)
	}
	return out
}

// A check's answer is printed as buildx prints it; its status fails the step unless
// ignorestatus; its findings are the same warnings a build reports.
func TestCheckAnswerIsPrintedAndJudgedAsBuildxDoes(t *testing.T) {
	check := &inputs.CallFunc{Name: "lint"}
	var out bytes.Buffer
	a, err := printCall(&out, check, lintAnswer(t, 1, false))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "Check complete, 1 warning has been found!\n\nWARNING: FromAsCasing - https://docs.docker.com/go/dockerfile/rule/from-as-casing/\n'as' and 'FROM' keywords' casing do not match\nDockerfile:1\n") {
		t.Errorf("printed:\n%s", out.String())
	}
	if a.status != 1 {
		t.Errorf("a check with a finding has status %d, want 1 (buildx exits 1)", a.status)
	}
	if len(a.warnings) != 1 || string(a.warnings[0].Short) != "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)" ||
		a.warnings[0].SourceInfo.Filename != "Dockerfile" || a.warnings[0].Range[0].Start.Line != 1 || string(a.warnings[0].Detail[0]) != "The 'as' keyword should match the case of the 'from' keyword" {
		t.Errorf("the finding as a build warning: %+v", a.warnings)
	}

	out.Reset()
	a, err = printCall(&out, check, lintAnswer(t, 0, false))
	if err != nil || a.status != 0 || out.String() != "Check complete, no warnings found.\n" {
		t.Errorf("a clean check: status %d, err %v, printed %q", a.status, err, out.String())
	}

	out.Reset()
	_, err = printCall(&out, check, lintAnswer(t, 1, true))
	if err == nil || !strings.Contains(err.Error(), "lint violation found for rules: FromAsCasing") {
		t.Errorf("check=error=true: err %v", err)
	}

	out.Reset()
	if _, err := printCall(&out, &inputs.CallFunc{Name: "lint", Format: "json"}, lintAnswer(t, 1, false)); err != nil {
		t.Fatal(err)
	}
	var lr lint.LintResults
	if err := json.Unmarshal(out.Bytes(), &lr); err != nil || len(lr.Warnings) != 1 {
		t.Errorf("format=json prints the frontend's JSON: %v\n%s", err, out.String())
	}
}

// The step's error for a failed check is build-push-action's: the first line buildx printed.
func TestFailedCheckIsTheStepsErrorWithBuildxsVerdict(t *testing.T) {
	var out bytes.Buffer
	r := &runner{rep: report.New(&out, func(string) string { return "" })}
	r.finish(&CallError{Call: "check", Message: "Check complete, 2 warnings have been found!"})
	if !strings.Contains(out.String(), "::error title=Build checks failed::Check complete, 2 warnings have been found!\n") {
		t.Errorf("log:\n%s", out.String())
	}
}

// A check with findings fails the step, as buildx exits 1; ignorestatus=true passes it;
// a check that could not run fails it whatever ignorestatus says.
func TestCheckVerdictIsBuildxsExitStatus(t *testing.T) {
	printed := "Check complete, 1 warning has been found!\n\nWARNING: FromAsCasing\n"
	for _, tc := range []struct {
		call   *inputs.CallFunc
		status int
		perr   error
		want   string // "" passes
	}{
		{&inputs.CallFunc{Name: "lint"}, 1, nil, "Check complete, 1 warning has been found!"},
		{&inputs.CallFunc{Name: "lint", IgnoreStatus: true}, 1, nil, ""},
		{&inputs.CallFunc{Name: "lint"}, 0, nil, ""},
		{&inputs.CallFunc{Name: "lint", IgnoreStatus: true}, 1, errors.New("lint violation found for rules: FromAsCasing"), "Check complete, 1 warning has been found!"},
		{&inputs.CallFunc{Name: "lint", Format: "json"}, 1, nil, "call: check,format=json answered with status 1"},
		{&inputs.CallFunc{Name: "targets"}, 0, nil, ""},
	} {
		err := callVerdict(tc.call, printed, tc.status, tc.perr)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("call %s, status %d, %v: verdict %q, want %q", tc.call, tc.status, tc.perr, got, tc.want)
		}
	}
}
