package run

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/subrequests/lint"
	"github.com/moby/buildkit/frontend/subrequests/outline"
	"github.com/moby/buildkit/frontend/subrequests/targets"
	"github.com/moby/moby/client/pkg/versions"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// applyCall makes the plan of a `call` other than build: the frontend evaluates the
// Dockerfile and answers; nothing is built, exported or saved, so the plan holds no
// exports, no layer cache and no cache save.
func applyCall(p *Plan) {
	call := p.Inputs.Call
	if call == nil {
		return
	}
	p.Request.Call = call.Name
	p.Request.Exports, p.Request.CacheExports, p.Request.CacheImports = nil, nil, nil
	p.LayerCache.Exports, p.LayerCache.Imports = nil, nil
	p.Decision.Save = false
	p.Decision.Reason = fmt.Sprintf("skipped: call: %s evaluates the Dockerfile only; nothing is built, exported or saved", call)
}

// CallError is a `call` whose answer fails the step: a check that found something
// (buildx exits with the frontend's result.statuscode unless ignorestatus=true), or a
// check that could not read the Dockerfile.
type CallError struct {
	Call    string // as written, e.g. check
	Message string // what build-push-action shows: the first line buildx printed
}

func (e *CallError) Error() string { return e.Message }

// Title is the error annotation's heading.
func (e *CallError) Title() string {
	if e.Call == "check" || strings.HasPrefix(e.Call, "check,") {
		return "Build checks failed"
	}
	return "call: " + e.Call + " failed"
}

// call runs a `call` other than build: the frontend's answer is printed as buildx prints
// it (docker/buildx commands/build.go printResult), the checks' warnings annotate the
// Dockerfile, and the answer goes into metadata as buildx puts it there.
func (r *runner) call(ctx context.Context, c *client.Client) error {
	call := r.in.Call
	end := r.rep.Group(fmt.Sprintf("call: %s (%s)", call, r.in.File))
	if r.in.Push || len(r.in.Outputs) > 0 {
		r.rep.Infof("call: %s evaluates the Dockerfile only: push and outputs are not used", call)
	}
	start := time.Now()
	res, err := builder.Solve(ctx, c, r.plan.Request, builder.WithProgress(r.rep.Writer()), builder.WithGetenv(r.env.Getenv))
	r.phase("build", start)
	if res != nil {
		r.res.StepsCached, r.res.StepsTotal, r.res.Duration = res.Steps.Cached, res.Steps.Total, res.Duration
	}
	if err != nil {
		end()
		r.buildChecks(res)
		return err
	}
	r.res.Metadata = res.Metadata
	var out bytes.Buffer
	printed, perr := printCall(&out, call, res.Call)
	r.rep.Infof("%s", strings.TrimRight(out.String(), "\n"))
	end()
	if call.Name == "lint" {
		r.annotateChecks(printed.warnings, false) // the answer listed them already
	}
	return callVerdict(call, out.String(), printed.status, perr)
}

// callVerdict is whether a call fails the step, as buildx exits: on a check that could
// not evaluate the Dockerfile (perr), or on a non-zero result.statuscode unless
// ignorestatus. The error is build-push-action's for a failed call: the first line buildx
// printed (src/main.ts: "checks warnings are printed to stdout"), e.g. "Check complete,
// 2 warnings have been found!".
func callVerdict(call *inputs.CallFunc, printed string, status int, perr error) error {
	if perr == nil && (status == 0 || call.IgnoreStatus) {
		return nil
	}
	msg := firstLine(printed)
	switch {
	case call.Format == "json" && perr != nil, msg == "" && perr != nil:
		msg = perr.Error()
	case call.Format == "json", msg == "":
		msg = fmt.Sprintf("call: %s answered with status %d", call, status)
	}
	return &CallError{Call: call.String(), Message: msg}
}

// callSkipsSummary says, for a call, that no job summary is written: there is no build
// to summarize (build-push-action src/main.ts: "Build summary skipped for <call>
// subrequest").
func (r *runner) callSkipsSummary() bool {
	if r.in == nil || r.in.Call == nil {
		return false
	}
	r.rep.Infof("Job summary skipped: call: %s builds nothing", r.in.Call)
	return true
}

// callAnswer is what printCall read from the frontend's answer.
type callAnswer struct {
	status   int                    // result.statuscode
	warnings []client.VertexWarning // a check's findings, as a build reports them
}

