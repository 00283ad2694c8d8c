//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// checkViolations breaks two of BuildKit's build checks, each on a known line:
// FromAsCasing on line 1 and MaintainerDeprecated on line 4.
const checkViolations = "FROM python:3.11-slim as base\n" +
	"RUN echo $((6*7))-built\n" +
	"FROM base\n" +
	"MAINTAINER someone@example.com\n"

// warningLines are the log's warning annotations on a file.
func warningLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.HasPrefix(l, "::warning file=") {
			out = append(out, l)
		}
	}
	return out
}

// buildxWarning is the part of buildx's buildx.build.warnings entries that
// build-push-action reads (actions-toolkit src/types/buildkit/client.ts VertexWarning).
type buildxWarning struct {
	Short      []byte   `json:"short"`
	Detail     [][]byte `json:"detail"`
	URL        string   `json:"url"`
	SourceInfo struct {
		Filename string `json:"filename"`
		Data     []byte `json:"data"`
	} `json:"sourceInfo"`
	Range []struct {
		Start struct {
			Line int `json:"line"`
		} `json:"start"`
	} `json:"range"`
}

// A build whose Dockerfile breaks build checks succeeds, and each check is a warning
// annotation on the Dockerfile (its path in the workspace) at the check's line, as
// build-push-action makes them; metadata carries them as buildx.build.warnings.
// DOCKER_BUILD_CHECKS_ANNOTATIONS=false keeps the metadata and drops the annotations.
func TestBuildChecksAnnotateTheDockerfileAtTheirLines(t *testing.T) {
	b := freshBuilder(t)
	dir := writeContext(t, map[string]string{"docker/app.Dockerfile": checkViolations})
	inputs := map[string]string{"endpoint": b.Endpoint, "cache-backend": "none", "file": "docker/app.Dockerfile"}
	res := runAction(t, Run{Dir: dir, Inputs: inputs, Event: "push"})
	mustExit0(t, res)

	got := warningLines(res.Log)
	want := map[string]string{
		"::warning file=docker/app.Dockerfile,line=1,": "FromAsCasing: 'as' and 'FROM' keywords' casing do not match%0AMore info: https://docs.docker.com/go/dockerfile/rule/from-as-casing/",
		"::warning file=docker/app.Dockerfile,line=4,": "MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label%0AMore info: https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/",
	}
	for prefix, msg := range want {
		found := false
		for _, l := range got {
			if strings.HasPrefix(l, prefix) && strings.HasSuffix(l, "::"+msg) && strings.Contains(l, ",title=") {
				found = true
			}
		}
		if !found {
			t.Errorf("no annotation %s...::%s; the log's warning annotations:\n%s", prefix, msg, strings.Join(got, "\n"))
		}
	}
	if len(got) != 2 {
		t.Errorf("want exactly the two checks annotated, got %d:\n%s", len(got), strings.Join(got, "\n"))
	}
	if !strings.Contains(res.Log, "2 warnings found:") {
		t.Errorf("the log does not list the warnings as buildx does:\n%s", tail(res.Log, 40))
	}

	var meta map[string]json.RawMessage
	if err := json.Unmarshal([]byte(res.Outputs["metadata"]), &meta); err != nil {
		t.Fatalf("metadata output is not JSON: %v\n%s", err, res.Outputs["metadata"])
	}
	var warnings []buildxWarning
	if err := json.Unmarshal(meta["buildx.build.warnings"], &warnings); err != nil || len(warnings) != 2 {
		t.Fatalf("metadata buildx.build.warnings: %v, %d entries:\n%s", err, len(warnings), meta["buildx.build.warnings"])
	}
	lines := map[int]string{}
	for _, w := range warnings {
		if w.SourceInfo.Filename != "app.Dockerfile" || string(w.SourceInfo.Data) != checkViolations || len(w.Range) == 0 || len(w.Detail) == 0 || w.URL == "" {
			t.Errorf("warning %q lacks the source, range, detail or URL build-push-action needs: %+v", w.Short, w)
			continue
		}
		lines[w.Range[0].Start.Line] = string(w.Short)
	}
	if !strings.HasPrefix(lines[1], "FromAsCasing:") || !strings.HasPrefix(lines[4], "MaintainerDeprecated:") {
		t.Errorf("metadata warnings by line: %v", lines)
	}

	off := runAction(t, Run{Dir: dir, Inputs: inputs, Event: "push", Env: map[string]string{"DOCKER_BUILD_CHECKS_ANNOTATIONS": "false"}})
	mustExit0(t, off)
	if got := warningLines(off.Log); len(got) != 0 {
		t.Errorf("DOCKER_BUILD_CHECKS_ANNOTATIONS=false, yet annotations:\n%s", strings.Join(got, "\n"))
	}
	if !strings.Contains(off.Outputs["metadata"], `"buildx.build.warnings"`) {
		t.Errorf("DOCKER_BUILD_CHECKS_ANNOTATIONS=false must keep the metadata: %s", off.Outputs["metadata"])
	}
}

