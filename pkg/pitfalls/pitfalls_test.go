package pitfalls

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite pkg/pitfalls/testdata/*.golden from the current code")

// render is a Dockerfile's findings one per line, as a user reads the annotations.
func render(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%s:%d-%d %s: %s %s\n", f.File, f.Line, f.EndLine, f.ID, f.Message, f.Fix)
	}
	return b.String()
}

// TestGolden checks one Dockerfile per pitfall against its expected findings, and that
// each of them finds its own pitfall.
func TestGolden(t *testing.T) {
	for _, id := range IDs() {
		t.Run(id, func(t *testing.T) {
			df := filepath.Join("testdata", id+".Dockerfile")
			content, err := os.ReadFile(df)
			if err != nil {
				t.Fatalf("every pitfall has a golden Dockerfile: %v", err)
			}
			fs := Check(id+".Dockerfile", content)
			if !slices.ContainsFunc(fs, func(f Finding) bool { return f.ID == id }) {
				t.Errorf("%s: no %s finding:\n%s", df, id, render(fs))
			}
			got := render(fs)
			golden := filepath.Join("testdata", id+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run: go test ./pkg/pitfalls -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s: findings differ from %s (if meant, run go test ./pkg/pitfalls -update)\n got:\n%s\nwant:\n%s", df, golden, got, want)
			}
		})
	}
}

// TestClean: Dockerfiles that look like the pitfalls but are fine give no finding.
func TestClean(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "clean", "*.Dockerfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no clean Dockerfiles: %v", err)
	}
	for _, df := range files {
		content, err := os.ReadFile(df)
		if err != nil {
			t.Fatal(err)
		}
		if fs := Check(df, content); len(fs) > 0 {
			t.Errorf("%s: false alarm:\n%s", df, render(fs))
		}
	}
}

func TestIgnore(t *testing.T) {
	content, err := os.ReadFile(filepath.Join("testdata", "cache-mount-cleaned.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	all := Check("Dockerfile", content)
	if len(all) < 2 {
		t.Fatalf("want several findings, got:\n%s", render(all))
	}
	for _, f := range Check("Dockerfile", content, Ignore(CacheMountCleaned)) {
		if f.ID == CacheMountCleaned {
			t.Errorf("ignored id still reported: %+v", f)
		}
	}
	if fs := Check("Dockerfile", content, Ignore("all")); len(fs) != 0 {
		t.Errorf("all: got\n%s", render(fs))
	}
}

// TestCopyBeforeInstallAtCopyLine: the finding is at the COPY, where the fix goes.
func TestCopyBeforeInstallAtCopyLine(t *testing.T) {
	df := "FROM python:3.12\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt\n"
	fs := Check("Dockerfile", []byte(df))
	if len(fs) != 1 || fs[0].ID != CopyBeforeInstall || fs[0].Line != 3 || !strings.Contains(fs[0].Message, "line 4") {
		t.Fatalf("got:\n%s", render(fs))
	}
}

// FuzzCheck: any input, no panic, every finding a known id at a line of the file.
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.Dockerfile"))
	more, _ := filepath.Glob(filepath.Join("testdata", "clean", "*.Dockerfile"))
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("FROM a\nRUN --mount=type=cache,target=$X pip install -t$Y"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := bytes.Count(b, []byte("\n")) + 1
		for _, fd := range Check("Dockerfile", b) {
			if !slices.Contains(IDs(), fd.ID) {
				t.Fatalf("unknown id %q", fd.ID)
			}
			if fd.Line < 1 || fd.Line > n || fd.EndLine < fd.Line || fd.EndLine > n {
				t.Fatalf("lines %d-%d outside 1-%d", fd.Line, fd.EndLine, n)
			}
			if fd.Message == "" || fd.Fix == "" {
				t.Fatalf("finding without message or fix: %+v", fd)
			}
		}
	})
}

// BenchmarkCheckApp is the check's cost on a run of the bench's app (testdata/app).
func BenchmarkCheckApp(b *testing.B) {
	content, err := os.ReadFile(filepath.Join("..", "..", "testdata", "app", "Dockerfile"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if fs := Check("Dockerfile", content); len(fs) != 0 {
			b.Fatalf("testdata/app has no pitfall, got %+v", fs)
		}
	}
}
