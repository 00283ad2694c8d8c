//go:build bench

package scenarios

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// The peers as users run them (issue 16, deliverable 2): docker/build-push-action v7,
// actions/cache v5 and buildkit-cache-dance v3 from their published dist/, under nektos/act
// on this host (`-P ubuntu-latest=-self-hosted`) with Node 24 and a real buildx CLI
// (scripts/stack/peers.sh), a buildx `remote` builder on the run's fresh buildkitd, and
// the same cache server, profile and fixture as the bench's own plain and dance:
//
//	WB_BENCH_PEERS=/path/to/peers WB_BENCH_WAYS=plain,plain-act,dance,dance-act ...
//
// WB_BENCH_PEERS holds build-push-action/, cache/ and buildkit-cache-dance/, each a
// checkout of the action's release (action.yml and dist/); bench/README.md says how to
// make it. Their columns sit beside plain and dance in the tables.
const (
	wayPlainAct = "plain-act"
	wayDanceAct = "dance-act"
)

var peerWays = []string{wayPlainAct, wayDanceAct}

// actStep is act's line for a finished step: "✅  Success - Main ./.peers/cache [1.2s]".
var actStep = regexp.MustCompile(`Success - (Pre|Main|Post) (\S+) \[([0-9.]+[a-zµ]+(?:[0-9.]+[a-zµ]+)*)\]`)

