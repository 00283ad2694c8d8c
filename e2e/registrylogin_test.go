//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
)

// loginJob is a job of the runner-style harness up to the warmbuild step, on a registry
// that requires a login (scripts/stack/registry-auth.sh): a builder made as
// docker/setup-buildx-action makes one (its buildkitd config knowing the plain-HTTP
// registry, as setup-buildx-action's `config` input does), the host's $RUNNER_TEMP, and the
// runner user's home on the host, which no container action sees.
type loginJob struct {
	host, image, builder string
	runnerTemp, home     string
	env                  map[string]string // what earlier steps wrote to $GITHUB_ENV
	registry, user, pass string
}

func newLoginJob(t *testing.T) *loginJob {
	t.Helper()
	host := needDocker(t)
	j := &loginJob{host: host, registry: stackEnv["AUTH_REGISTRY"], user: stackEnv["AUTH_REGISTRY_USER"], pass: stackEnv["AUTH_REGISTRY_PASSWORD"],
		runnerTemp: t.TempDir(), home: t.TempDir(), env: map[string]string{}}
	if j.registry == "" || j.pass == "" {
		t.Fatal("the stack has no login registry (AUTH_REGISTRY in its env): run scripts/stack/registry-auth.sh")
	}
	j.image = buildActionImage(t, host)
	j.builder = "login-" + randomSuffix()
	ctr := dockerbuilder.ContainerName(j.builder)
	t.Cleanup(func() { removeBuilder(t, host, ctr) })
	args := append([]string{"run", "-d", "--name", ctr, "-v", ctr + "_state:/var/lib/buildkit",
		"-v", stackEnv["BUILDKITD_CONFIG"] + ":/etc/buildkit/buildkitd.toml:ro"}, builderRunArgs()...)
	docker(t, host, append(args, "moby/buildkit:buildx-stable-1")...)
	return j
}

// runStep runs a `run:` step's script on the host as the runner does (bash, RUNNER_TEMP,
// GITHUB_ENV), then reads back what it added to the job's environment.
func (j *loginJob) runStep(t *testing.T, script string) {
	t.Helper()
	envFile := filepath.Join(j.runnerTemp, "_runner_file_commands", "set_env_"+randomSuffix())
	if err := os.MkdirAll(filepath.Dir(envFile), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", "-e", "-c", script)
	cmd.Env = append(j.hostEnv(), "GITHUB_ENV="+envFile)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("step %q: %v\n%s", script, err, out)
	}
	f, err := os.Open(envFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			j.env[k] = v
		}
	}
}

func (j *loginJob) hostEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + j.home, "RUNNER_TEMP=" + j.runnerTemp}
	for k, v := range j.env {
		env = append(env, k+"="+v)
	}
	return env
}

// login is docker/login-action's step: `docker login --password-stdin` on the host with the
// job's environment (docker/login-action src/docker.ts loginExec), writing
// $DOCKER_CONFIG/config.json or $HOME/.docker/config.json.
func (j *loginJob) login(t *testing.T) {
	t.Helper()
	cmd := exec.Command(dockerCLI, "-H", j.host, "login", "--password-stdin", "--username", j.user, j.registry)
	cmd.Env = j.hostEnv()
	cmd.Stdin = strings.NewReader(j.pass)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker login %s: %v\n%s", j.registry, err, out)
	}
}

// build is the warmbuild step: push to the login registry.
func (j *loginJob) build(t *testing.T, ref string) Result {
	t.Helper()
	env := pushOnMain(map[string]string{"GITHUB_ACTOR": "octocat"})
	for k, v := range j.env {
		env[k] = v // host paths: the harness translates them as the runner does
	}
	return runActionContainer(t, j.host, ContainerRun{Image: j.image, RunnerTemp: j.runnerTemp, Run: Run{
		Inputs: map[string]string{"builder": j.builder, "tags": ref, "push": "true", "cache-backend": "none", "mount-caches": "none"},
		Event:  "push", Payload: "push-default-branch.json", Env: env,
	}})
}

// readmeLoginStep is the step README.md tells users to put before docker/login-action for
// a registry other than ghcr.io.
func readmeLoginStep(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "- run: "); ok && strings.Contains(s, "DOCKER_CONFIG=") && strings.Contains(s, "GITHUB_ENV") {
			return s
		}
	}
	t.Fatal(`README.md has no step setting DOCKER_CONFIG through $GITHUB_ENV ("- run: echo \"DOCKER_CONFIG=...\" >> \"$GITHUB_ENV\"")`)
	return ""
}

