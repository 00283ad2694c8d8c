package report

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
)

// commandLines returns the lines the runner would take for workflow commands: after
// leading white space they start with "::", or they hold the older "##[" anywhere
// (actions/runner src/Runner.Common/ActionCommand.cs). Lines end at "\n" or "\r".
func commandLines(log string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(log, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if strings.HasPrefix(strings.TrimLeftFunc(line, unicode.IsSpace), "::") || strings.Contains(line, "##[") {
			out = append(out, line)
		}
	}
	return out
}

// A value from outside (here a cache key the service answered with) cannot start a line
// of the log with a workflow command, in either of the runner's two syntaxes.
func TestLogLinesWithOutsideValuesIssueNoWorkflowCommand(t *testing.T) {
	var log bytes.Buffer
	r := New(&log, func(string) string { return "" })
	for _, key := range []string{"key\n::error::x", "key\r::add-mask::x", "  ::warning::x", "\u00a0::notice::x", "key ##[error]x", "::stop-commands::t"} {
		r.Infof("Mount cache %s: miss", key)
		r.Infof("%s", key)
	}
	if cmds := commandLines(log.String()); len(cmds) > 0 {
		t.Errorf("the log issues workflow commands: %q\nlog:\n%s", cmds, log.String())
	}
	if !strings.Contains(log.String(), "error::x") || !strings.Contains(log.String(), "Mount cache key") {
		t.Errorf("the values should still be shown:\n%s", log.String())
	}
	if got := LogText("plain text: a::b, x ## y"); got != "plain text: a::b, x ## y" {
		t.Errorf("text without markers changed: %q", got)
	}
}

// Annotations, groups and the outputs printed outside a runner carry outside values too.
func TestAnnotationsGroupsAndPrintedOutputsStayOneCommandEach(t *testing.T) {
	var log bytes.Buffer
	r := New(&log, func(string) string { return "" })
	evil := "k\n::error::injected\r::add-mask::x"
	r.Warning("Mount cache "+evil, "restore failed: "+evil)
	r.ErrorAt("Build failed", evil, "Dockerfile\n::error::f", 3, 4)
	r.Group("Save mount cache " + evil)()
	r.SetOutputs(Result{SaveReason: evil}.Outputs())
	r.AddSummary(Result{Image: evil, Mounts: []MountEntry{{ID: evil}}}.Summary())
	var cmds []string
	for _, line := range commandLines(log.String()) {
		for _, ok := range []string{"::warning ", "::error ", "::group::", "::endgroup::"} {
			if strings.HasPrefix(line, ok) {
				line = ""
				break
			}
		}
		if line != "" {
			cmds = append(cmds, line)
		}
	}
	if len(cmds) > 0 {
		t.Errorf("outside values issued commands of their own: %q\nlog:\n%s", cmds, log.String())
	}
	if n := strings.Count(log.String(), "::warning "); n != 1 {
		t.Errorf("want one warning annotation, got %d:\n%s", n, log.String())
	}
}

