//go:build e2e

package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-github/v62/github"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/ghapi/ghapitest"
)

// explainDockerfile copies the requirements, installs them (a stand-in that reads the
// file, so the test needs no index), then copies the app: the layout the cases use.
const explainDockerfile = `FROM python:3.11-slim
ARG APP_VERSION
WORKDIR /app
COPY requirements.txt .
RUN cp requirements.txt /installed.txt
COPY . .
RUN echo "$APP_VERSION" > /version
`

// explainRun is one gha run of the action on a fresh builder (a new runner) in dir.
func explainRun(t *testing.T, srv *cachetest.V2Server, token, dir string, extra map[string]string) Result {
	t.Helper()
	in := map[string]string{"endpoint": freshBuilder(t).Endpoint}
	for k, v := range extra {
		in[k] = v
	}
	env := map[string]string{"ACTIONS_RESULTS_URL": srv.URL(), "ACTIONS_RUNTIME_TOKEN": token}
	for k, v := range pushMain {
		env[k] = v
	}
	r := runAction(t, Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: env, Inputs: in})
	mustExit0(t, r)
	return r
}

// checkMiss asserts what a user sees of the first miss: the outputs, the summary, and the
// notice annotation at the step's Dockerfile line.
func checkMiss(t *testing.T, r Result, step, line, reason string, inSummary ...string) {
	t.Helper()
	if got := r.Outputs["layer-cache-first-miss"]; got != step+" (line "+line+")" {
		t.Errorf("layer-cache-first-miss = %q, want %q (line %s)", got, step, line)
	}
	if got := r.Outputs["layer-cache-miss-reason"]; got != reason {
		t.Errorf("layer-cache-miss-reason = %q, want %q\n%s", got, reason, tail(r.Log, 40))
	}
	if !strings.Contains(r.Log, "::notice file=Dockerfile,line="+line+",title=Layer cache miss ("+reason+")::first miss: "+step+": "+reason) {
		t.Errorf("no notice at line %s:\n%s", line, tail(r.Log, 40))
	}
	want := append([]string{"**First miss:** `" + step + "` at line " + line + " — reason `" + reason + "`"}, inSummary...)
	for _, w := range want {
		if !strings.Contains(r.Summary, w) {
			t.Errorf("summary lacks %q:\n%s", w, r.Summary)
		}
	}
}

// (b) A requirements change on the default branch: the next run names COPY requirements.txt
// and the file, from the build record the first run saved beside its cache.
func TestExplainARequirementsChangeNamesTheCopyAndTheFile(t *testing.T) {
	needStack(t)
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, Scopes: []string{"refs/heads/main"}})
	dir := writeContext(t, map[string]string{"Dockerfile": explainDockerfile, "requirements.txt": "flask==3.0.0\n", "app.py": "print('hi')\n"})
	first := explainRun(t, srv, token, dir, nil)
	if first.Outputs["layer-cache-miss-reason"] != "cold" {
		t.Errorf("first run: reason %q, want cold", first.Outputs["layer-cache-miss-reason"])
	}
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("flask==3.0.0\nrequests==2.32.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := explainRun(t, srv, token, dir, nil)
	checkMiss(t, second, "[3/6] COPY requirements.txt .", "4", "files", "- `requirements.txt`")
}

// (c) A build-arg change names the arg, never its value. The first step to miss is the
// first RUN after the ARG: BuildKit gives every RUN after an ARG its value in the
// environment, so that RUN's cache key changes even though it does not use it.
func TestExplainABuildArgChangeNamesTheArg(t *testing.T) {
	needStack(t)
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, Scopes: []string{"refs/heads/main"}})
	dir := writeContext(t, map[string]string{"Dockerfile": explainDockerfile, "requirements.txt": "flask==3.0.0\n", "app.py": "print('hi')\n"})
	explainRun(t, srv, token, dir, map[string]string{"build-args": "APP_VERSION=1.0.0-alpha"})
	second := explainRun(t, srv, token, dir, map[string]string{"build-args": "APP_VERSION=2.0.0-beta"})
	checkMiss(t, second, "[4/6] RUN cp requirements.txt /installed.txt", "5", "build-arg", "build args changed: APP_VERSION")
	// BuildKit's own step names expand the arg ("[6/6] RUN echo \"2.0.0-beta\" …"); what
	// warmbuild adds (the reason and its detail) names it only.
	if strings.Contains(second.Outputs["layer-cache-miss-reason"], "beta") || strings.Contains(second.Outputs["layer-cache-first-miss"], "beta") {
		t.Errorf("the miss outputs hold the build arg's value: %q", second.Outputs)
	}
}