// printCall prints a call's answer as buildx's printResult does (docker/buildx
// commands/build.go), and returns its status code and, for a check, its warnings. The
// error is a check that could not evaluate the Dockerfile (LintResults.Error).
func printCall(w io.Writer, f *inputs.CallFunc, res map[string]string) (callAnswer, error) {
	var a callAnswer
	if v, ok := res["result.statuscode"]; ok {
		if n, err := strconv.Atoi(v); err == nil {
			a.status = n
		}
	}
	switch f.Name {
	case "outline":
		return a, printValue(w, outline.PrintOutline, outline.SubrequestsOutlineDefinition.Version, f.Format, res)
	case "targets":
		return a, printValue(w, targets.PrintTargets, targets.SubrequestsTargetsDefinition.Version, f.Format, res)
	case "lint":
		var lr lint.LintResults
		if dt, ok := res["result.json"]; ok {
			if err := json.Unmarshal([]byte(dt), &lr); err != nil {
				return a, fmt.Errorf("read the build checks' answer: %w", err)
			}
		}
		a.warnings = lintWarnings(&lr)
		n := len(lr.Warnings)
		if f.Format != "json" && n > 0 {
			if n == 1 {
				fmt.Fprintf(w, "Check complete, 1 warning has been found!\n")
			} else {
				fmt.Fprintf(w, "Check complete, %d warnings have been found!\n", n)
			}
		}
		if err := printValue(w, func(_ []byte, w io.Writer) error { return lr.PrintTo(w, nil) }, lint.SubrequestLintDefinition.Version, f.Format, res); err != nil {
			return a, err
		}
		if lr.Error != nil {
			if f.Format != "json" && n > 0 {
				fmt.Fprintln(w)
			}
			var b bytes.Buffer
			if lr.Error.Location.SourceIndex >= 0 && int(lr.Error.Location.SourceIndex) < len(lr.Sources) {
				lr.PrintErrorTo(&b, nil)
			} else {
				b.WriteString(lr.Error.Message)
			}
			w.Write(b.Bytes())
			return a, fmt.Errorf("%s", strings.TrimSpace(b.String()))
		}
		if n == 0 && f.Format != "json" {
			fmt.Fprintln(w, "Check complete, no warnings found.")
		}
	default:
		if dt, ok := res["result.json"]; ok && f.Format == "json" {
			fmt.Fprintln(w, dt)
		} else if dt, ok := res["result.txt"]; ok {
			fmt.Fprint(w, dt)
		} else {
			fmt.Fprintf(w, "%s %+v\n", f, res)
		}
	}
	return a, nil
}

// printValue is buildx's (commands/build.go): JSON as the frontend sent it, else the
// printer's text, or the frontend's own text when its answer is newer than the printer.
func printValue(w io.Writer, printer func([]byte, io.Writer) error, version, format string, res map[string]string) error {
	if format == "json" {
		fmt.Fprintln(w, res["result.json"])
		return nil
	}
	if res["version"] != "" && versions.LessThan(version, res["version"]) && res["result.txt"] != "" {
		fmt.Fprint(w, res["result.txt"])
		return nil
	}
	return printer([]byte(res["result.json"]), w)
}

// lintWarnings turns a check's findings into the warnings a build of the same Dockerfile
// reports, made as BuildKit's Dockerfile frontend makes them (moby/buildkit
// frontend/dockerfile/builder/build.go: Short is linter.LintFormatShort, Detail the
// rule's description, level 1, the source and ranges of the finding).
func lintWarnings(lr *lint.LintResults) []client.VertexWarning {
	var out []client.VertexWarning
	for _, w := range lr.Warnings {
		vw := client.VertexWarning{Level: 1, URL: w.URL, Detail: [][]byte{[]byte(w.Description)}}
		line := 0
		if loc := w.Location; loc != nil {
			if len(loc.Ranges) > 0 {
				line = int(loc.Ranges[0].GetStart().GetLine())
			}
			vw.Range = loc.Ranges
			if i := int(loc.SourceIndex); i >= 0 && i < len(lr.Sources) {
				vw.SourceInfo = lr.Sources[i]
			}
		}
		vw.Short = []byte(linter.LintFormatShort(w.RuleName, w.Detail, line))
		out = append(out, vw)
	}
	return out
}