// Item 8 of issue 19: with the fixed delimiter of old, a value holding it ended its record
// and set any output it liked. Each value now has a delimiter of its own.
func TestAnOutputValueCannotEndItsRecordAndSetAnother(t *testing.T) {
	out := filepath.Join(t.TempDir(), "output")
	if err := os.WriteFile(out, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GITHUB_OUTPUT": out}
	evil := "x\n_GitHubActionsFileCommandDelimeter_\ndigest<<EOF\nsha256:evil\nEOF\nghadelimiter_\n"
	New(&bytes.Buffer{}, func(k string) string { return env[k] }).SetOutputs(Result{
		Digest: "sha256:good", SaveReason: evil, Warnings: []string{"mount cache: key\n" + evil},
	}.Outputs())
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOutputs(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got["digest"] != "sha256:good" || got["cache-save-reason"] != evil {
		t.Errorf("digest %q, cache-save-reason %q; want sha256:good and the value as given", got["digest"], got["cache-save-reason"])
	}
	if len(got) != len(OutputNames) {
		t.Errorf("parsed %d outputs, want %d: %q", len(got), len(OutputNames), got)
	}
	delims := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if _, d, ok := strings.Cut(line, "<<"); ok && strings.HasPrefix(d, "ghadelimiter_") {
			delims[d] = true
		}
	}
	if len(delims) != len(OutputNames) {
		t.Errorf("want a ghadelimiter_<uuid> of its own for each of %d outputs, got %d", len(OutputNames), len(delims))
	}
}

func TestAValueHoldingItsDelimiterIsRefused(t *testing.T) {
	rec, err := outputRecord("a", "v")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(rec, "<<")
	delim, _, _ := strings.Cut(rest, "\n")
	if len(delim) != len("ghadelimiter_")+36 {
		t.Errorf("delimiter %q is not ghadelimiter_<uuid>", delim)
	}
	if _, err := outputRecord("a\nb", "v"); err == nil {
		t.Error("a name with a newline was accepted")
	}
}

// cells splits a Markdown table row as GFM does: at pipes not escaped by a backslash.
func cells(row string) []string {
	row = strings.TrimSpace(row)
	var out []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteString(`\|`)
			i++
		case row[i] == '|':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return out[1:] // before the first pipe
}

// Mount ids, keys and messages come from the Dockerfile and the cache service: a pipe,
// a newline or Markdown in them must not add cells, rows, links or HTML to the summary.
func TestSummaryCellsHoldOutsideValuesWithPipesNewlinesAndMarkdown(t *testing.T) {
	quota := int64(1)
	md := Result{
		Image: "app|x", Tags: []string{"a|b", "c`d"}, Digest: "sha256:1|2", StepsTotal: 1,
		SaveReason: "saved | <img src=x> [click](http://evil) `code`\n| injected | row |",
		Mounts: []MountEntry{
			{ID: "/root/.cache|pip", Hit: "partial|x", SaveNote: "not saved: key\n| Fake | row |", Platform: "linux/a|md64\n| Fake | row |", Ecosystem: "p|ip", QuotaBytes: &quota},
			{ID: "id`with``ticks", Hit: "miss"},
		},
		Hints: []string{"hint\n### heading"},
	}.Summary()
	want := 2
	for _, line := range strings.Split(md, "\n") {
		if strings.HasPrefix(line, "| Mount cache |") {
			want = 6
		}
		if !strings.HasPrefix(line, "|") {
			want = 2
			if strings.HasPrefix(line, "### ") && !strings.HasPrefix(line, "### warmbuild:") {
				t.Errorf("an outside value made a heading: %q", line)
			}
			continue
		}
		if got := len(cells(line)); got != want {
			t.Errorf("row has %d cells, want %d: %q", got, want, line)
		}
		if strings.HasPrefix(line, "| Fake") || strings.HasPrefix(line, "| injected") {
			t.Errorf("a newline made a row: %q", line)
		}
	}
	if m := regexp.MustCompile(`(^|[^\\])(<img|\[click\]\()`).FindString(md); m != "" {
		t.Errorf("summary holds %q unescaped:\n%s", m, md)
	}
	if !strings.Contains(md, "| ```id`with``ticks``` |") {
		t.Errorf("a mount id with backticks should stay one code span:\n%s", md)
	}
}

// BuildKit's gha backend prints the signed URL an upload failed on in its progress; the
// progress reaches the log through Writer, which cuts the signature.
func TestBuildKitProgressLinesLoseTheirSignatures(t *testing.T) {
	var log bytes.Buffer
	w := New(&log, func(string) string { return "" }).Writer()
	line := `#12 ERROR: failed to upload: Put "http://127.0.0.1:10000/devstoreaccount1/c/b?sv=1&sig=Zm9v%2BYmFy&se=2": connection refused` + "\n"
	if n, err := io.WriteString(w, line); err != nil || n != len(line) {
		t.Fatalf("write: %d %v", n, err)
	}
	if strings.Contains(log.String(), "Zm9v") || !strings.Contains(log.String(), "connection refused") {
		t.Errorf("progress line: %q", log.String())
	}
}

// Whatever a value holds, LogText's result issues no workflow command and loses no
// character of it (it only adds backslashes).
func FuzzLogText(f *testing.F) {
	for _, s := range []string{"key\n::error::x", "\r ::add-mask::y", "\u00a0\u3000::warning::z", "a ##[error]b", "::", "#", "\t::x::y\n##[", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := LogText(s)
		if cmds := commandLines(got); len(cmds) > 0 {
			t.Fatalf("LogText(%q) = %q issues %q", s, got, cmds)
		}
		if len(got) < len(s) || strings.ReplaceAll(got, `\`, "") != strings.ReplaceAll(s, `\`, "") {
			t.Fatalf("LogText(%q) = %q changed the text", s, got)
		}
	})
}
