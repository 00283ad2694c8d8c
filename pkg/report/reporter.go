package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"
)

// Reporter writes workflow commands. Outside a runner (no GITHUB_OUTPUT, as in the local
// demo) outputs and the summary are printed instead of written to files.
type Reporter struct {
	action *githubactions.Action
	getenv func(string) string
	out    io.Writer
}

// New returns a Reporter writing log lines to out and file commands to the files named
// by getenv (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY).
func New(out io.Writer, getenv func(string) string) *Reporter {
	g := &lineGuard{w: out}
	return &Reporter{
		action: githubactions.New(githubactions.WithWriter(guardedWriter{g, true}), githubactions.WithGetenv(getenv)),
		getenv: getenv,
		out:    guardedWriter{g, false},
	}
}

// Mask hides a value in every later log line.
func (r *Reporter) Mask(secret string) {
	for _, line := range strings.Split(secret, "\n") {
		// add-mask works per line; short fragments would mask common words.
		if len(strings.TrimSpace(line)) >= 3 {
			r.action.AddMask(line)
		}
	}
}

// Debug enabled when the workflow sets ACTIONS_STEP_DEBUG (or re-runs with debug logging).
func (r *Reporter) DebugEnabled() bool {
	return r.getenv("RUNNER_DEBUG") == "1" || r.getenv("ACTIONS_STEP_DEBUG") == "true"
}

func (r *Reporter) Debugf(format string, args ...any) { r.action.Debugf(format, args...) }

// Infof prints a plain log line. Whatever the arguments hold, it issues no workflow
// command (see LogText).
func (r *Reporter) Infof(format string, args ...any) {
	r.action.Infof("%s", LogText(fmt.Sprintf(format, args...)))
}

// Notice, Warning and Error are annotations; title may be empty.
func (r *Reporter) Notice(title, msg string) { r.annotate("notice", title, msg, nil) }

func (r *Reporter) Warning(title, msg string) { r.annotate("warning", title, msg, nil) }

func (r *Reporter) Error(title, msg string) { r.annotate("error", title, msg, nil) }

// ErrorAt is an error annotation on a file and line (shown on the file in pull requests).
func (r *Reporter) ErrorAt(title, msg, file string, line, endLine int) {
	props := map[string]string{"file": file}
	if line > 0 {
		props["line"] = strconv.Itoa(line)
		if endLine > line {
			props["endLine"] = strconv.Itoa(endLine)
		}
	}
	r.annotate("error", title, msg, props)
}

// WarningAt is a warning annotation on a file and line (build checks on the Dockerfile).
func (r *Reporter) WarningAt(title, msg, file string, line int) {
	props := map[string]string{"file": file}
	if line > 0 {
		props["line"] = strconv.Itoa(line)
	}
	r.annotate("warning", title, msg, props)
}

// NoticeAt is a notice annotation on a file and line (explain, issue 17: the first miss).
func (r *Reporter) NoticeAt(title, msg, file string, line int) {
	props := map[string]string{"file": file}
	if line > 0 {
		props["line"] = strconv.Itoa(line)
	}
	r.annotate("notice", title, msg, props)
}

func (r *Reporter) annotate(level, title, msg string, props map[string]string) {
	if props == nil {
		props = map[string]string{}
	}
	if title != "" {
		props["title"] = title
	}
	a := r.action.WithFieldsMap(props)
	switch level {
	case "notice":
		a.Noticef("%s", msg)
	case "warning":
		a.Warningf("%s", msg)
	default:
		a.Errorf("%s", msg)
	}
}

// Group opens a collapsed log group; the returned func closes it and prints how long the
// phase took.
func (r *Reporter) Group(name string) func() {
	start := time.Now()
	end := r.GroupTook(name)
	return func() { end(time.Since(start)) }
}

// GroupTook opens a log group whose work is timed elsewhere: a log recorded while the
// work ran and written out later (the mount caches' early save) says how long the work
// took, not how long writing the log out did.
func (r *Reporter) GroupTook(name string) (end func(took time.Duration)) {
	r.action.Group(name)
	return func(took time.Duration) {
		r.Infof("%s took %.2fs", name, took.Seconds())
		r.action.EndGroup()
	}
}

// SetOutputs writes the step outputs (Result.Outputs; or prints them when not on a runner).
func (r *Reporter) SetOutputs(list []Output) {
	path := r.getenv("GITHUB_OUTPUT")
	if path == "" {
		fmt.Fprintln(r.out, "Outputs:")
		for _, kv := range list {
			fmt.Fprintf(r.out, "%s\n", LogText(fmt.Sprintf("  %s=%s", kv.Name, kv.Value)))
		}
		return
	}
	if err := writeOutputs(path, list); err != nil {
		r.Warning("Outputs", err.Error())
	}
}

// writeOutputs appends the outputs to the GITHUB_OUTPUT file, each with a delimiter of its
// own. An output that cannot be written safely is left out and named in the error.
func writeOutputs(path string, list []Output) error {
	var b strings.Builder
	var problems []string
	for _, kv := range list {
		rec, err := outputRecord(kv.Name, kv.Value)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		b.WriteString(rec)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err == nil {
		_, err = f.WriteString(b.String())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		problems = append(problems, fmt.Sprintf("could not write the outputs: %v", err))
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// AddSummary appends markdown to the job summary (or prints it when not on a runner).
func (r *Reporter) AddSummary(markdown string) {
	if r.getenv("GITHUB_STEP_SUMMARY") == "" {
		fmt.Fprintln(r.out, LogText(markdown))
		return
	}
	if err := r.safe(func() { r.action.AddStepSummary(markdown) }); err != nil {
		r.Warning("Job summary", fmt.Sprintf("could not write the job summary: %v", err))
	}
}

// safe turns go-githubactions' panics on unwritable command files into errors: a full or
// missing file must not crash the step with a stack trace.
func (r *Reporter) safe(f func()) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	f()
	return nil
}

// Writer is where plain log text (BuildKit progress) goes. It is printed as BuildKit
// writes it, except for signatures of signed storage URLs: BuildKit's gha cache backend
// quotes the URLs it fails on, and warmbuild cannot mask what it never saw.
func (r *Reporter) Writer() io.Writer { return signatureCutter{r.out} }

// signatureCutter redacts sig= values in each write. BuildKit's plain progress writes a
// line at a time, so a signature is not split across writes.
type signatureCutter struct{ w io.Writer }

func (s signatureCutter) Write(p []byte) (int, error) {
	if !bytes.Contains(bytes.ToLower(p), []byte("sig")) {
		return s.w.Write(p)
	}
	if _, err := io.WriteString(s.w, CutSignatures(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
