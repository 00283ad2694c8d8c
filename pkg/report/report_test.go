package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRatioHasTwoDecimalsAndIsZeroWhenNothingCounted(t *testing.T) {
	for _, tc := range []struct {
		part, total int
		want        string
	}{{0, 0, "0.00"}, {0, 5, "0.00"}, {4, 5, "0.80"}, {2, 3, "0.67"}, {3, 3, "1.00"}} {
		if got := Ratio(tc.part, tc.total); got != tc.want {
			t.Errorf("Ratio(%d,%d) = %s, want %s", tc.part, tc.total, got, tc.want)
		}
	}
}

func TestOutputsAreWrittenAsFileCommands(t *testing.T) {
	out := filepath.Join(t.TempDir(), "output")
	os.WriteFile(out, nil, 0o644)
	env := map[string]string{"GITHUB_OUTPUT": out}
	var log bytes.Buffer
	r := New(&log, func(k string) string { return env[k] })
	r.SetOutputs(Result{Digest: "sha256:abc", StepsCached: 4, StepsTotal: 5}.Outputs())
	data, _ := os.ReadFile(out)
	for _, want := range []string{"digest<<", "sha256:abc", "layer-cache-hit-ratio<<", "0.80", "mount-cache-hit<<", "none", "cache-warnings<<"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", want, data)
		}
	}
}

// Outside a runner (the local demo) outputs are printed instead of crashing on a missing file.
func TestOutputsArePrintedWithoutARunner(t *testing.T) {
	var log bytes.Buffer
	New(&log, func(string) string { return "" }).SetOutputs(Result{StepsTotal: 3}.Outputs())
	if !strings.Contains(log.String(), "layer-cache-hit-ratio=0.00") {
		t.Errorf("printed outputs:\n%s", log.String())
	}
}

// An unwritable GITHUB_OUTPUT is a warning, not a panic with a stack trace.
func TestUnwritableOutputFileIsAWarning(t *testing.T) {
	var log bytes.Buffer
	env := map[string]string{"GITHUB_OUTPUT": filepath.Join(t.TempDir(), "missing-dir", "out")}
	New(&log, func(k string) string { return env[k] }).SetOutputs(Result{}.Outputs())
	if !strings.Contains(log.String(), "::warning") {
		t.Errorf("want a warning:\n%s", log.String())
	}
}

func TestSummaryShowsWhatAUserChecks(t *testing.T) {
	md := Result{
		Image: "ghcr.io/o/app:1", Tags: []string{"ghcr.io/o/app:1"}, Digest: "sha256:abc", Duration: 12 * time.Second,
		StepsCached: 4, StepsTotal: 5, BackendReason: "gha", ReadScopes: []string{"app-main"},
		SaveReason: "skipped: pull_request #12 — only the default branch (main) saves",
		Mounts:     []MountEntry{{ID: "/root/.cache/pip", Hit: "partial", RestoredBytes: 3 << 20, Pip: &PipCounts{Cached: 10, Total: 11}}},
		Phases:     []Phase{{Name: "restore", Duration: time.Second}, {Name: "build", Duration: 11 * time.Second}, {Name: "save", Duration: 2 * time.Second, During: "export"}},
		Hints:      []string{"requirements.txt changed: partial pip hit"},
	}.Summary()
	for _, want := range []string{"ghcr.io/o/app:1", "sha256:abc", "4/5 steps cached (0.80)", "pull_request #12", "partial", "3.0 MiB", "10/11", "restore", "save        2.0s", "(during export)", "requirements.txt changed"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "\n"); n > 40 {
		t.Errorf("summary is %d lines; it must fit on one screen", n)
	}
}

func TestMaskSkipsFragmentsTooShortToMask(t *testing.T) {
	var log bytes.Buffer
	New(&log, func(string) string { return "" }).Mask("line-one-secret\nab\n")
	if !strings.Contains(log.String(), "::add-mask::line-one-secret") || strings.Contains(log.String(), "::add-mask::ab") {
		t.Errorf("masks:\n%s", log.String())
	}
}

// What SetOutputs writes, ParseOutputs reads back, multi-line values included.
func TestOutputsRoundTripThroughTheFile(t *testing.T) {
	out := filepath.Join(t.TempDir(), "output")
	os.WriteFile(out, []byte("legacy=value\n"), 0o644)
	env := map[string]string{"GITHUB_OUTPUT": out}
	New(&bytes.Buffer{}, func(k string) string { return env[k] }).SetOutputs(Result{
		Digest: "sha256:abc", SaveReason: "line one\nline two",
	}.Outputs())
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseOutputs(f)
	if err != nil {
		t.Fatal(err)
	}
	if got["digest"] != "sha256:abc" || got["cache-save-reason"] != "line one\nline two" || got["legacy"] != "value" || got["layer-cache-hit-ratio"] != "0.00" {
		t.Errorf("parsed %q", got)
	}
	if len(got) != len(OutputNames)+1 {
		t.Errorf("parsed %d outputs, want %d", len(got), len(OutputNames)+1)
	}
}
