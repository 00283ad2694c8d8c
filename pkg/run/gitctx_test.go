package run

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// runnerGetenv is a runner's environment in a workspace dir, with the inputs given.
func runnerGetenv(dir string, in map[string]string, extra map[string]string) func(string) string {
	env := map[string]string{
		"GITHUB_WORKSPACE": dir, "GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main",
		"GITHUB_REPOSITORY": "octo-org/app", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_SERVER_URL": "https://github.com",
	}
	for k, v := range in {
		env[inputs.InputEnv(k)] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// chdir runs the test in dir (the workspace: paths are relative to it).
func chdir(t *testing.T, dir string) {
	t.Helper()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chdir(wd) })
}

func planIn(t *testing.T, getenv func(string) string) (*Plan, error) {
	t.Helper()
	in, err := inputs.Parse(getenv)
	if err != nil {
		t.Fatal(err)
	}
	return MakePlan(in, runnerenv.Read(getenv))
}

func TestDefaultContextIsTheCheckoutWhenItHoldsTheDockerfile(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	p, err := planIn(t, runnerGetenv(dir, map[string]string{"github-token": "tok"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.Git != nil || p.Request.GitContext != "" || p.Request.ContextDir != "." {
		t.Errorf("a checkout must be built as it is: git %+v request context %q %q", p.Git, p.Request.GitContext, p.Request.ContextDir)
	}
	for _, s := range p.Request.Secrets {
		if s.ID == "GIT_AUTH_TOKEN.github.com" {
			t.Errorf("the token is sent although no Git context is built")
		}
	}
}

func TestWithoutACheckoutTheDefaultGitContextIsBuildPushActions(t *testing.T) {
	const sha = "0123456789abcdef0123456789abcdef01234567"
	const headSHA = "89abcdef0123456789abcdef0123456789abcdef"
	payload := filepath.Join(t.TempDir(), "event.json")
	os.WriteFile(payload, []byte(`{"pull_request":{"head":{"sha":"`+headSHA+`"}}}`), 0o644)
	for _, tc := range []struct {
		name  string
		in    map[string]string
		extra map[string]string
		url   string
		file  string
	}{
		{name: "push", url: "https://github.com/octo-org/app.git#" + sha, file: "Dockerfile"},
		{name: "file in the repository", in: map[string]string{"file": "docker/Dockerfile"}, url: "https://github.com/octo-org/app.git#" + sha, file: "docker/Dockerfile"},
		{name: "no GITHUB_SHA", extra: map[string]string{"GITHUB_SHA": "", "GITHUB_REF": "main"}, url: "https://github.com/octo-org/app.git#refs/heads/main", file: "Dockerfile"},
		{name: "query form", extra: map[string]string{"BUILDX_SEND_GIT_QUERY_AS_INPUT": "true"}, url: "https://github.com/octo-org/app.git?ref=" + sha, file: "Dockerfile"},
		{name: "pull request head", extra: map[string]string{"GITHUB_REF": "refs/pull/7/merge", "DOCKER_DEFAULT_GIT_CONTEXT_PR_HEAD_REF": "true", "GITHUB_EVENT_PATH": payload, "GITHUB_EVENT_NAME": "pull_request"}, url: "https://github.com/octo-org/app.git#" + headSHA, file: "Dockerfile"},
		{name: "GHES", extra: map[string]string{"GITHUB_SERVER_URL": "https://ghe.example.com/"}, url: "https://ghe.example.com/octo-org/app.git#" + sha, file: "Dockerfile"},
		{name: "template with a subdirectory", in: map[string]string{"context": "{{defaultContext}}:services/api"}, url: "https://github.com/octo-org/app.git#" + sha + ":services/api", file: "Dockerfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			chdir(t, dir)
			in := map[string]string{"github-token": "ghs_tok"}
			for k, v := range tc.in {
				in[k] = v
			}
			p, err := planIn(t, runnerGetenv(dir, in, tc.extra))
			if err != nil {
				t.Fatal(err)
			}
			if p.Git == nil || p.Request.GitContext != tc.url || p.Request.Dockerfile != tc.file {
				t.Fatalf("git %+v, request context %q file %q; want %q %q", p.Git, p.Request.GitContext, p.Request.Dockerfile, tc.url, tc.file)
			}
			host := "github.com"
			if tc.name == "GHES" {
				host = "ghe.example.com"
			}
			found := false
			for _, s := range p.Request.Secrets {
				found = found || s.ID == "GIT_AUTH_TOKEN."+host && string(s.Value) == "ghs_tok"
			}
			if !found {
				t.Errorf("github-token is not sent as GIT_AUTH_TOKEN.%s: %+v", host, p.Request.Secrets)
			}
		})
	}
}

func TestGitAuthTokenGoesOnlyToTheServersHostAndYieldsToTheUsersOwn(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	p, err := planIn(t, runnerGetenv(dir, map[string]string{"github-token": "tok", "context": "https://gitlab.example/o/r.git#main"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.Git == nil || p.Git.AuthSecret != "" || len(p.Request.Secrets) != 0 {
		t.Errorf("the token went to another host: %+v %+v", p.Git, p.Request.Secrets)
	}
	p, err = planIn(t, runnerGetenv(dir, map[string]string{"github-token": "tok", "context": "{{defaultContext}}", "secrets": "GIT_AUTH_TOKEN=mine"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Request.Secrets) != 1 || p.Request.Secrets[0].ID != "GIT_AUTH_TOKEN" {
		t.Errorf("the user's GIT_AUTH_TOKEN must be the only one: %+v", p.Request.Secrets)
	}
}

func TestDefaultContextInBuildContextsIsExpanded(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	p, err := planIn(t, runnerGetenv(dir, map[string]string{"build-contexts": "repo={{defaultContext}}\nsub={{defaultContext}}:docs"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	base := "https://github.com/octo-org/app.git#0123456789abcdef0123456789abcdef01234567"
	if p.Request.BuildContexts["repo"] != base || p.Request.BuildContexts["sub"] != base+":docs" {
		t.Errorf("build contexts = %v", p.Request.BuildContexts)
	}
	if p.Git != nil {
		t.Errorf("the main context is the checkout")
	}
}

func TestDefaultContextWithoutARepositoryNamesTheInput(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	_, err := planIn(t, runnerGetenv(dir, map[string]string{"context": "{{defaultContext}}"}, map[string]string{"GITHUB_REPOSITORY": ""}))
	var ie *inputs.Error
	if !errors.As(err, &ie) || ie.Input != "context" {
		t.Errorf("want an error naming context, got %v", err)
	}
}

// The layer cache scope of a Git context is that of a checkout of it.
func TestGitContextsLayerCacheScopeIsTheCheckouts(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	p, err := planIn(t, runnerGetenv(dir, map[string]string{"context": "{{defaultContext}}:services/api"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.LayerCache.Scope != "services-api" || p.LayerCache.Scope != scopeOf(t, "services/api/Dockerfile") {
		t.Errorf("scope = %q, want services-api, that of services/api/Dockerfile (%q)", p.LayerCache.Scope, scopeOf(t, "services/api/Dockerfile"))
	}
}

func scopeOf(t *testing.T, dockerfile string) string {
	t.Helper()
	dir := t.TempDir()
	chdir(t, dir)
	os.MkdirAll(filepath.Join(dir, filepath.Dir(dockerfile)), 0o755)
	os.WriteFile(filepath.Join(dir, dockerfile), []byte("FROM scratch\n"), 0o644)
	p, err := planIn(t, runnerGetenv(dir, map[string]string{"context": filepath.Dir(dockerfile)}, nil))
	if err != nil {
		t.Fatal(err)
	}
	return p.LayerCache.Scope
}

func TestRefusedGitFetchNamesGitHubToken(t *testing.T) {
	g := &GitContext{URL: "https://github.com/o/r.git#main"}
	err := gitFetchError(errors.New("failed to fetch remote https://github.com/o/r.git: git stderr:\nfatal: could not read Username for 'https://github.com': terminal prompts disabled"), g)
	var ge *GitFetchError
	if !errors.As(err, &ge) || ge.Authed {
		t.Fatalf("got %v", err)
	}
	other := errors.New(`process "/bin/sh -c make" did not complete successfully`)
	if gitFetchError(other, g) != other {
		t.Errorf("an ordinary build failure was rewritten")
	}
}

// An SSH Git URL (git@host:owner/repo.git) is a named context BuildKit fetches, not a
// directory of the workspace.
func TestSSHGitURLBuildContextIsNotAWorkspaceDirectory(t *testing.T) {
	dir := t.TempDir()
	chdir(t, dir)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644)
	p, err := planIn(t, runnerGetenv(dir, map[string]string{"build-contexts": "lib=git@github.com:octo-org/lib.git#main"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.Request.BuildContexts["lib"] != "git@github.com:octo-org/lib.git#main" {
		t.Errorf("build contexts = %v", p.Request.BuildContexts)
	}
}
