package inputs

// Git contexts (issue 14): `context` as a Git URL BuildKit fetches itself, the
// `{{defaultContext}}` template of build-push-action, and its default context.
//
// build-push-action (src/context.ts, getInputs) compiles `context` and every
// `build-contexts` line as a Handlebars template with one variable, defaultContext (the
// Git URL of the workflow's repository at the event's commit, actions-toolkit
// src/buildx/build.ts gitContext), and uses defaultContext when `context` is empty. The
// URL is resolved against the runner's environment by pkg/run (run.resolveContext); here
// only the syntax is read and checked.

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/util/gitutil"
)

// DefaultContextVar is build-push-action's template variable for its default Git context.
const DefaultContextVar = "{{defaultContext}}"

// defaultContextRe matches the variable as Handlebars does: spaces inside the braces are allowed.
var defaultContextRe = regexp.MustCompile(`\{\{\s*defaultContext\s*\}\}`)

// ContextKind says where the build context comes from.
type ContextKind int

const (
	// ContextDefault: `context` was left empty. The run builds the checkout (".") when the
	// workspace holds the Dockerfile, and build-push-action's Git context otherwise.
	ContextDefault ContextKind = iota
	// ContextLocal: a directory of the workspace.
	ContextLocal
	// ContextGit: a Git repository BuildKit fetches (a URL, or a {{defaultContext}} template).
	ContextGit
)

// ContextSource is `context`, read.
type ContextSource struct {
	Kind ContextKind
	// Git is the Git URL as written (ContextGit), {{defaultContext}} not yet expanded.
	Git string
	// FileGiven says `file` was set: with a Git context it is then the Dockerfile's path in
	// the repository (or, absolute, a local file), as buildx reads --file (build/opt.go
	// loadInputs); without it the repository's Dockerfile is built.
	FileGiven bool
}

// HasDefaultContext reports whether v names {{defaultContext}}.
func HasDefaultContext(v string) bool { return defaultContextRe.MatchString(v) }

// ExpandDefaultContext replaces every {{defaultContext}} in v with def, as Handlebars'
// compile(v)({defaultContext: def}) does (the URL holds no HTML-escaped characters).
func ExpandDefaultContext(v, def string) string {
	return defaultContextRe.ReplaceAllLiteralString(v, def)
}

// exampleDefaultContext stands in for the run's default context when a template is checked
// at parse time, before the runner's environment is read.
const exampleDefaultContext = "https://github.com/octo-org/octo-repo.git#0123456789abcdef0123456789abcdef01234567"

// ParseGitContext checks v (a Git URL or a {{defaultContext}} template) by BuildKit's own
// rules (frontend/dockerfile/dfgitutil ParseGitRef, what the dockerfile frontend calls on
// its context attr) and returns the repository URL, ref and subdirectory. ok is false when
// v is not a Git URL at all.
func ParseGitContext(v string) (ref *dfgitutil.GitRef, ok bool, err error) {
	if HasDefaultContext(v) {
		v = ExpandDefaultContext(v, exampleDefaultContext)
	}
	ref, ok, err = dfgitutil.ParseGitRef(v)
	if !ok {
		return nil, false, nil
	}
	if err != nil {
		return nil, true, err
	}
	return ref, true, nil
}

