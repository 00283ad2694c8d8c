//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// pitfalls (issue 17)

// copyBeforeInstall copies the whole context (line 3) before the pip install (line 4):
// every code change reinstalls the dependencies.
const copyBeforeInstall = "FROM python:3.11-slim\n" +
	"WORKDIR /app\n" +
	"COPY . .\n" +
	"RUN pip install -r requirements.txt\n"

// A Dockerfile that copies the app before installing its dependencies builds, and the
// run says so before the build: a warning annotation at the COPY's line titled with the
// pitfall's id and ending with the fix, and a line in the summary. cache-pitfalls-ignore
// with the id silences both.
func TestPitfallCopyBeforeInstallIsAnnotatedAtTheCopyUnlessIgnored(t *testing.T) {
	b := freshBuilder(t)
	dir := writeContext(t, map[string]string{
		"docker/app.Dockerfile": copyBeforeInstall,
		"requirements.txt":      "wb-core==1.1.0\n",
		"app.py":                "print('hi')\n",
	})
	inputs := map[string]string{"endpoint": b.Endpoint, "cache-backend": "none", "file": "docker/app.Dockerfile"}
	res := runAction(t, Run{Dir: dir, Inputs: inputs, Event: "push"})
	mustExit0(t, res)

	const prefix = "::warning file=docker/app.Dockerfile,line=3,title=copy-before-install::"
	var found []string
	for _, l := range warningLines(res.Log) {
		if strings.Contains(l, "copy-before-install") {
			found = append(found, l)
		}
	}
	if len(found) != 1 || !strings.HasPrefix(found[0], prefix) ||
		!strings.Contains(found[0], "before the pip install at line 4") || !strings.Contains(found[0], "Copy only the dependency files first") {
		t.Errorf("want one annotation %s<message> <fix>; got:\n%s\nall warnings:\n%s", prefix, strings.Join(found, "\n"), strings.Join(warningLines(res.Log), "\n"))
	}
	if !strings.Contains(res.Summary, "#### Cache pitfalls") || !strings.Contains(res.Summary, "| `docker/app.Dockerfile:3` | `copy-before-install`: ") {
		t.Errorf("the summary does not list the pitfall:\n%s", res.Summary)
	}
	// The pitfall is found before the build starts.
	if i, j := strings.Index(res.Log, prefix), strings.Index(res.Log, "::group::Build "); i < 0 || j < 0 || i > j {
		t.Errorf("the pitfall is not reported before the build (annotation at %d, build group at %d)", i, j)
	}

	inputs["cache-pitfalls-ignore"] = "copy-before-install"
	res = runAction(t, Run{Dir: dir, Inputs: inputs, Event: "push"})
	mustExit0(t, res)
	if strings.Contains(res.Log, "copy-before-install") || strings.Contains(res.Summary, "Cache pitfalls") {
		t.Errorf("cache-pitfalls-ignore: copy-before-install did not silence it:\n%s\n%s", strings.Join(warningLines(res.Log), "\n"), res.Summary)
	}

	inputs["cache-pitfalls-ignore"] = "copy-before-instal"
	res = runAction(t, Run{Dir: dir, Inputs: inputs, Event: "push"})
	if res.ExitCode == 0 || !strings.Contains(res.Log, "::error title=Invalid input cache-pitfalls-ignore::") || !strings.Contains(res.Log, "cache-mount-cleaned") {
		t.Errorf("an unknown id must fail the step naming the input and listing the ids:\n%s", tail(res.Log, 20))
	}
}