// call: check evaluates the checks only: a Dockerfile that breaks one fails the step
// with buildx's verdict, the check is annotated at its line, nothing runs and nothing is
// pushed. A clean Dockerfile passes.
func TestCallCheckFailsOnABrokenCheckAndBuildsNothing(t *testing.T) {
	b := freshBuilder(t)
	repo := uniqueRepo(t, "checked")
	image := stackEnv["REGISTRY"] + "/" + repo
	dir := writeContext(t, map[string]string{"Dockerfile": "# check=error=true\n" + checkViolations})
	res := runAction(t, Run{Dir: dir, Event: "push", Inputs: map[string]string{
		"endpoint": b.Endpoint, "call": "check", "push": "true", "tags": image + ":1",
	}})
	if res.ExitCode == 0 {
		t.Fatalf("call: check on a Dockerfile breaking a check must fail the step:\n%s", tail(res.Log, 40))
	}
	if !strings.Contains(res.Log, "::error title=Build checks failed::Check complete, 2 warnings have been found!") {
		t.Errorf("the step's error is not buildx's verdict:\n%s", tail(res.Log, 40))
	}
	for _, prefix := range []string{"::warning file=Dockerfile,line=2,", "::warning file=Dockerfile,line=5,"} {
		found := false
		for _, l := range warningLines(res.Log) {
			found = found || strings.HasPrefix(l, prefix)
		}
		if !found {
			t.Errorf("no annotation %s...; warning annotations:\n%s", prefix, strings.Join(warningLines(res.Log), "\n"))
		}
	}
	if strings.Contains(res.Log, "42-built") {
		t.Errorf("call: check ran a RUN step:\n%s", tail(res.Log, 40))
	}
	resp, err := http.Head("http://" + stackEnv["REGISTRY"] + "/v2/" + repo + "/manifests/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("call: check pushed %s:1 (HTTP %d)", image, resp.StatusCode)
	}

	clean := writeContext(t, map[string]string{"Dockerfile": "FROM python:3.11-slim AS base\nRUN echo ok\n"})
	ok := runAction(t, Run{Dir: clean, Event: "push", Inputs: map[string]string{"endpoint": b.Endpoint, "call": "check"}})
	mustExit0(t, ok)
	if !strings.Contains(ok.Log, "Check complete, no warnings found.") {
		t.Errorf("a clean Dockerfile's check does not say so:\n%s", tail(ok.Log, 30))
	}
}

// call: targets lists the stages with their descriptions, call: outline the build
// arguments a target reads; both as buildx prints them, and both build nothing.
func TestCallTargetsAndOutlinePrintTheDockerfile(t *testing.T) {
	b := freshBuilder(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "" +
		"ARG PYVER=3.11\n" +
		"# base installs the runtime\n" +
		"FROM python:${PYVER}-slim AS base\n" +
		"# test runs the unit tests\n" +
		"FROM base AS test\n" +
		"# MODE picks the test suite\n" +
		"ARG MODE=fast\n" +
		"RUN echo $((6*7))-built $MODE\n"})
	targets := runAction(t, Run{Dir: dir, Event: "push", Inputs: map[string]string{"endpoint": b.Endpoint, "call": "targets"}})
	mustExit0(t, targets)
	for _, want := range []string{`TARGET\s+DESCRIPTION`, `\nbase\s+installs the runtime\n`, `\ntest \(default\)\s+runs the unit tests\n`} {
		if !regexp.MustCompile(want).MatchString(targets.Log) {
			t.Errorf("call: targets does not print %s:\n%s", want, tail(targets.Log, 30))
		}
	}
	outline := runAction(t, Run{Dir: dir, Event: "push", Inputs: map[string]string{"endpoint": b.Endpoint, "call": "outline", "target": "test"}})
	mustExit0(t, outline)
	for _, want := range []string{`TARGET:\s+test\n`, `DESCRIPTION:\s+runs the unit tests\n`, `BUILD ARG\s+VALUE\s+DESCRIPTION`, `\nPYVER\s+3\.11\s*\n`, `\nMODE\s+fast\s+picks the test suite\n`} {
		if !regexp.MustCompile(want).MatchString(outline.Log) {
			t.Errorf("call: outline does not print %s:\n%s", want, tail(outline.Log, 30))
		}
	}
	for _, r := range []Result{targets, outline} {
		if strings.Contains(r.Log, "42-built") {
			t.Errorf("a call ran a RUN step:\n%s", tail(r.Log, 30))
		}
		// build-push-action writes no build summary for a call: nothing was built.
		if r.Summary != "" {
			t.Errorf("a call wrote a job summary:\n%s", r.Summary)
		}
	}
}
