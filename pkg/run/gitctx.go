package run

// Git contexts (issue 14): which context a run builds, build-push-action's default Git
// context and {{defaultContext}}, the GIT_AUTH_TOKEN secret, and the mount caches' view of
// a context that is not on the runner.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// GitContext is the Git repository BuildKit fetches as the build context.
type GitContext struct {
	// URL goes to the dockerfile frontend as its context attr.
	URL string
	// Default: build-push-action's default context (context left empty and no Dockerfile
	// in the workspace, or {{defaultContext}}).
	Default bool
	// Subdir is the context's directory in the repository ("" for its root).
	Subdir string
	// Dockerfile is the Dockerfile's path in Subdir, or an absolute local path.
	Dockerfile string
	// AuthSecret is the secret id github-token goes to BuildKit as (GIT_AUTH_TOKEN.<host>);
	// empty when no token is sent.
	AuthSecret string
	// Why says in a sentence why this context is built.
	Why string
}

// scopeDockerfile is the Dockerfile path the layer cache scope is derived from: the path
// in the repository, which is what a checkout of it would give (services/api/Dockerfile
// whether built from a checkout or from Git), so both share one cache.
func (g *GitContext) scopeDockerfile(file string) string {
	if g == nil || filepath.IsAbs(g.Dockerfile) {
		return file
	}
	return path.Join(g.Subdir, g.Dockerfile)
}

// defaultGitContext is build-push-action's default context for the run: actions-toolkit
// src/buildx/build.ts Build.gitContext with no options: <server>/<owner>/<repo>.git, pinned
// to GITHUB_SHA (a pull request's head commit with DOCKER_DEFAULT_GIT_CONTEXT_PR_HEAD_REF),
// as #REF, or ?ref=REF with BUILDX_SEND_GIT_QUERY_AS_INPUT (warmbuild talks to BuildKit
// directly, as buildx >= 0.29 does). "" when the run names no repository.
func defaultGitContext(env runnerenv.Env) string {
	gh := env.GitHub
	if gh.Repository == "" {
		return ""
	}
	server := strings.TrimSuffix(firstNonEmpty(gh.ServerURL, "https://github.com"), "/")
	ref := gh.Ref
	if !strings.HasPrefix(ref, "refs/") {
		ref = "refs/heads/" + ref
	} else if strings.HasPrefix(ref, "refs/pull/") && env.GitContext.PRHeadRef {
		if strings.HasSuffix(ref, "/merge") {
			ref = strings.TrimSuffix(ref, "/merge") + "/head"
		}
	}
	pinned := firstNonEmpty(env.GitContext.SHA, ref)
	if strings.HasPrefix(ref, "refs/pull/") && strings.HasSuffix(ref, "/head") {
		pinned = firstNonEmpty(pullRequestHeadSHA(gh.EventPath), ref)
	}
	base := server + "/" + gh.Repository + ".git"
	if env.GitContext.QueryAsInput {
		return base + "?ref=" + pinned
	}
	return base + "#" + pinned
}

var commitRe = regexp.MustCompile(`^[0-9a-f]{40,64}$`)