// gitContext reads `context` into in.ContextSource and fixes in.File's default for a Git
// context (Parse has set it to <context>/Dockerfile, a path of a checkout).
func (p *parser) gitContext(in *Inputs) {
	raw := strings.TrimSpace(p.raw("context"))
	file := strings.TrimSpace(p.raw("file"))
	src := ContextSource{FileGiven: file != ""}
	switch {
	case raw == "":
		src.Kind = ContextDefault
	case HasDefaultContext(raw):
		src.Kind, src.Git = ContextGit, raw
	case isLocalDir(raw):
		// buildx tries a local directory first (build/opt.go loadInputs: osutil.IsLocalDir).
		src.Kind = ContextLocal
	default:
		_, isGit, err := ParseGitContext(raw)
		switch {
		case isGit && err != nil:
			p.fail("context", 0, fmt.Sprintf("%q is not a Git context BuildKit can fetch: %v; write https://HOST/OWNER/REPO.git#REF[:SUBDIR] (or {{defaultContext}}:SUBDIR)", raw, err))
		case isGit:
			src.Kind, src.Git = ContextGit, raw
		case isURL(raw):
			p.fail("context", 0, fmt.Sprintf("%q is a URL but not a Git repository (an http(s) Git URL ends in .git); warmbuild builds a directory of the workspace or a Git repository: give https://HOST/OWNER/REPO.git#REF, or download the context in an earlier step", raw))
		default:
			// A directory that does not exist: pkg/run says so, naming context.
			src.Kind = ContextLocal
		}
	}
	in.ContextSource = src
	if src.Kind == ContextGit {
		in.Context = raw
		in.File = "Dockerfile"
		if file != "" {
			in.File = file
		}
		if !filepath.IsAbs(in.File) {
			if c := path.Clean(filepath.ToSlash(in.File)); c == ".." || strings.HasPrefix(c, "../") {
				p.fail("file", 0, fmt.Sprintf("%q leaves the Git context; with a Git context, file is the Dockerfile's path in the repository (or an absolute path of the runner)", file))
			}
		}
	}
	p.checkBuildContextTemplates(in)
}

// checkBuildContextTemplates checks build-contexts values that are Git URLs or name
// {{defaultContext}}, so a bad one is refused before anything starts.
func (p *parser) checkBuildContextTemplates(in *Inputs) {
	for name, v := range in.BuildContexts {
		if !HasDefaultContext(v) && !looksLikeGit(v) {
			continue
		}
		if _, isGit, err := ParseGitContext(v); isGit && err != nil {
			p.fail("build-contexts", 0, fmt.Sprintf("context %q: %q is not a Git context BuildKit can fetch: %v", name, v, err))
		} else if !isGit && HasDefaultContext(v) {
			p.fail("build-contexts", 0, fmt.Sprintf("context %q: %q does not give a Git URL; write %s or %s:SUBDIR", name, v, DefaultContextVar, DefaultContextVar))
		}
	}
}

func looksLikeGit(v string) bool {
	return strings.HasPrefix(v, "git@") || strings.HasPrefix(v, "git://") || strings.HasPrefix(v, "ssh://") ||
		((strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://")) && strings.Contains(v, ".git"))
}

func isURL(v string) bool {
	u, err := url.Parse(v)
	return err == nil && u.Scheme != "" && u.Host != ""
}

func isLocalDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// gitSSHAgent forwards the SSH agent for a Git context fetched over SSH
// (git@github.com:org/repo.git, ssh://...) when `ssh` names none, as buildx does
// (commands/build.go: no --ssh and buildflags.IsGitSSH(context) add --ssh default); like
// buildx's, the agent must be there: SSH_AUTH_SOCK set, and visible to the action.
func (p *parser) gitSSHAgent(in *Inputs) {
	if in.ContextSource.Kind != ContextGit || len(in.Flags.SSH) > 0 {
		return
	}
	u, err := gitutil.ParseURL(in.Context)
	if err != nil || u.Scheme != gitutil.SSHProtocol {
		return
	}
	sock := p.getenv("SSH_AUTH_SOCK")
	if sock == "" {
		p.fail("context", 0, fmt.Sprintf("%q is fetched over SSH, which needs an SSH agent: SSH_AUTH_SOCK is not set in the step's environment; start one in an earlier step (e.g. webfactory/ssh-agent with ssh-auth-sock: ${{ runner.temp }}/ssh-agent.sock), or give an https:// URL (fetched with github-token)", in.Context))
		return
	}
	if err := sshPathUsable(sock); err != nil {
		p.fail("context", 0, fmt.Sprintf("%q is fetched over SSH through the agent at SSH_AUTH_SOCK=%s: %v", in.Context, sock, err))
		return
	}
	in.Flags.SSH = append(in.Flags.SSH, SSHSpec{ID: "default", Paths: []string{sock}, FromEnv: true})
}
