//go:build e2e

package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
)

// pushOnMain is the runner environment of a push to the default branch.
func pushOnMain(extra map[string]string) map[string]string {
	env := map[string]string{"GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch"}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// With neither builder nor endpoint, the action (run from its own Dockerfile the way the
// runner runs it) creates a docker-container builder through the mounted socket, builds and
// pushes; the next step of the job finds that builder again, with its cache.
func TestContainerActionCreatesItsBuilderThenReusesIt(t *testing.T) {
	host := needDocker(t)
	image := buildActionImage(t, host)
	// A BuildKit image name of this test's own gives a builder of its own (the stable name
	// derives from the image), so a builder left by an earlier run cannot make this one pass.
	bkImage := "warmbuild-e2e/buildkit:" + randomSuffix()
	docker(t, host, "tag", "moby/buildkit:buildx-stable-1", bkImage)
	ctr := dockerbuilder.ContainerName(dockerbuilder.OwnBuilderName(bkImage))
	t.Cleanup(func() {
		removeBuilder(t, host, ctr)
		dockerErr(host, "rmi", bkImage)
	})

	repo := uniqueRepo(t, "docker-auto")
	ref := stackEnv["REGISTRY"] + "/" + repo + ":1"
	step := ContainerRun{Image: image, Run: Run{
		Inputs:  map[string]string{"buildkit-image": bkImage, "tags": ref, "push": "true", "cache-backend": "none"},
		Event:   "push",
		Payload: "push-default-branch.json",
		// No security or network knobs: what a user gets. On hosts that refuse privileged
		// containers (this one) that exercises the fallback too.
		Env: pushOnMain(nil),
	}}

	first := runActionContainer(t, host, step)
	mustExit0(t, first)
	if !strings.Contains(first.Log, "Created builder") || !strings.Contains(first.Log, ctr) {
		t.Errorf("the first step should say it created builder container %s:\n%s", ctr, tail(first.Log, 40))
	}
	if d := manifestDigest(t, repo, "1"); first.Outputs["digest"] != d {
		t.Errorf("digest output %q (read from the file-command file), registry says %q", first.Outputs["digest"], d)
	}
	if first.Outputs["layer-cache-steps-total"] == "" || !strings.Contains(first.Summary, repo) {
		t.Errorf("outputs %v / summary %q: want both written to the file-command files", first.Outputs, first.Summary)
	}
	id := docker(t, host, "inspect", "-f", "{{.Id}} {{.State.Running}}", ctr)
	if !strings.HasSuffix(id, " true") {
		t.Fatalf("builder %s should stay running for later steps: %s", ctr, id)
	}

	second := runActionContainer(t, host, step)
	mustExit0(t, second)
	if !strings.Contains(second.Log, "Reusing builder") || strings.Contains(second.Log, "Created builder") {
		t.Errorf("the second step should reuse the builder:\n%s", tail(second.Log, 40))
	}
	if again := docker(t, host, "inspect", "-f", "{{.Id}} {{.State.Running}}", ctr); again != id {
		t.Errorf("builder container changed between steps: %s then %s", id, again)
	}
	// No layer cache backend: only the reused builder's own state can make this warm.
	if ratio, err := strconv.ParseFloat(second.Outputs["layer-cache-hit-ratio"], 64); err != nil || ratio < 0.99 {
		t.Errorf("second step on the same builder: hit ratio %q, want 1.00", second.Outputs["layer-cache-hit-ratio"])
	}
}

// A builder made beforehand the way docker/setup-buildx-action makes one (a docker-container
// BuildKit named buildx_buildkit_<name>0) is found by the builder input, and by
// endpoint docker-container://; a wrong name lists the builders that exist.
func TestContainerActionFindsASetupBuildxBuilder(t *testing.T) {
	host := needDocker(t)
	image := buildActionImage(t, host)
	name := "builder-" + randomSuffix()
	ctr := dockerbuilder.ContainerName(name)
	t.Cleanup(func() { removeBuilder(t, host, ctr) })
	args := append([]string{"run", "-d", "--name", ctr, "-v", ctr + "_state:/var/lib/buildkit"}, builderRunArgs()...)
	docker(t, host, append(args, "moby/buildkit:buildx-stable-1")...)

	repo := uniqueRepo(t, "docker-builder")
	ref := stackEnv["REGISTRY"] + "/" + repo + ":1"
	byName := runActionContainer(t, host, ContainerRun{Image: image, Run: Run{
		Inputs: map[string]string{"builder": name, "tags": ref, "push": "true", "cache-backend": "none"},
		Event:  "push", Payload: "push-default-branch.json", Env: pushOnMain(nil),
	}})
	mustExit0(t, byName)
	if !strings.Contains(byName.Log, ctr) || strings.Contains(byName.Log, "Created builder") {
		t.Errorf("want the build on %s, not on a new builder:\n%s", ctr, tail(byName.Log, 40))
	}
	if d := manifestDigest(t, repo, "1"); byName.Outputs["digest"] != d {
		t.Errorf("digest output %q, registry says %q", byName.Outputs["digest"], d)
	}

	byEndpoint := runActionContainer(t, host, ContainerRun{Image: image, Run: Run{
		Inputs: map[string]string{"endpoint": "docker-container://" + ctr, "tags": ref, "cache-backend": "none"},
		Event:  "push", Payload: "push-default-branch.json", Env: pushOnMain(nil),
	}})
	mustExit0(t, byEndpoint)
	if byEndpoint.Outputs["layer-cache-hit-ratio"] != "1.00" {
		t.Errorf("the same builder again through docker-container://: hit ratio %q, want 1.00", byEndpoint.Outputs["layer-cache-hit-ratio"])
	}

	wrong := runActionContainer(t, host, ContainerRun{Image: image, Run: Run{
		Inputs: map[string]string{"builder": name + "-typo", "cache-backend": "none"},
		Event:  "push", Payload: "push-default-branch.json", Env: pushOnMain(nil),
	}})
	if wrong.ExitCode == 0 || !strings.Contains(wrong.Log, "::error title=Invalid input builder::") || !strings.Contains(wrong.Log, "builders here: "+name) {
		t.Errorf("a wrong builder name must fail naming the input and listing %s (exit %d):\n%s", name, wrong.ExitCode, tail(wrong.Log, 20))
	}
}

// The image's size and the time from `docker run` to the action's first BuildKit request,
// the numbers README states (goals: 27 MB, 1 s; the goal was 25 MB until build-push-action's
// inputs — image load, ssh, attestations, build checks, Git contexts — added 1.1 MB).
func TestActionImageIsSmallAndStartsFast(t *testing.T) {
	host := needDocker(t)
	image := buildActionImage(t, host)
	size, err := strconv.ParseInt(docker(t, host, "image", "inspect", "-f", "{{.Size}}", image), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image size: %.1f MB", float64(size)/1e6)
	if size > 27_000_000 {
		t.Errorf("image is %.1f MB, over the 27 MB goal", float64(size)/1e6)
	}

	// A socket that records when the action first dials it stands in for BuildKit.
	dir, err := os.MkdirTemp("", "wb-startup-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("unix", filepath.Join(dir, "bk.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(filepath.Join(dir, "bk.sock"), 0o777)
	accepted := make(chan time.Time, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- time.Now()
			c.Close()
		}
	}()

	best := time.Duration(1<<63 - 1)
	for i := 0; i < 3; i++ {
		start := time.Now()
		res := runActionContainer(t, host, ContainerRun{Image: image, Workspace: dir, Run: Run{
			Inputs: map[string]string{"endpoint": "unix:///github/workspace/bk.sock", "context": ".", "file": "Dockerfile", "cache-backend": "none"},
		}, Name: "wb-startup-" + randomSuffix()})
		if res.ExitCode == 0 {
			t.Fatalf("the stand-in socket is no BuildKit; the action should have failed:\n%s", res.Log)
		}
		select {
		case at := <-accepted:
			best = min(best, at.Sub(start))
			for len(accepted) > 0 {
				<-accepted
			}
		default:
			t.Fatalf("the action never dialled the endpoint:\n%s", tail(res.Log, 20))
		}
	}
	t.Logf("docker run to first BuildKit request: %s (best of 3)", best.Round(time.Millisecond))
	if best > time.Second {
		t.Errorf("start-up took %s, over the 1 s goal", best)
	}
}

// nektos/act, a third-party local runner of GitHub workflows, runs a workflow that is not in
// this repository: it builds the action's Dockerfile, runs the container with the Docker
// socket mounted, and a later step reads the outputs.
func TestActRunsTheActionFromAnOutsideWorkflow(t *testing.T) {
	host := needDocker(t)
	act := filepath.Join(stackDir(), "bin", "act-v0.2.89", "act")
	if _, err := os.Stat(act); err != nil {
		t.Fatalf("no act at %s (scripts/stack/docker.sh installs it): %v", act, err)
	}
	// The user's repository: the fixture app, with the action vendored at ./warmbuild (act
	// cannot fetch warmbuild/warmbuild@SHA from GitHub here).
	proj := t.TempDir()
	copyTree(t, filepath.Join(repoRoot, "testdata/app")+"/.", proj)
	for _, f := range []string{"action.yml", "Dockerfile", ".dockerignore", "go.mod", "go.sum", "main.go", "pkg"} {
		copyTree(t, filepath.Join(repoRoot, f), filepath.Join(proj, "warmbuild", f))
	}
	repo := uniqueRepo(t, "act")
	ref := stackEnv["REGISTRY"] + "/" + repo + ":1"
	workflow := `on: push
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./warmbuild
        id: build
        with:
          tags: ` + ref + `
          push: true
          cache-backend: none
      - run: echo "RESULT digest=${{ steps.build.outputs.digest }} total=${{ steps.build.outputs.layer-cache-steps-total }}"
`
	writeFile(t, filepath.Join(proj, ".github/workflows/image.yml"), workflow)
	for _, args := range [][]string{{"init", "-q"}, {"add", "-A"}, {"-c", "user.email=e2e@example.com", "-c", "user.name=e2e", "commit", "-qm", "app"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = proj
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	// The job container is the stack's Debian image (nothing can be pulled here).
	cmd := exec.CommandContext(ctx, act, "push", "--pull=false",
		"-P", "ubuntu-latest=warmbuild-stack/debian-rootfs:latest",
		"--container-daemon-socket", host)
	cmd.Dir = proj
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
	out, err := cmd.CombinedOutput()
	log := string(out)
	if err != nil {
		t.Fatalf("act: %v\n%s", err, tail(log, 60))
	}
	digest := manifestDigest(t, repo, "1")
	want := regexp.MustCompile(`RESULT digest=` + regexp.QuoteMeta(digest) + ` total=[1-9]`)
	if !want.MatchString(log) {
		t.Errorf("a later step should read the outputs (digest %s, steps total):\n%s", digest, tail(log, 40))
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// copyTree copies a file or a directory tree.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("mkdir", "-p", filepath.Dir(dst)).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp %s: %v %s", src, err, out)
	}
}

// Under act with its cache server on, a push to main and then a pull request that adds a
// requirement share both caches, each run on a builder of its own that starts empty (as on
// fresh runners): the pull request reads the main push's layer cache up to the changed
// file, and pip finds every old package in the restored mount cache.
func TestActPullRequestAfterMainPushReadsBothCaches(t *testing.T) {
	host := needDocker(t)
	act := filepath.Join(stackDir(), "bin", "act-v0.2.89", "act")
	if _, err := os.Stat(act); err != nil {
		t.Fatalf("no act at %s (scripts/stack/docker.sh installs it): %v", act, err)
	}
	// A BuildKit image name of this test's own gives a builder of its own, removed before
	// each run so each starts empty.
	bkImage := "warmbuild-e2e/buildkit:act-" + randomSuffix()
	docker(t, host, "tag", "moby/buildkit:buildx-stable-1", bkImage)
	ctr := dockerbuilder.ContainerName(dockerbuilder.OwnBuilderName(bkImage))
	t.Cleanup(func() {
		removeBuilder(t, host, ctr)
		dockerErr(host, "rmi", bkImage)
	})

	// The project outside /tmp, as a user's checkout is: act makes the workspace's path in
	// the action's container, which would otherwise hide a missing /tmp in the image.
	proj, err := os.MkdirTemp("/var/tmp", "wb-e2e-act-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(proj) })
	copyTree(t, filepath.Join(repoRoot, "testdata/app")+"/.", proj)
	for _, f := range []string{"action.yml", "Dockerfile", ".dockerignore", "go.mod", "go.sum", "main.go", "pkg"} {
		copyTree(t, filepath.Join(repoRoot, f), filepath.Join(proj, "warmbuild", f))
	}
	// A step before the one the pull request changes that does work, so the layer cache's
	// part shows in the counted steps: RUN, COPY and ADD (builder's countedStep).
	dockerfile, err := os.ReadFile(filepath.Join(proj, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	before := "RUN python -c 'import sys; print(sys.version)' > /python-version\nCOPY requirements.txt ."
	writeFile(t, filepath.Join(proj, "Dockerfile"), strings.Replace(string(dockerfile), "COPY requirements.txt .", before, 1))
	repo := uniqueRepo(t, "act-caches")
	outputs := []string{"cache-backend", "cache-saved", "cache-save-reason", "cache-warnings",
		"layer-cache-steps-cached", "layer-cache-steps-total", "layer-cache-hit-ratio",
		"mount-cache-hit", "mount-cache-saved-bytes", "mount-cache-restored-bytes",
		"pip-packages-cached", "pip-packages-total"}
	workflow := `on: [push, pull_request]
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: ./warmbuild
        id: build
        with:
          tags: ` + stackEnv["REGISTRY"] + "/" + repo + `:1
          buildkit-image: ` + bkImage + `
      - run: |
`
	for _, o := range outputs {
		workflow += "          echo \"OUT " + o + "=$" + envName(o) + "\"\n"
	}
	workflow += "        env:\n"
	for _, o := range outputs {
		workflow += "          " + envName(o) + ": ${{ steps.build.outputs." + o + " }}\n"
	}
	writeFile(t, filepath.Join(proj, ".github/workflows/image.yml"), workflow)
	fullName := "acme/" + repo
	events := t.TempDir()
	writeFile(t, filepath.Join(events, "push.json"), `{"ref": "refs/heads/main", "repository": {"full_name": "`+fullName+`", "default_branch": "main"}}`)
	writeFile(t, filepath.Join(events, "pull_request.json"), `{"number": 7, "pull_request": {"number": 7,
  "head": {"ref": "add-extra", "repo": {"full_name": "`+fullName+`"}},
  "base": {"ref": "main", "repo": {"full_name": "`+fullName+`"}}},
  "repository": {"full_name": "`+fullName+`", "default_branch": "main"}}`)
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = proj
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://github.com/"+fullName+".git")
	git("add", "-A")
	git("-c", "user.email=e2e@example.com", "-c", "user.name=e2e", "commit", "-qm", "app")

	// act's cache server on 127.0.0.1: act runs the job, the action's container and (through
	// the action) the builder on the host's network, so all of them reach it there. Its
	// storage outlives each act run, as a repository's cache outlives its jobs.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cacheDir := t.TempDir()
	runAct := func(event, payload string) (string, map[string]string) {
		t.Helper()
		removeBuilder(t, host, ctr) // a fresh runner: no builder, no BuildKit state
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, act, event, "--pull=false",
			"-e", filepath.Join(events, payload),
			"-P", "ubuntu-latest=warmbuild-stack/debian-rootfs:latest",
			"--container-daemon-socket", host,
			"--cache-server-addr", "127.0.0.1", "--cache-server-port", port, "--cache-server-path", cacheDir)
		cmd.Dir = proj
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+host)
		out, err := cmd.CombinedOutput()
		log := string(out)
		logFile := filepath.Join(os.TempDir(), "wb-e2e-"+strings.ReplaceAll(repo, "/", "-")+"-"+event+".log")
		if werr := os.WriteFile(logFile, out, 0o644); werr == nil {
			t.Logf("act %s: full log in %s", event, logFile)
		}
		if err != nil {
			t.Fatalf("act %s: %v\n%s", event, err, tail(log, 80))
		}
		got := map[string]string{}
		for _, m := range regexp.MustCompile(`\| OUT ([a-z-]+)=(.*)`).FindAllStringSubmatch(log, -1) {
			got[m[1]] = strings.TrimSpace(m[2])
		}
		if len(got) != len(outputs) {
			t.Fatalf("act %s: a later step should read %d outputs, got %v\n%s", event, len(outputs), got, tail(log, 60))
		}
		if strings.Contains(log, "no such file or directory") {
			t.Errorf("act %s: a path is missing in the action's container:\n%s", event, tail(log, 60))
		}
		return log, got
	}

	mainLog, main := runAct("push", "push.json")
	t.Logf("main push: %v", main)
	if main["cache-backend"] != "gha" || main["cache-saved"] != "true" || !strings.HasPrefix(main["cache-save-reason"], "saved:") {
		t.Errorf("main push: the gha layer cache should be written to act's cache server: backend %q saved %q (%s)\n%s",
			main["cache-backend"], main["cache-saved"], main["cache-save-reason"], tail(mainLog, 60))
	}
	if !strings.Contains(mainLog, "stand-in ACTIONS_RUNTIME_TOKEN") {
		t.Errorf("main push: the log should say that act's cache server gets a stand-in token\n%s", tail(mainLog, 60))
	}
	if main["cache-warnings"] != "[]" && main["cache-warnings"] != "" {
		t.Errorf("main push: cache warnings %q", main["cache-warnings"])
	}
	if main["mount-cache-hit"] != "miss" || main["mount-cache-saved-bytes"] == "0" || main["pip-packages-total"] != "11" {
		t.Errorf("main push: mount cache hit %q, saved %s bytes, pip %s/%s; want a miss that saves the 11 packages",
			main["mount-cache-hit"], main["mount-cache-saved-bytes"], main["pip-packages-cached"], main["pip-packages-total"])
	}

	// The pull request adds a requirement.
	reqs, err := os.ReadFile(filepath.Join(proj, "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(proj, "requirements.txt"), string(reqs)+"wb-extra==1.0.0\n")
	git("checkout", "-q", "-b", "add-extra")
	git("-c", "user.email=e2e@example.com", "-c", "user.name=e2e", "commit", "-qam", "add wb-extra")

	prLog, pr := runAct("pull_request", "pull_request.json")
	t.Logf("pull request: %v", pr)
	// The RUN comes before COPY requirements.txt, the first step the change touches: it
	// comes from the main push's layer cache (this builder started empty; on main it ran),
	// and nothing after it does. BuildKit's plain progress does not always print CACHED for
	// a step whose layers it then fetches from the cache, so the counted steps tell.
	if main["layer-cache-steps-cached"] != "0" {
		t.Errorf("main push on an empty builder: %s steps cached, want 0", main["layer-cache-steps-cached"])
	}
	if pr["layer-cache-steps-cached"] != "1" || pr["layer-cache-steps-total"] != "4" {
		t.Errorf("pull request: layer cache steps %s/%s (ratio %s); want 1/4: the RUN before the change cached, the changed COPY and what follows built",
			pr["layer-cache-steps-cached"], pr["layer-cache-steps-total"], pr["layer-cache-hit-ratio"])
	}
	if pr["mount-cache-hit"] != "partial" || pr["pip-packages-cached"] != "11" || pr["pip-packages-total"] != "12" {
		t.Errorf("pull request: mount-cache-hit %q, pip %s/%s cached; want partial, 11/12\n%s",
			pr["mount-cache-hit"], pr["pip-packages-cached"], pr["pip-packages-total"], tail(prLog, 80))
	}
	if pr["mount-cache-restored-bytes"] != main["mount-cache-saved-bytes"] {
		t.Errorf("pull request restored %s bytes; main saved %s", pr["mount-cache-restored-bytes"], main["mount-cache-saved-bytes"])
	}
	if pr["cache-saved"] != "false" || !strings.HasPrefix(pr["cache-save-reason"], "skipped:") {
		t.Errorf("pull request: cache-saved %q (%s); a pull request saves nothing", pr["cache-saved"], pr["cache-save-reason"])
	}
}

// envName is an output's name as an environment variable of a run step.
func envName(output string) string {
	return "WB_" + strings.ToUpper(strings.ReplaceAll(output, "-", "_"))
}
