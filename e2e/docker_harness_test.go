//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dockerCLI is the docker.io package's client (scripts/stack/docker.sh installs it); another
// docker on PATH may be of a different version. Tests play the Actions runner with it; the
// action itself never runs a docker binary.
const dockerCLI = "/usr/bin/docker"

// needDocker skips (or fails under WARMBUILD_REQUIRE_STACK=1) without the stack's Docker
// Engine, and returns its address.
func needDocker(t *testing.T) string {
	t.Helper()
	needStack(t)
	host := stackEnv["DOCKER_HOST"]
	if host == "" {
		host = "unix://" + filepath.Join(stackDir(), "run", "docker.sock")
	}
	out, err := exec.Command(dockerCLI, "-H", host, "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		msg := fmt.Sprintf("Docker Engine at %s does not answer (scripts/stack/docker.sh starts it): %v %s", host, err, out)
		if os.Getenv("WARMBUILD_REQUIRE_STACK") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return host
}

func stackDir() string {
	if d := stackEnv["WARMBUILD_STACK"]; d != "" {
		return d
	}
	return "/var/tmp/warmbuild-stack"
}

// docker runs the docker CLI against the stack's Engine and returns its trimmed stdout.
func docker(t *testing.T, host string, args ...string) string {
	t.Helper()
	out, err := dockerErr(host, args...)
	if err != nil {
		t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func dockerErr(host string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, append([]string{"-H", host}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v\n%s%s", err, tail(stdout.String(), 30), tail(stderr.String(), 30))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// buildActionImage builds the repository's Dockerfile with the classic builder, as the
// runner does for `image: Dockerfile`; its base images are the stack's local stand-ins. A
// second call is a fully cached build of a few seconds. The tag is the checkout's own (a
// hash of its path), so two checkouts testing at once on one Engine never run each other's
// binary.
func buildActionImage(t *testing.T, host string) string {
	t.Helper()
	sum := sha256.Sum256([]byte(repoRoot))
	tag := "warmbuild-e2e/action:" + hex.EncodeToString(sum[:6])
	start := time.Now()
	if _, err := dockerErr(host, "build", "-q", "-t", tag, repoRoot); err != nil {
		t.Fatalf("docker build of the action's Dockerfile: %v", err)
	}
	t.Logf("built the action's Dockerfile as %s in %s", tag, time.Since(start).Round(time.Second))
	return tag
}

func randomSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// ContainerRun is one step of a container action as the runner starts it.
type ContainerRun struct {
	Run
	Image string
	// Workspace is the directory mounted at /github/workspace (default testdata/app).
	Workspace string
	// Name, when set, names the container (so a test can stop it).
	Name string
	// RunnerTemp is the host's $RUNNER_TEMP (default a new temp dir): a test that plays
	// earlier steps of the job (a login writing under $RUNNER_TEMP) passes theirs.
	RunnerTemp string
	// Network, when set, is the network the runner starts the action on: the job's
	// github_network_<guid> when the job has services or a container.
	Network string
}

// runActionContainer does what the Actions runner does for a container action: a temp dir
// with _github_home, _github_workflow/event.json and _runner_file_commands, then `docker run`
// with the runner's mounts, INPUT_* and GITHUB_* variables pointing inside the container, and
// reads back the file commands from the host side.
func runActionContainer(t *testing.T, host string, r ContainerRun) Result {
	t.Helper()
	temp := r.RunnerTemp
	if temp == "" {
		temp = t.TempDir()
	}
	dirs := map[string]string{
		"home":     filepath.Join(temp, "_github_home"),
		"workflow": filepath.Join(temp, "_github_workflow"),
		"commands": filepath.Join(temp, "_runner_file_commands"),
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	id := fmt.Sprintf("%d-%s", runSerial.Add(1), randomSuffix())
	outName, summaryName := "set_output_"+id, "step_summary_"+id
	for _, f := range []string{outName, summaryName} {
		if err := os.WriteFile(filepath.Join(dirs["commands"], f), nil, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	workspace := r.Workspace
	if workspace == "" {
		workspace = filepath.Join(repoRoot, "testdata/app")
	}
	env := map[string]string{
		"HOME":                "/github/home",
		"CI":                  "true",
		"GITHUB_ACTIONS":      "true",
		"GITHUB_WORKSPACE":    "/github/workspace",
		"GITHUB_OUTPUT":       "/github/file_commands/" + outName,
		"GITHUB_STEP_SUMMARY": "/github/file_commands/" + summaryName,
		"GITHUB_REPOSITORY":   "octo-org/warm-app",
		"GITHUB_API_URL":      "http://127.0.0.1:1", // nothing listens: REST calls degrade to notices
		"GITHUB_SERVER_URL":   "https://github.com",
		"RUNNER_TEMP":         "/github/runner_temp",
		"RUNNER_OS":           "Linux",
	}
	if r.Event != "" {
		env["GITHUB_EVENT_NAME"] = r.Event
	}
	if r.Payload != "" {
		payload, err := os.ReadFile(filepath.Join(repoRoot, "testdata/events", r.Payload))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirs["workflow"], "event.json"), payload, 0o644); err != nil {
			t.Fatal(err)
		}
		env["GITHUB_EVENT_PATH"] = "/github/workflow/event.json"
	}
	for k, v := range r.Env {
		env[k] = v
	}
	for k, v := range r.Inputs {
		env["INPUT_"+strings.ToUpper(strings.ReplaceAll(k, " ", "_"))] = v
	}
	// The runner passes every value through its mounts' path translation, in the order it
	// adds them: a host path under $RUNNER_TEMP arrives as /github/runner_temp/...
	// (actions/runner src/Runner.Worker/Handlers/ContainerActionHandler.cs,
	// src/Runner.Worker/Container/ContainerInfo.cs TranslateToContainerPath).
	for k, v := range env {
		env[k] = translateToContainerPath(v, [][2]string{
			{temp, "/github/runner_temp"}, {dirs["home"], "/github/home"},
			{dirs["workflow"], "/github/workflow"}, {dirs["commands"], "/github/file_commands"},
			{workspace, "/github/workspace"},
		})
	}

	sock := strings.TrimPrefix(host, "unix://")
	args := []string{"run", "--rm", "--workdir", "/github/workspace",
		"-v", sock + ":/var/run/docker.sock",
		"-v", workspace + ":/github/workspace",
		"-v", dirs["home"] + ":/github/home",
		"-v", dirs["workflow"] + ":/github/workflow",
		"-v", dirs["commands"] + ":/github/file_commands",
		"-v", temp + ":/github/runner_temp",
	}
	if r.Name != "" {
		args = append(args, "--name", r.Name)
	}
	if r.Network != "" {
		args = append(args, "--network", r.Network)
	}
	for k, v := range env {
		args = append(args, "-e", k+"="+v)
	}
	args = append(args, r.Image)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, dockerCLI, append([]string{"-H", host}, args...)...)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	err := cmd.Run()
	res := Result{Log: log.String(), Elapsed: time.Since(start)}
	if ee, ok := err.(*exec.ExitError); ok {
		res.ExitCode = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("docker run: %v", err)
	}
	res.Outputs = parseOutputFile(t, filepath.Join(dirs["commands"], outName))
	summary, _ := os.ReadFile(filepath.Join(dirs["commands"], summaryName))
	res.Summary = string(summary)
	return res
}

// translateToContainerPath is the runner's: the first mapping whose host path is the value,
// or a directory the value lies in, rewrites it.
func translateToContainerPath(v string, mappings [][2]string) string {
	for _, m := range mappings {
		if v == m[0] {
			return m[1]
		}
		if strings.HasPrefix(v, m[0]+"/") {
			return m[1] + v[len(m[0]):]
		}
	}
	return v
}

// removeBuilder removes a builder's container and state volume, as `docker buildx rm` would.
func removeBuilder(t *testing.T, host, container string) {
	t.Helper()
	if out, err := dockerErr(host, "rm", "-f", "-v", container); err != nil && !strings.Contains(err.Error(), "No such container") {
		t.Logf("remove %s: %v %s", container, err, out)
	}
	if _, err := dockerErr(host, "volume", "rm", "-f", container+"_state"); err != nil {
		t.Logf("remove volume %s_state: %v", container, err)
	}
}

// builderRunArgs are the `docker run` options a BuildKit container needs on this machine in
// place of --privileged (refused here: "unable to apply caps"), and host networking so RUN
// steps and pushes reach the stack's 127.0.0.1 services.
func builderRunArgs() []string {
	return []string{"--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
		"--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
		"--security-opt", "systempaths=unconfined",
		"-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "--network", "host",
	}
}
