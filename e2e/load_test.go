//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
)

// buildActionImageAs is buildActionImage under a tag of the test's own, so an action
// image another test builds from another tree at the same time cannot stand in for this
// tree's.
func buildActionImageAs(t *testing.T, host, tag string) string {
	t.Helper()
	start := time.Now()
	if _, err := dockerErr(host, "build", "-q", "-t", tag, repoRoot); err != nil {
		t.Fatalf("docker build of the action's Dockerfile: %v", err)
	}
	t.Cleanup(func() { dockerErr(host, "rmi", tag) })
	t.Logf("built the action's Dockerfile as %s in %s", tag, time.Since(start).Round(time.Second))
	return tag
}

// helloWorkspace is a checkout whose Dockerfile makes a FROM scratch image of one static
// program that prints its GREETING (a build arg) and exits.
func helloWorkspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(t.TempDir(), "hello")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(src, "go.mod"):     "module hello\n\ngo 1.22\n",
		filepath.Join(src, "main.go"):    "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc main() { fmt.Println(\"hello from the loaded image:\", os.Getenv(\"GREETING\")) }\n",
		filepath.Join(dir, "Dockerfile"): "FROM scratch\nARG GREETING\nENV GREETING=$GREETING\nCOPY hello /hello\nCMD [\"/hello\"]\n",
	}
	for path, body := range files {
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command("go", "build", "-trimpath", "-o", filepath.Join(dir, "hello"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build hello: %v\n%s", err, out)
	}
	return dir
}

// A PR test job's habit: build with load: true, then `docker run` the image in the next
// step. The action runs as the runner runs a container action (the Docker socket mounted,
// no docker CLI in its image), loads the image through the Engine's image load API under
// its tags, and the Engine then runs it; type=docker without dest loads as well.
func TestLoadTrueLoadsTheImageIntoTheRunnersDockerEngine(t *testing.T) {
	host := needDocker(t)
	suffix := randomSuffix()
	image := buildActionImageAs(t, host, "warmbuild-e2e/action:load-"+suffix)
	name := "load-" + suffix
	ctr := dockerbuilder.ContainerName(name)
	t.Cleanup(func() { removeBuilder(t, host, ctr) })
	args := append([]string{"run", "-d", "--name", ctr, "-v", ctr + "_state:/var/lib/buildkit"}, builderRunArgs()...)
	docker(t, host, append(args, "moby/buildkit:buildx-stable-1")...)

	workspace := helloWorkspace(t)
	tag := "warmbuild-e2e/loaded:" + suffix
	greeting := "greeting-" + randomSuffix()
	t.Cleanup(func() { dockerErr(host, "rmi", "-f", tag, tag+"-out") })
	step := func(inputs map[string]string) Result {
		with := map[string]string{"builder": name, "cache-backend": "none", "mount-caches": "none", "build-args": "GREETING=" + greeting}
		for k, v := range inputs {
			with[k] = v
		}
		return runActionContainer(t, host, ContainerRun{Image: image, Workspace: workspace, Run: Run{
			Inputs: with, Event: "pull_request", Payload: "pull_request.json",
		}})
	}

	res := step(map[string]string{"load": "true", "tags": tag})
	mustExit0(t, res)
	for _, line := range strings.Split(res.Log, "\n") {
		if strings.Contains(line, "Load") || strings.Contains(line, "exporting") {
			t.Logf("log: %s", line)
		}
	}
	if !strings.Contains(res.Log, "Loaded into the Docker Engine: "+tag) {
		t.Errorf("the log should say the image was loaded as %s:\n%s", tag, tail(res.Log, 40))
	}
	// The next step of the job.
	out, err := dockerErr(host, "run", "--rm", tag)
	if err != nil {
		t.Fatalf("docker run %s after load: true: %v", tag, err)
	}
	if want := "hello from the loaded image: " + greeting; out != want {
		t.Errorf("docker run %s printed %q, want %q", tag, out, want)
	}
	if id := docker(t, host, "image", "inspect", "-f", "{{.Id}}", tag); res.Outputs["imageid"] != id {
		t.Errorf("imageid output %q, the Engine's image ID %q", res.Outputs["imageid"], id)
	}

	res = step(map[string]string{"outputs": "type=docker", "tags": tag + "-out"})
	mustExit0(t, res)
	if out, err := dockerErr(host, "run", "--rm", tag+"-out"); err != nil || !strings.Contains(out, greeting) {
		t.Errorf("docker run of the type=docker output without dest: %q, %v", out, err)
	}

	// push and load together, as buildx takes --push --load: in the registry and the Engine.
	repo := uniqueRepo(t, "load-push")
	ref := stackEnv["REGISTRY"] + "/" + repo + ":1"
	t.Cleanup(func() { dockerErr(host, "rmi", "-f", ref) })
	res = step(map[string]string{"load": "true", "push": "true", "tags": ref})
	mustExit0(t, res)
	if d := manifestDigest(t, repo, "1"); d == "" || res.Outputs["digest"] != d {
		t.Errorf("digest output %q, the registry's manifest %q", res.Outputs["digest"], d)
	}
	if out, err := dockerErr(host, "run", "--rm", ref); err != nil || !strings.Contains(out, greeting) {
		t.Errorf("docker run %s after push and load: %q, %v", ref, out, err)
	}
}

// The stack's Engine (20.10) keeps images in the classic store, which takes one image per
// platform: load with several platforms fails, before anything is built, with buildx's
// error naming the input.
func TestMultiPlatformLoadIsRefusedWithBuildxsError(t *testing.T) {
	host := needDocker(t)
	suffix := randomSuffix()
	image := buildActionImageAs(t, host, "warmbuild-e2e/action:load-"+suffix)
	res := runActionContainer(t, host, ContainerRun{Image: image, Workspace: helloWorkspace(t), Run: Run{
		Inputs: map[string]string{"load": "true", "tags": "warmbuild-e2e/loaded:" + suffix, "platforms": "linux/amd64,linux/arm64",
			"builder": "never-contacted-" + suffix, "cache-backend": "none"},
	}})
	if res.ExitCode == 0 {
		t.Fatalf("load with two platforms on a classic image store must fail:\n%s", tail(res.Log, 30))
	}
	if !strings.Contains(res.Log, "::error title=Invalid input load::") || !strings.Contains(res.Log, "docker exporter does not currently support exporting manifest lists") {
		t.Errorf("want buildx's error as an annotation naming load:\n%s", tail(res.Log, 30))
	}
	if strings.Contains(res.Log, "never-contacted-"+suffix) {
		t.Errorf("the refusal must come before the builder is looked for:\n%s", tail(res.Log, 30))
	}
}
