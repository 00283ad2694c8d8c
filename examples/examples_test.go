// Package examples holds workflows users copy; this test lints each with actionlint.
package examples

import (
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
)

// Each example must lint clean with actionlint, with warmbuild's inputs and outputs checked
// against this repository's action.yml: actionlint cannot fetch a remote action's metadata
// (it skips input checks for actions it does not know), so the test points the warmbuild
// step at the repository root as a local action (uses: ./), which actionlint reads.
func TestExamplesLintCleanAgainstOurActionYml(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Fatalf("found %d example workflows, want at least 6", len(files))
	}
	project, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	// How every example names warmbuild: by a full commit SHA, never a moving tag.
	pinnedUse := regexp.MustCompile(`(?m)^(\s*-?\s*uses:\s*)warmbuild/warmbuild@([0-9a-f]{40})\b`)
	for _, f := range files {
		t.Run(strings.TrimSuffix(f, ".yml"), func(t *testing.T) {
			content, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !pinnedUse.Match(content) {
				t.Fatalf("%s does not use warmbuild/warmbuild@<40-hex commit SHA>", f)
			}
			local := pinnedUse.ReplaceAll(content, []byte("${1}./"))
			errs := lint(t, project, filepath.Join(root, "examples", f), local)
			for _, e := range errs {
				t.Errorf("%s:%d:%d: %s [%s]", f, e.Line, e.Column, e.Message, e.Kind)
			}
		})
	}
}

// The release workflow lints clean too.
func TestReleaseWorkflowLintsClean(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	project, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, ".github", "workflows", "release.yml")
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lint(t, project, path, content) {
		t.Errorf("release.yml:%d:%d: %s [%s]", e.Line, e.Column, e.Message, e.Kind)
	}
}

// The check above must be able to fail: an unknown input and a misspelt output are caught.
func TestLintCatchesAWrongInputAndOutput(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	project, err := actionlint.NewProject(root)
	if err != nil {
		t.Fatal(err)
	}
	wf := `on: push
jobs:
  b:
    runs-on: ubuntu-latest
    steps:
      - uses: ./
        id: build
        with:
          cache-backnd: gha
      - run: echo "${{ steps.build.outputs.layer-cache-hit-rate }}"
`
	errs := lint(t, project, filepath.Join(root, "examples", "broken.yml"), []byte(wf))
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Message)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"cache-backnd", "layer-cache-hit-rate"} {
		if !strings.Contains(all, want) {
			t.Errorf("actionlint did not flag %q; it said:\n%s", want, all)
		}
	}
}

func lint(t *testing.T, project *actionlint.Project, path string, content []byte) []*actionlint.Error {
	t.Helper()
	linter, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := linter.Lint(path, content, project)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}
