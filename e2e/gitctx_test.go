//go:build e2e

package e2e

// Git contexts (issue 14) against a real Git server: git's own smart-HTTP server
// (git-http-backend, Debian's git) behind Go's net/http/cgi, asking for HTTP basic auth
// the way github.com takes a token (user x-access-token, the token as password), which is
// what BuildKit sends for the GIT_AUTH_TOKEN secret (source/git/source.go getAuthToken).

import (
	"crypto/subtle"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
)

// gitServer is a Git repository served over smart HTTP on 127.0.0.1.
type gitServer struct {
	URL     string // http://127.0.0.1:PORT: the "GitHub server"
	Repo    string // owner/name
	Commit  string // the main branch's head
	Token   string
	Refused atomic.Int64 // requests refused for want of the token
}

const gitHTTPBackend = "/usr/lib/git-core/git-http-backend"

// startGitServer commits files to owner/name.git on branch main and serves it, requiring
// the token on every request.
func startGitServer(t *testing.T, files map[string]string) *gitServer {
	t.Helper()
	if _, err := os.Stat(gitHTTPBackend); err != nil {
		t.Fatalf("no git-http-backend (Debian's git; scripts/stack/apt.sh installs it): %v", err)
	}
	root := t.TempDir()
	work := writeContext(t, files)
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@warmbuild.invalid",
			"GIT_COMMITTER_NAME=e2e", "GIT_COMMITTER_EMAIL=e2e@warmbuild.invalid", "GIT_CONFIG_NOSYSTEM=1", "HOME="+root)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git(work, "init", "-q", "-b", "main")
	git(work, "add", "-A")
	git(work, "commit", "-q", "-m", "e2e")
	s := &gitServer{Repo: "octo-org/private-app", Token: "ghs_e2eGitToken" + filepath.Base(root), Commit: git(work, "rev-parse", "HEAD")}
	bare := filepath.Join(root, "octo-org", "private-app.git")
	git(root, "clone", "-q", "--bare", work, bare)

	backend := &cgi.Handler{
		Path: gitHTTPBackend,
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if !ok || user != "x-access-token" || subtle.ConstantTimeCompare([]byte(pass), []byte(s.Token)) != 1 {
			s.Refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Basic realm="GitHub"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	s.URL = "http://" + ln.Addr().String()
	return s
}

// env is the runner's environment of a workflow in the served repository.
func (s *gitServer) env() map[string]string {
	return map[string]string{
		"GITHUB_SERVER_URL": s.URL, "GITHUB_REPOSITORY": s.Repo,
		"GITHUB_REF": "refs/heads/main", "GITHUB_SHA": s.Commit,
	}
}

// The repository's files: a Dockerfile with a cache mount (so the mount caches must read
// it from the repository) at the top and one in app/ that takes a named context.
var gitRepoFiles = map[string]string{
	"Dockerfile": "FROM python:3.11-slim AS build\n" +
		"COPY message.txt /src/\n" +
		"RUN --mount=type=cache,id=gitctx-e2e,target=/root/.cache/e2e cp /src/message.txt /root/.cache/e2e/ && cat /src/message.txt > /out.txt\n" +
		"FROM scratch\nCOPY --from=build /out.txt /\n",
	"message.txt":      "built from the Git context\n",
	"requirements.txt": "# hashed into the mount cache key\n",
	"app/Dockerfile":   "FROM scratch\nCOPY app.txt /\nCOPY --from=repo message.txt /from-repo.txt\n",
	"app/app.txt":      "app subdirectory\n",
}

func readOut(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatalf("the build's output has no %s: %v", name, err)
	}
	return string(b)
}

func tokenOutsideMasks(log, token string) bool {
	return strings.Contains(logWithoutMasks(log), token)
}

func TestGitURLContextIsFetchedByBuildKitWithGitHubToken(t *testing.T) {
	b := freshBuilder(t)
	s := startGitServer(t, gitRepoFiles)
	out := t.TempDir()
	res := runAction(t, Run{Dir: t.TempDir(), Event: "push", Env: s.env(), Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "mount-caches": "all",
		"context":      s.URL + "/" + s.Repo + ".git#main",
		"github-token": s.Token,
		"outputs":      "type=local,dest=" + out,
	}})
	mustExit0(t, res)
	if got := readOut(t, out, "out.txt"); got != "built from the Git context\n" {
		t.Errorf("out.txt = %q, want the repository's message.txt", got)
	}
	if tokenOutsideMasks(res.Log, s.Token) {
		t.Errorf("the token appears in the log outside ::add-mask::")
	}
	if !strings.Contains(res.Log, "::add-mask::"+s.Token) {
		t.Errorf("github-token was not masked")
	}
	if !strings.Contains(res.Log, "fetch authenticated with github-token as the GIT_AUTH_TOKEN."+strings.TrimPrefix(s.URL, "http://")+" secret") {
		t.Errorf("the log does not say the fetch is authenticated with github-token:\n%s", tail(res.Log, 40))
	}
	// The mount caches read the Dockerfile from the repository: its cache mount is found
	// (there is no cache service here, which the engine says once it has found the mount).
	if !strings.Contains(res.Log, "Read the Dockerfile from the Git context") || !strings.Contains(res.Log, "Restore mount caches") {
		t.Errorf("the mount caches did not read the repository's Dockerfile:\n%s", tail(res.Log, 60))
	}
	if strings.Contains(res.Log, "Mount caches off") {
		t.Errorf("mount caches were switched off:\n%s", tail(res.Log, 40))
	}
	for k, v := range res.Outputs {
		if strings.Contains(v, s.Token) {
			t.Errorf("output %s contains the token", k)
		}
	}
}