// buildChecks reports a build's warnings (BuildKit's build checks among them): listed in
// the log as buildx lists them, and annotated on the Dockerfile. A failed build reports
// them too: a check made an error (check=error=true) fails the build.
func (r *runner) buildChecks(res *builder.Result) {
	if res == nil || len(res.Warnings) == 0 {
		return
	}
	r.annotateChecks(res.Warnings, true)
}

// annotateChecks lists warnings as buildx's printWarnings does (when list) and, unless
// DOCKER_BUILD_CHECKS_ANNOTATIONS=false, annotates each on the Dockerfile the way
// build-push-action does (src/main.ts, actions-toolkit Buildx.convertWarningsToGitHubAnnotations).
func (r *runner) annotateChecks(warnings []client.VertexWarning, list bool) {
	if len(warnings) == 0 {
		return
	}
	if list {
		r.rep.Infof("%s", warningList(warnings))
	}
	if w := r.renv.BuildChecksAnnotationsWarning; w != "" {
		r.rep.Warning("Build checks", w)
	}
	if r.renv.NoBuildChecksAnnotations {
		r.rep.Infof("Build check annotations are off (%s=false)", "DOCKER_BUILD_CHECKS_ANNOTATIONS")
		return
	}
	workspace := r.renv.Workspace
	if workspace == "" {
		workspace, _ = os.Getwd()
	}
	df := dockerfileOf(r.in.File, workspace)
	for _, a := range checkAnnotations(warnings, df) {
		r.rep.WarningAt(a.Title, a.Message, a.File, a.Line)
	}
}

// warningList is buildx's printWarnings without --debug: a count and each short text.
func warningList(warnings []client.VertexWarning) string {
	var b strings.Builder
	if len(warnings) == 1 {
		b.WriteString("1 warning found:\n")
	} else {
		fmt.Fprintf(&b, "%d warnings found:\n", len(warnings))
	}
	for _, w := range warnings {
		fmt.Fprintf(&b, " - %s\n", w.Short)
	}
	return strings.TrimRight(b.String(), "\n")
}

// dockerfile is the build's Dockerfile as build-push-action matches warnings to it: its
// path relative to the workspace and its content. Path is empty when it is outside the
// workspace or unreadable (build-push-action then makes no annotation).
type dockerfile struct {
	Path    string
	Content []byte
}

func dockerfileOf(file, workspace string) dockerfile {
	abs, err := filepath.Abs(file)
	if err != nil {
		return dockerfile{}
	}
	if ws, err := filepath.Abs(workspace); err == nil {
		rel, err := filepath.Rel(ws, abs)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return dockerfile{}
		}
		content, err := os.ReadFile(abs)
		if err != nil {
			return dockerfile{}
		}
		return dockerfile{Path: filepath.ToSlash(rel), Content: content}
	}
	return dockerfile{}
}

// annotation is one build check shown on the Dockerfile.
type annotation struct {
	Title, Message, File string
	Line                 int
}

var lineSuffix = regexp.MustCompile(`\s\(line \d+\)$`)

// checkAnnotations is actions-toolkit's Buildx.convertWarningsToGitHubAnnotations for one
// local Dockerfile (src/buildx/buildx.ts): a warning with a detail, a short text and a
// source is annotated when its source is this Dockerfile (the file name ends the path and
// the content is the same); the title is the detail, the message the short text without
// its "(line N)" and with "More info: URL"; the line is the first range's start, as
// GitHub shows no ranges.
func checkAnnotations(warnings []client.VertexWarning, df dockerfile) []annotation {
	if df.Path == "" {
		return nil
	}
	var out []annotation
	for _, w := range warnings {
		if len(w.Detail) == 0 || len(w.Short) == 0 {
			continue
		}
		if w.SourceInfo == nil || w.SourceInfo.Filename == "" || len(w.SourceInfo.Data) == 0 {
			continue
		}
		if !strings.HasSuffix(df.Path, w.SourceInfo.Filename) || !bytes.Equal(df.Content, w.SourceInfo.Data) {
			continue
		}
		details := make([]string, len(w.Detail))
		for i, d := range w.Detail {
			details[i] = string(d)
		}
		msg := lineSuffix.ReplaceAllString(string(w.Short), "")
		if w.URL != "" {
			msg += "\nMore info: " + w.URL
		}
		a := annotation{Title: strings.Join(details, " "), Message: msg, File: df.Path}
		if len(w.Range) > 0 {
			a.Line = int(w.Range[0].GetStart().GetLine())
		}
		out = append(out, a)
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(line)
}