// pullRequestHeadSHA is the event payload's pull_request.head.sha, "" when absent.
func pullRequestHeadSHA(eventPath string) string {
	if eventPath == "" {
		return ""
	}
	f, err := os.Open(eventPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var p struct {
		PullRequest struct {
			Head struct {
				SHA string `json:"sha"`
			} `json:"head"`
		} `json:"pull_request"`
	}
	if json.NewDecoder(f).Decode(&p) != nil || !commitRe.MatchString(p.PullRequest.Head.SHA) {
		return ""
	}
	return p.PullRequest.Head.SHA
}

// resolveContext decides what the run builds and returns the inputs with context, file and
// build-contexts resolved against the runner's environment (a copy: in is not changed),
// and the Git context when there is one.
//
// Left empty, `context` is the checkout (".") when the workspace holds the Dockerfile
// (file, or ./Dockerfile), and build-push-action's default Git context otherwise, as in a
// job without actions/checkout. build-push-action always builds its Git context; a checkout
// is the same tree at the same commit, plus what earlier steps generated or changed, which
// users of build-push-action expect to see and do not (docker/build-push-action#514: files
// modified before the build are ignored; #182: .dockerignore; its README's warning, #408),
// and it needs no second fetch.
func resolveContext(in *inputs.Inputs, env runnerenv.Env) (*inputs.Inputs, *GitContext, error) {
	src := in.ContextSource
	out := *in
	def := defaultGitContext(env)
	if len(in.BuildContexts) > 0 {
		out.BuildContexts = make(map[string]string, len(in.BuildContexts))
		for name, v := range in.BuildContexts {
			if inputs.HasDefaultContext(v) {
				if def == "" {
					return nil, nil, &inputs.Error{Input: "build-contexts", Problem: fmt.Sprintf("context %q names %s, but the run names no repository (GITHUB_REPOSITORY is not set)", name, inputs.DefaultContextVar)}
				}
				v = inputs.ExpandDefaultContext(v, def)
			}
			out.BuildContexts[name] = v
		}
	}

	var raw string
	g := &GitContext{}
	switch src.Kind {
	case inputs.ContextLocal:
		return &out, nil, nil
	case inputs.ContextDefault:
		if fi, err := os.Stat(in.File); (err == nil && !fi.IsDir()) || def == "" {
			return &out, nil, nil // the checkout; buildRequest reports a missing Dockerfile
		}
		raw, g.Default = def, true
		g.Why = fmt.Sprintf("the workspace has no %s (no checkout): building build-push-action's default Git context", in.File)
	case inputs.ContextGit:
		raw = src.Git
		if inputs.HasDefaultContext(raw) {
			if def == "" {
				return nil, nil, &inputs.Error{Input: "context", Problem: fmt.Sprintf("%q names %s, but the run names no repository (GITHUB_REPOSITORY is not set)", raw, inputs.DefaultContextVar)}
			}
			raw, g.Default = inputs.ExpandDefaultContext(raw, def), true
		}
		g.Why = "context is a Git repository: BuildKit fetches it"
	}
	ref, ok, err := dfgitutil.ParseGitRef(raw)
	if !ok || err != nil {
		return nil, nil, &inputs.Error{Input: "context", Problem: fmt.Sprintf("%q is not a Git context BuildKit can fetch: %v", raw, err)}
	}
	g.URL, g.Subdir, g.Dockerfile = raw, strings.Trim(path.Clean("/"+ref.SubDir), "/"), in.File
	out.Context, out.File = raw, in.File
	g.AuthSecret = gitAuthSecret(in, env, append([]string{raw}, valuesOf(out.BuildContexts)...))
	return &out, g, nil
}

// gitAuthSecret is the secret id github-token is sent to BuildKit as, "" for none.
// build-push-action sends it as GIT_AUTH_TOKEN.<host of GITHUB_SERVER_URL> when its context
// is the default context and `secrets` holds no GIT_AUTH_TOKEN (src/context.ts getBuildArgs,
// actions-toolkit Build.hasGitAuthTokenSecret); warmbuild sends it whenever a Git context
// (or build context) is on that host, which is the default context's and what the token is
// for. BuildKit offers it to that host only (source/git/source.go authSecretNames).
func gitAuthSecret(in *inputs.Inputs, env runnerenv.Env, urls []string) string {
	if in.GitHubToken == "" {
		return ""
	}
	server, err := url.Parse(firstNonEmpty(env.GitHub.ServerURL, "https://github.com"))
	if err != nil || server.Host == "" {
		return ""
	}
	id := "GIT_AUTH_TOKEN." + server.Host
	for _, s := range in.Secrets {
		if s.ID == "GIT_AUTH_TOKEN" || s.ID == id {
			return "" // the user's own token wins
		}
	}
	for _, u := range urls {
		ref, ok, err := dfgitutil.ParseGitRef(u)
		if !ok || err != nil {
			continue
		}
		if r, err := url.Parse(ref.Remote); err == nil && r.Host == server.Host {
			return id
		}
	}
	return ""
}

// applyGitContext is buildRequest's Git part: the context URL, the Dockerfile's path in it,
// and github-token as the GIT_AUTH_TOKEN secret.
func applyGitContext(req *builder.Request, in *inputs.Inputs, g *GitContext) {
	if g == nil {
		return
	}
	req.ContextDir, req.GitContext, req.Dockerfile = "", g.URL, g.Dockerfile
	if g.AuthSecret != "" {
		req.Secrets = append(req.Secrets, builder.Secret{ID: g.AuthSecret, Value: []byte(in.GitHubToken)})
	}
}

// gitAuthOnly is the secret list of req the Git fetch needs (a helper build gets no more).
func gitAuthOnly(req builder.Request, g *GitContext) builder.Request {
	out := builder.Request{GitContext: req.GitContext}
	for _, s := range req.Secrets {
		if s.ID == g.AuthSecret {
			out.Secrets = append(out.Secrets, s)
		}
	}
	return out
}

// gitMountFiles points the mount cache request at a copy of the Git context's Dockerfile
// and mount-cache-hash-files, fetched through BuildKit into RUNNER_TEMP, so discovery, keys
// and the layer of files they hash are those of the repository. When the fetch fails the
// mount caches are off for the run, with a warning saying why (the build then reports the
// fetch's own failure). The returned func removes the copy.
func (r *runner) gitMountFiles(ctx context.Context, c *client.Client, req *mountcache.Request) (cleanup func()) {
	g := r.plan.Git
	cleanup = func() {}
	if g == nil || req.Selector.None() {
		return cleanup
	}
	dir, err := os.MkdirTemp(r.renv.RunnerTemp, "warmbuild-gitctx-")
	if err == nil {
		cleanup = func() { os.RemoveAll(dir) }
		local := filepath.IsAbs(g.Dockerfile)
		patterns := mountcache.AllKeyGlobs(req.HashFiles) // issue 18: every ecosystem's key files
		if !local {
			patterns = append(patterns, path.Clean(filepath.ToSlash(g.Dockerfile)))
		}
		end := r.rep.Group("Read the Dockerfile from the Git context (mount caches)")
		err = builder.FetchGitFiles(ctx, c, gitAuthOnly(r.plan.Request, g), patterns, dir,
			builder.WithProgress(r.rep.Writer()), builder.WithGetenv(r.env.Getenv))
		end()
		req.ContextDir = dir
		req.ContextOnlyHashFiles = true // issue 18: other files the steps read are not here
		if !local {
			req.Dockerfile = filepath.Join(dir, filepath.FromSlash(path.Clean(filepath.ToSlash(g.Dockerfile))))
		}
	}
	if err != nil {
		r.warn.Warn("Mount caches off", fmt.Sprintf("the build context is the Git repository %s, and its Dockerfile could not be read through BuildKit: %v; check the repository out (actions/checkout) to carry RUN --mount=type=cache directories", redactURL(g.URL), err))
		none, _ := inputs.ParseMountSelector("none")
		req.Selector = mountcache.Selector{MountSelector: none}
	}
	return cleanup
}

// redactURL drops a password from a URL written into a log line.
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
	}
	return v
}