func TestWithoutACheckoutTheDefaultGitContextIsBuiltAndDefaultContextExpands(t *testing.T) {
	b := freshBuilder(t)
	s := startGitServer(t, gitRepoFiles)

	// No context and an empty workspace (no actions/checkout): build-push-action's default
	// context, the repository at GITHUB_SHA.
	out := t.TempDir()
	res := runAction(t, Run{Dir: t.TempDir(), Event: "push", Env: s.env(), Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "github-token": s.Token,
		"outputs": "type=local,dest=" + out,
	}})
	mustExit0(t, res)
	if got := readOut(t, out, "out.txt"); got != "built from the Git context\n" {
		t.Errorf("out.txt = %q", got)
	}
	want := "Context: " + s.URL + "/" + s.Repo + ".git#" + s.Commit
	if !strings.Contains(res.Log, want) {
		t.Errorf("the log does not name the default context %q:\n%s", want, tail(res.Log, 40))
	}

	// {{defaultContext}}:app as the context and {{defaultContext}} as a named context.
	out2 := t.TempDir()
	res = runAction(t, Run{Dir: t.TempDir(), Event: "push", Env: s.env(), Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "github-token": s.Token,
		"context":        "{{defaultContext}}:app",
		"build-contexts": "repo={{defaultContext}}",
		"outputs":        "type=local,dest=" + out2,
	}})
	mustExit0(t, res)
	if got := readOut(t, out2, "app.txt"); got != "app subdirectory\n" {
		t.Errorf("app.txt = %q", got)
	}
	if got := readOut(t, out2, "from-repo.txt"); got != "built from the Git context\n" {
		t.Errorf("from-repo.txt = %q", got)
	}
	if tokenOutsideMasks(res.Log, s.Token) {
		t.Errorf("the token appears in the log outside ::add-mask::")
	}

	// A checkout holding the Dockerfile is built as it is, generated files included.
	ws := writeContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY generated.txt /\n", "generated.txt": "from the checkout\n"})
	out3 := t.TempDir()
	res = runAction(t, Run{Dir: ws, Event: "push", Env: s.env(), Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "github-token": s.Token,
		"outputs": "type=local,dest=" + out3,
	}})
	mustExit0(t, res)
	if got := readOut(t, out3, "generated.txt"); got != "from the checkout\n" {
		t.Errorf("generated.txt = %q", got)
	}
	if strings.Contains(res.Log, "Context: ") {
		t.Errorf("a checkout was built as a Git context:\n%s", tail(res.Log, 30))
	}
}

func TestGitContextWithoutTheTokenFailsSayingTheServerRefused(t *testing.T) {
	b := freshBuilder(t)
	s := startGitServer(t, gitRepoFiles)
	res := runAction(t, Run{Dir: t.TempDir(), Event: "push", Env: s.env(), Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "mount-caches": "none",
		"context": s.URL + "/" + s.Repo + ".git#main",
		// github-token left empty: nothing authenticates the fetch.
	}})
	if res.ExitCode == 0 {
		t.Fatalf("the build succeeded without the token:\n%s", tail(res.Log, 30))
	}
	if s.Refused.Load() == 0 {
		t.Errorf("the Git server refused nothing: the build failed for another reason")
	}
	if !strings.Contains(res.Log, "::error title=warmbuild::the Git server refused to hand out the build context") ||
		!strings.Contains(res.Log, "github-token is empty") {
		t.Errorf("the error does not say the Git server refused and what to give:\n%s", tail(res.Log, 30))
	}
}

// As the runner runs the container action, in a job without actions/checkout: the action
// creates its builder from moby/buildkit (which ships git) and the default Git context is
// fetched there, with github-token.
func TestContainerActionBuildsTheDefaultGitContextWithoutACheckout(t *testing.T) {
	host := needDocker(t)
	if out, err := dockerErr(host, "run", "--rm", "--entrypoint", "git", "moby/buildkit:buildx-stable-1", "--version"); err != nil {
		t.Fatalf("the stack's moby/buildkit stand-in has no git (scripts/stack/docker.sh adds it): %v %s", err, out)
	}
	image := buildActionImage(t, host)
	bkImage := "warmbuild-e2e/buildkit:" + randomSuffix()
	docker(t, host, "tag", "moby/buildkit:buildx-stable-1", bkImage)
	ctr := dockerbuilder.ContainerName(dockerbuilder.OwnBuilderName(bkImage))
	t.Cleanup(func() {
		removeBuilder(t, host, ctr)
		dockerErr(host, "rmi", bkImage)
	})
	s := startGitServer(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY message.txt /\n", "message.txt": "fetched in the builder container\n"})
	ws := t.TempDir() // an empty workspace: no checkout
	res := runActionContainer(t, host, ContainerRun{Image: image, Workspace: ws, Run: Run{
		Event: "push", Env: s.env(),
		Inputs: map[string]string{"buildkit-image": bkImage, "cache-backend": "none", "github-token": s.Token, "outputs": "type=local,dest=out"},
	}})
	mustExit0(t, res)
	if got := readOut(t, filepath.Join(ws, "out"), "message.txt"); got != "fetched in the builder container\n" {
		t.Errorf("message.txt = %q", got)
	}
	if tokenOutsideMasks(res.Log, s.Token) {
		t.Errorf("the token appears in the log outside ::add-mask::")
	}
}