// runAct runs the plain or the dance pipeline with the real actions under act.
func (b *bench) runAct(res *runResult, runDir, endpoint string, srv *cachetest.V2Server, front, ctxDir, tag string) {
	t := b.t
	peers := os.Getenv("WB_BENCH_PEERS")
	if peers == "" {
		t.Fatalf("%s needs WB_BENCH_PEERS: a directory with build-push-action/, cache/ and buildkit-cache-dance/ (see bench/README.md)", res.Way)
	}
	stack := cachetest.StackValue("WARMBUILD_STACK")
	find := func(pattern string) string {
		m, _ := filepath.Glob(filepath.Join(stack, pattern))
		if len(m) == 0 {
			t.Fatalf("no %s under %s: run scripts/stack/peers.sh (and docker.sh for act)", pattern, stack)
		}
		return m[len(m)-1]
	}
	act, nodeBin, buildx := find("bin/act-*/act"), find("bin/node-*/bin"), find("bin/buildx-*/docker-buildx")

	// The user's repository: the fixture in app/, the actions beside it (act runs local
	// actions only from inside the workspace; outside the build context, so plain and
	// plain-act build the same context).
	proj := filepath.Join(runDir, "proj")
	copyTree(t, ctxDir, filepath.Join(proj, "app"))
	for _, a := range []string{"build-push-action", "cache", "buildkit-cache-dance"} {
		copyTree(t, filepath.Join(peers, a), filepath.Join(proj, ".peers", a))
	}
	dockerConfig := filepath.Join(runDir, "docker-config")
	if err := os.MkdirAll(filepath.Join(dockerConfig, "cli-plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(buildx, filepath.Join(dockerConfig, "cli-plugins", "docker-buildx")); err != nil {
		t.Fatal(err)
	}
	// A hosted runner's user has password-less sudo, and the dance's extract calls it
	// (`sudo rm -rf` of the cache directory); here the bench runs as root without sudo.
	shims := filepath.Join(runDir, "shims")
	writeText(t, filepath.Join(shims, "sudo"), "#!/bin/sh\nexec \"$@\"\n")
	if err := os.Chmod(filepath.Join(shims, "sudo"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := nodeBin + ":" + os.Getenv("PATH")
	if _, err := exec.LookPath("sudo"); err != nil {
		path += ":" + shims
	}
	env := append(os.Environ(),
		"PATH="+path,
		"DOCKER_CONFIG="+dockerConfig,
		"DOCKER_HOST="+cachetest.StackValue("DOCKER_HOST"),
		// act hands these to every step as ACTIONS_RUNTIME_URL/ACTIONS_RESULTS_URL and
		// ACTIONS_RUNTIME_TOKEN (pkg/runner/run_context.go, setActionRuntimeVars).
		"ACTIONS_RUNTIME_URL="+strings.TrimSuffix(front, "/")+"/",
		"ACTIONS_RUNTIME_TOKEN="+srv.Token(),
	)
	// What setup-buildx-action does for a remote BuildKit: a builder of the remote driver.
	create := exec.Command("docker", "buildx", "create", "--name", "bench", "--driver", "remote", endpoint)
	create.Env = env
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("docker buildx create: %v\n%s", err, out)
	}

	build := `      - uses: ./.peers/build-push-action
        with:
          builder: bench
          context: app
          file: app/Dockerfile
          push: true
          tags: ` + tag + `
          cache-from: type=gha,scope=app
          cache-to: type=gha,mode=max,scope=app
`
	steps := build
	if res.Way == wayDanceAct {
		// The dance's README: actions/cache for the host directory, the dance with
		// skip-extraction on an exact hit, then the build.
		steps = `      - uses: ./.peers/cache
        id: cache
        with:
          path: pip-cache
          key: pip-${{ hashFiles('app/requirements.txt') }}
          restore-keys: pip-
      - uses: ./.peers/buildkit-cache-dance
        with:
          builder: bench
          cache-map: '{"pip-cache": "/root/.cache/pip"}'
          skip-extraction: ${{ steps.cache.outputs.cache-hit }}
          utility-image: ` + b.utility + `
` + build
	}
	workflow := `on: push
jobs:
  build:
    runs-on: ubuntu-latest
    env:
      ACTIONS_CACHE_SERVICE_V2: "true"
      # act v0.2.89 sets ACTIONS_RESULTS_URL for container steps only; the runner sets it
      # for every step, and buildx skips a gha cache entry without it (build/opt.go, isActive).
      ACTIONS_RESULTS_URL: ` + strings.TrimSuffix(front, "/") + `/
      # The build record upload goes to the artifact service, which the test server does
      # not serve; build-push-action's summary itself still runs.
      DOCKER_BUILD_RECORD_UPLOAD: "false"
    steps:
      # act copies the local repository into the host executor's workspace here.
      - uses: actions/checkout@v4
` + steps
	writeText(t, filepath.Join(proj, ".github/workflows/bench.yml"), workflow)
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "user.email=bench@example.com", "-c", "user.name=bench", "commit", "-qm", "app"}} {
		cmd := exec.Command("git", args...)
		cmd.Dir = proj
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	actArgs := []string{"push", "--pull=false", "--no-cache-server", "-P", "ubuntu-latest=-self-hosted",
		"-W", ".github/workflows/bench.yml", "-e", filepath.Join(b.root, "testdata/events/push-default-branch.json")}
	logPath := filepath.Join(runDir, "log")
	if res.Way == wayDanceAct {
		// The dance's extract leaves a container and an image in the Docker Engine (an
		// ephemeral runner throws them away with its VM; this machine's engine is shared).
		defer func() {
			for _, args := range [][]string{{"rm", "-f", "cache-container"}, {"rmi", "-f", "dance:extract"}} {
				cmd := exec.Command("docker", args...)
				cmd.Env = env
				_ = cmd.Run()
			}
		}()
	}
	wall, rss := b.runProcess(act, proj, env, logPath, actArgs...)
	res.Wall, res.MaxRSSKiB = wall, rss
	log, _ := os.ReadFile(logPath)
	for _, m := range actStep.FindAllStringSubmatch(string(log), -1) {
		d, err := time.ParseDuration(m[3])
		if err != nil {
			continue
		}
		res.Phases[peerPhase(m[1], m[2])] += d.Seconds()
	}
	res.Solve = res.Phases["build"]
	if strings.Contains(string(log), "Cache restored from key: "+"pip-") {
		res.MountHit = "restored"
	}
}

// peerPhase names an act step by the bench's phases.
func peerPhase(stage, step string) string {
	switch {
	case strings.HasSuffix(step, "/cache") && stage == "Main":
		return "restore"
	case strings.HasSuffix(step, "/cache"):
		return "save"
	case strings.HasSuffix(step, "/buildkit-cache-dance") && stage == "Main":
		return "inject"
	case strings.HasSuffix(step, "/buildkit-cache-dance"):
		return "extract"
	case strings.HasSuffix(step, "/build-push-action") && stage == "Main":
		return "build"
	}
	return "summary" // build-push-action's post step: its job summary and build record
}

func writeText(t interface {
	Helper()
	Fatal(...any)
}, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