// (a) A code change after `COPY . .` that comes before the install: the run names that
// COPY and the changed file, and the pitfall check warns at the same line.
func TestExplainACodeChangeBeforeTheInstallNamesTheCopyAndTheFile(t *testing.T) {
	needStack(t)
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, Scopes: []string{"refs/heads/main"}})
	dir := writeContext(t, map[string]string{
		// requirements.txt names nothing: pip installs nothing and needs no index. The cache
		// mount makes BuildKit name the one stage ("[stage-0 3/4] COPY . .").
		"Dockerfile":       "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nRUN --mount=type=cache,target=/root/.cache/pip pip install --no-index -r requirements.txt && cp requirements.txt /installed.txt\n",
		"requirements.txt": "# no dependencies yet\n", "app/main.py": "print('hi')\n", "app/views.py": "v = 1\n",
	})
	explainRun(t, srv, token, dir, nil)
	if err := os.WriteFile(filepath.Join(dir, "app/main.py"), []byte("print('hello')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := explainRun(t, srv, token, dir, nil)
	checkMiss(t, second, "[stage-0 3/4] COPY . .", "3", "files", "- `app/main.py`", "1 changed, 0 added, 0 removed")
	if strings.Contains(second.Summary, "app/views.py") {
		t.Errorf("an unchanged file is listed:\n%s", second.Summary)
	}
	if !strings.Contains(second.Log, "::warning file=Dockerfile,line=3,title=copy-before-install::") || !strings.Contains(second.Summary, "`copy-before-install`") {
		t.Errorf("the pitfall is not annotated at the COPY (line 3) and listed in the summary:\n%s", tail(second.Log, 40))
	}
}

// (d) A pull request against a default-branch scope whose layer cache entries were
// deleted through the REST API (as `gh cache delete` or a cleanup workflow does) says
// evicted: the scope's build record survived them. The REST stand-in lists and deletes
// the cache service stand-in's own entries, so the deletion is one the next run sees.
func TestExplainAPullRequestAgainstAnEvictedScopeSaysEvicted(t *testing.T) {
	needStack(t)
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, Scopes: []string{"refs/heads/main"}})
	api := ghapitest.NewServer(ghapitest.Options{Token: "ghs_explain", Store: ghapitest.V2Store(srv)})
	t.Cleanup(api.Close)
	dir := writeContext(t, map[string]string{"Dockerfile": explainDockerfile, "requirements.txt": "flask==3.0.0\n", "app.py": "print('hi')\n"})
	explainRun(t, srv, token, dir, nil)

	if n := deleteCachesThroughREST(t, api.URL, "ghs_explain", "refs/heads/main", func(key string) bool { return !strings.HasPrefix(key, "warmbuild-buildrecord-") }); n == 0 {
		t.Fatalf("the REST API listed no layer cache entries of refs/heads/main: %+v", srv.Entries())
	}
	for _, e := range srv.Entries() {
		if !strings.HasPrefix(e.Key, "warmbuild-buildrecord-") {
			t.Fatalf("%s is still in the cache service after its deletion through the REST API", e.Key)
		}
	}

	srv.SetScopes("refs/pull/12/merge", "refs/heads/main")
	env := map[string]string{"ACTIONS_RESULTS_URL": srv.URL(), "ACTIONS_RUNTIME_TOKEN": token}
	for k, v := range pr12 {
		env[k] = v
	}
	pr := runAction(t, Run{Dir: dir, Event: "pull_request", Payload: "pull_request.json", Env: env, Inputs: map[string]string{"endpoint": freshBuilder(t).Endpoint}})
	mustExit0(t, pr)
	checkMiss(t, pr, "[3/6] COPY requirements.txt .", "4", "evicted")
}

// deleteCachesThroughREST deletes ref's cache entries whose key selected says yes, with
// GitHub's own client against the REST API at apiURL: list them (every page), then
// DELETE /repos/{owner}/{repo}/actions/caches?key=…&ref=… for each. It returns how many.
func deleteCachesThroughREST(t *testing.T, apiURL, token, ref string, selected func(key string) bool) int {
	t.Helper()
	ctx := context.Background()
	gh := github.NewClient(nil).WithAuthToken(token)
	base, err := url.Parse(apiURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	gh.BaseURL = base
	var keys []string
	opts := &github.ActionsCacheListOptions{Ref: &ref, ListOptions: github.ListOptions{PerPage: 100}}
	for {
		list, resp, err := gh.Actions.ListCaches(ctx, "octo-org", "octo-repo", opts)
		if err != nil {
			t.Fatalf("list caches: %v", err)
		}
		for _, c := range list.ActionsCaches {
			if selected(c.GetKey()) {
				keys = append(keys, c.GetKey())
			}
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	for _, k := range slices.Compact(slices.Sorted(slices.Values(keys))) {
		if _, err := gh.Actions.DeleteCachesByKey(ctx, "octo-org", "octo-repo", k, &ref); err != nil {
			t.Fatalf("delete cache %s: %v", k, err)
		}
	}
	return len(keys)
}
