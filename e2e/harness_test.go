//go:build e2e

// Package e2e runs the action binary the way the Actions runner runs a container action
// (INPUT_* variables with dashes kept, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, an event
// payload at GITHUB_EVENT_PATH) against the real local stack: buildkitd daemons on fresh
// state directories, the registry, the Python package index and Azurite.
//
// Run with: bash scripts/test.sh (or go test -tags e2e ./e2e/... with the stack up).
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"github.com/warmbuild/warmbuild/internal/stackenv"
	"github.com/warmbuild/warmbuild/pkg/report"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

var (
	repoRoot  string
	binary    string // the action binary under test
	stackEnv  map[string]string
	stackErr  error
	runSerial atomic.Int64
)

func TestMain(m *testing.M) {
	_, file, _, _ := runtime.Caller(0)
	repoRoot = filepath.Dir(filepath.Dir(file))
	stackEnv, stackErr = readStackEnv()
	tmp, err := os.MkdirTemp("", "warmbuild-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(tmp, "warmbuild")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Dir = repoRoot
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the action binary: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// readStackEnv reads $WARMBUILD_STACK/env, written by scripts/stack/up.sh.
func readStackEnv() (map[string]string, error) { return stackenv.Read() }

// needStack skips (or, under WARMBUILD_REQUIRE_STACK=1, fails) when the stack is missing.
func needStack(t *testing.T) {
	t.Helper()
	if stackErr == nil {
		resp, err := http.Get("http://" + stackEnv["REGISTRY"] + "/v2/")
		if err == nil {
			resp.Body.Close()
		} else {
			stackErr = fmt.Errorf("registry at %s does not answer: %v", stackEnv["REGISTRY"], err)
		}
	}
	if stackErr != nil {
		if os.Getenv("WARMBUILD_REQUIRE_STACK") == "1" {
			t.Fatal(stackErr)
		}
		t.Skip(stackErr)
	}
}

// Builder is a buildkitd on its own fresh state directory: a new ephemeral runner.
type Builder struct {
	Root     string
	Endpoint string
}

// freshBuilder starts a buildkitd on a new empty root and stops it when the test ends.
func freshBuilder(t *testing.T) *Builder {
	t.Helper()
	needStack(t)
	dir, err := os.MkdirTemp("", "wb-bk-")
	if err != nil {
		t.Fatal(err)
	}
	root, sock := filepath.Join(dir, "root"), filepath.Join(dir, "buildkitd.sock")
	cmd := exec.Command("bash", filepath.Join(repoRoot, "scripts/stack/buildkitd-run.sh"), root, sock)
	cmd.Env = append(os.Environ(), envList(stackEnv)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start buildkitd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		stop := exec.Command("bash", filepath.Join(repoRoot, "scripts/stack/buildkitd-stop.sh"), root)
		stop.Env = append(os.Environ(), envList(stackEnv)...)
		if out, err := stop.CombinedOutput(); err != nil {
			t.Logf("stop buildkitd: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	})
	return &Builder{Root: root, Endpoint: "unix://" + sock}
}

func envList(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	return out
}

// Run describes one invocation of the action.
type Run struct {
	Inputs  map[string]string // with: inputs by name, dashes kept
	Event   string            // event name, e.g. push, pull_request
	Payload string            // file name in testdata/events, or "" for none
	Env     map[string]string // extra environment (GITHUB_REF, ACTIONS_RESULTS_URL, ...)
	Dir     string            // working directory (the workspace); default testdata/app
}

// Result is what the runner would see after the step.
type Result struct {
	ExitCode int
	Outputs  map[string]string
	Summary  string
	Log      string
	Elapsed  time.Duration
}

// runAction runs the binary with the runner's environment and reads back the file commands.
func runAction(t *testing.T, r Run) Result {
	t.Helper()
	files := t.TempDir()
	outFile := filepath.Join(files, fmt.Sprintf("set_output_%d", runSerial.Add(1)))
	summaryFile := filepath.Join(files, "step_summary")
	for _, f := range []string{outFile, summaryFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir := r.Dir
	if dir == "" {
		dir = filepath.Join(repoRoot, "testdata/app")
	}
	home := filepath.Join(files, "home")
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"CI=true",
		"GITHUB_ACTIONS=true",
		"GITHUB_WORKSPACE=" + dir,
		"GITHUB_OUTPUT=" + outFile,
		"GITHUB_STEP_SUMMARY=" + summaryFile,
		"GITHUB_REPOSITORY=octo-org/warm-app",
		"GITHUB_API_URL=http://127.0.0.1:1", // nothing listens: REST calls must degrade to notices
		"GITHUB_SERVER_URL=https://github.com",
		"RUNNER_TEMP=" + files,
	}
	if r.Event != "" {
		env = append(env, "GITHUB_EVENT_NAME="+r.Event)
	}
	if r.Payload != "" {
		env = append(env, "GITHUB_EVENT_PATH="+filepath.Join(repoRoot, "testdata/events", r.Payload))
	}
	for k, v := range r.Env {
		env = append(env, k+"="+v)
	}
	for k, v := range r.Inputs {
		// The runner upper-cases the name and keeps dashes: INPUT_CACHE-FROM.
		env = append(env, "INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary)
	cmd.Dir = dir
	cmd.Env = env
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	err := cmd.Run()
	res := Result{Log: log.String(), Elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run action: %v", err)
	}
	res.Outputs = parseOutputFile(t, outFile)
	summary, _ := os.ReadFile(summaryFile)
	res.Summary = string(summary)
	if strings.Contains(res.Log, "goroutine ") && strings.Contains(res.Log, "panic") {
		t.Errorf("the action panicked:\n%s", res.Log)
	}
	return res
}

// parseOutputFile reads GITHUB_OUTPUT back as the runner would.
func parseOutputFile(t *testing.T, path string) map[string]string {
	t.Helper()
	out, err := report.ParseOutputsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// manifestDigest asks the registry for the digest of repo:tag, as `docker buildx
// imagetools inspect` would.
func manifestDigest(t *testing.T, repo, tag string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodHead, fmt.Sprintf("http://%s/v2/%s/manifests/%s", stackEnv["REGISTRY"], repo, tag), nil)
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.index.v1+json",
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("registry has no %s:%s (HTTP %d)", repo, tag, resp.StatusCode)
	}
	return resp.Header.Get("Docker-Content-Digest")
}

// uniqueRepo names a registry repository no earlier run used, so caches left by a previous
// test run cannot make a cold build look warm.
func uniqueRepo(t *testing.T, base string) string {
	return fmt.Sprintf("e2e/%s-%d", base, time.Now().UnixNano())
}

// writeDockerfile makes a context directory with the given Dockerfile and files.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustExit0(t *testing.T, r Result) {
	t.Helper()
	if r.ExitCode != 0 {
		t.Fatalf("the action failed (exit %d):\n%s", r.ExitCode, tail(r.Log, 60))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