func valuesOf(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// checkLocalContext checks that a checkout's context and Dockerfile are there; a Git
// context is BuildKit's to fetch, and only an absolute local Dockerfile is checked.
func checkLocalContext(in *inputs.Inputs, g *GitContext) error {
	if g == nil {
		if err := checkDir("context", in.Context); err != nil {
			return err
		}
	} else if !filepath.IsAbs(g.Dockerfile) {
		return nil
	}
	if fi, err := os.Stat(in.File); err != nil || fi.IsDir() {
		return &inputs.Error{Input: "file", Problem: fmt.Sprintf("no Dockerfile at %s (file is relative to the workspace; its default is <context>/Dockerfile)", in.File)}
	}
	return nil
}

// describeGitContext says in the log which Git context is built, and whether github-token
// authenticates its fetch.
func (r *runner) describeGitContext() {
	g := r.plan.Git
	if g == nil {
		return
	}
	auth := "no token (a public repository, or give github-token / a GIT_AUTH_TOKEN secret)"
	if g.AuthSecret != "" {
		auth = "github-token as the " + g.AuthSecret + " secret"
	}
	r.rep.Infof("Context: %s (%s; Dockerfile %s; fetch authenticated with %s)", redactURL(g.URL), g.Why, g.Dockerfile, auth)
}

// GitFetchError is a build that failed because the Git server refused to hand out the
// context: not the Dockerfile's fault, and fixed in the workflow (the token).
type GitFetchError struct {
	URL    string
	Sign   string // what git said
	Authed bool   // a token was sent
}

func (e *GitFetchError) Error() string {
	fix := "github-token is empty, so the fetch was not authenticated: give github-token (its default, ${{ github.token }}, reads the workflow's own repository) or a GIT_AUTH_TOKEN secret that can read the repository"
	if e.Authed {
		fix = "the token sent (github-token as GIT_AUTH_TOKEN.<host>) cannot read the repository: give a token with contents: read on it (as github-token, or as a GIT_AUTH_TOKEN secret), or check the repository out with actions/checkout and build the checkout"
	}
	return fmt.Sprintf("the Git server refused to hand out the build context %s (git: %s); %s", redactURL(e.URL), e.Sign, fix)
}

// gitAuthSigns are what git prints when an HTTP Git server wants credentials it did not get.
var gitAuthSigns = []string{
	"could not read Username", "could not read Password", "Authentication failed",
	"The requested URL returned error: 401", "The requested URL returned error: 403",
	"Repository not found",
}

// gitFetchError turns a build error that is the Git context's fetch being refused into a
// *GitFetchError; any other error is returned as it is.
func gitFetchError(err error, g *GitContext) error {
	if err == nil || g == nil {
		return err
	}
	msg := err.Error()
	if !strings.Contains(msg, "git") {
		return err
	}
	for _, sign := range gitAuthSigns {
		if strings.Contains(msg, sign) {
			return &GitFetchError{URL: g.URL, Sign: sign, Authed: g.AuthSecret != ""}
		}
	}
	return err
}