// A workflow written as the README says — its DOCKER_CONFIG step, then docker/login-action
// on the host — pushes to a registry that requires a login, and the password reaches no
// log, output, summary or image.
func TestContainerActionPushesToARegistryThatRequiresLoginAfterTheReadmesLoginStep(t *testing.T) {
	j := newLoginJob(t)
	j.runStep(t, readmeLoginStep(t))
	if !strings.HasPrefix(j.env["DOCKER_CONFIG"], j.runnerTemp+"/") {
		t.Fatalf("the README's step should put DOCKER_CONFIG under $RUNNER_TEMP (the one host directory a container action sees), got %q", j.env["DOCKER_CONFIG"])
	}
	j.login(t)

	repo := uniqueRepo(t, "login")
	ref := j.registry + "/" + repo + ":1"
	res := j.build(t, ref)
	if res.ExitCode != 0 {
		t.Fatalf("push to %s after the README's login failed (exit %d):\n%s", j.registry, res.ExitCode, tail(res.Log, 40))
	}
	if !strings.Contains(res.Log, "/github/runner_temp/docker/config.json has credentials for "+j.registry) {
		t.Errorf("the log should say which config gave credentials for %s:\n%s", j.registry, tail(res.Log, 60))
	}
	digest := res.Outputs["digest"]
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("digest output %q", digest)
	}
	manifest := j.registryGet(t, "/v2/"+repo+"/manifests/1", "application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json,application/vnd.oci.image.index.v1+json")
	var m struct {
		Config struct{ Digest string } `json:"config"`
	}
	_ = json.Unmarshal([]byte(manifest), &m)
	image := manifest
	if m.Config.Digest != "" {
		image += j.registryGet(t, "/v2/"+repo+"/blobs/"+m.Config.Digest, "*/*")
	}
	assertNoSecret(t, j.pass, res, image)
}

// The same job where the login did not reach the action (docker/login-action without the
// README's DOCKER_CONFIG step writes the runner user's ~/.docker on the host): the push is
// refused, and the annotation names the registry and the step to add, not the Dockerfile.
func TestAPushRefusedForWantOfLoginSaysWhatToAddToTheWorkflow(t *testing.T) {
	j := newLoginJob(t)
	j.login(t)
	if _, err := os.Stat(filepath.Join(j.home, ".docker", "config.json")); err != nil {
		t.Fatalf("docker login should have written the host user's config: %v", err)
	}
	res := j.build(t, j.registry+"/"+uniqueRepo(t, "nologin")+":1")
	if res.ExitCode == 0 {
		t.Fatalf("the push should be refused without credentials:\n%s", tail(res.Log, 30))
	}
	// Annotation properties escape ':' and ',' (actions/toolkit command.ts escapeProperty).
	title := "::error title=" + strings.NewReplacer(":", "%3A", ",", "%2C").Replace(j.registry) + " refused the push::"
	if !strings.Contains(res.Log, title) {
		t.Errorf("want an annotation %q:\n%s", title, tail(res.Log, 30))
	}
	if strings.Contains(res.Log, "::error file=Dockerfile") {
		t.Errorf("a refused login is not the Dockerfile's fault:\n%s", tail(res.Log, 30))
	}
	if step := readmeLoginStep(t); !strings.Contains(res.Log, strings.TrimSuffix(step, "\n")) {
		t.Errorf("the annotation should give the README's step %q:\n%s", step, tail(res.Log, 30))
	}
	assertNoSecret(t, j.pass, res, "")
}

func (j *loginJob) registryGet(t *testing.T, path, accept string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+j.registry+path, nil)
	req.SetBasicAuth(j.user, j.pass)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, resp.Status, b)
	}
	return string(b)
}

func assertNoSecret(t *testing.T, secret string, res Result, image string) {
	t.Helper()
	places := map[string]string{"log": res.Log, "summary": res.Summary, "image": image}
	for k, v := range res.Outputs {
		places["output "+k] = v
	}
	for where, text := range places {
		if strings.Contains(text, secret) {
			t.Errorf("the registry password reached the %s", where)
		}
	}
	if t.Failed() {
		fmt.Println("(the password itself is not printed)")
	}
}
