package builder

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/moby/buildkit/solver/errdefs"
	"google.golang.org/grpc/status"
)

// BuildError is a failed build, located in the Dockerfile where BuildKit could tell.
type BuildError struct {
	File    string // the Dockerfile as the user named it
	Line    int    // 1-based; 0 when unknown
	EndLine int
	Step    string // the failing vertex, e.g. "[2/4] RUN pip install -r requirements.txt"
	Message string // BuildKit's message, without the stack of wrapping
	Log     string // last lines the failing step printed
	err     error
}

func (e *BuildError) Error() string {
	var b strings.Builder
	if e.Step != "" {
		fmt.Fprintf(&b, "%s: ", e.Step)
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.err }

func newBuildError(err error, dockerfile string, rec *stepRecorder) *BuildError {
	be := &BuildError{File: dockerfile, Message: cleanMessage(err), err: err}
	for _, src := range errdefs.Sources(err) {
		if src.Info == nil || len(src.Ranges) == 0 {
			continue
		}
		be.Line = int(src.Ranges[0].Start.Line)
		be.EndLine = int(src.Ranges[len(src.Ranges)-1].End.Line)
		break
	}
	rec.mu.Lock()
	for _, d := range rec.order {
		v := rec.vertices[d]
		if v.Error != "" && !strings.Contains(v.Error, "context canceled") {
			be.Step = v.Name
			if l := rec.logs[d]; l != nil {
				be.Log = lastLines(l.String(), 20)
			}
			break
		}
	}
	rec.mu.Unlock()
	return be
}

// cleanMessage drops gRPC's "rpc error: code = Unknown desc =" prefix that means nothing
// to a user.
func cleanMessage(err error) string {
	msg := err.Error()
	if st, ok := status.FromError(errors.Unwrap(err)); ok && st.Message() != "" {
		msg = st.Message()
	}
	for {
		i := strings.Index(msg, "desc = ")
		if i < 0 {
			break
		}
		msg = msg[i+len("desc = "):]
	}
	return strings.TrimSpace(msg)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RegistryAuthError is a push or pull a registry refused for want of credentials, or for
// credentials it does not accept: a problem of the workflow's login, not of the Dockerfile.
type RegistryAuthError struct {
	Registry string // host, as in the image name: "ghcr.io", "docker.io", "127.0.0.1:5001"
	Op       string // "push" or "pull"
	// Source is where the credentials sent came from (a config.json path, "github-token"),
	// "" when the action had none for Registry.
	Source    string
	ConfigDir string // where the action looked for config.json
	Build     *BuildError
}

func (e *RegistryAuthError) Error() string {
	return fmt.Sprintf("%s refused the %s: %s", e.Registry, e.Op, e.Build.Message)
}

func (e *RegistryAuthError) Unwrap() error { return e.Build }

// Fix says what to change in the workflow, for the error annotation.
func (e *RegistryAuthError) Fix() string {
	fix := e.fix()
	if e.Op == "pull" {
		fix += " (A registry answers the same for an image that does not exist: check the name too.)"
	}
	return fix
}

func (e *RegistryAuthError) fix() string {
	configFile := "config.json"
	if e.ConfigDir != "" {
		configFile = filepath.Join(e.ConfigDir, "config.json")
	}
	switch {
	case e.Source == GitHubTokenSource:
		return fmt.Sprintf("warmbuild logged in to %s with github-token (no docker/login-action login for it reached the step). Give the job `permissions: packages: write` (and, for an existing package, the repository write access in the package's settings), or log in with a token that may %s there.", e.Registry, e.Op)
	case e.Source != "":
		return fmt.Sprintf("%s rejected the credentials for it in %s: check the username and password given to docker/login-action, and that they may %s this repository.", e.Registry, e.Source, e.Op)
	}
	fix := fmt.Sprintf("warmbuild found no credentials for %s in %s. docker/login-action writes them on the runner's host, where a container action cannot see them, unless DOCKER_CONFIG points under the runner's temp directory: add this step first in the job, before docker/login-action:\n  - run: echo \"DOCKER_CONFIG=$RUNNER_TEMP/docker\" >> \"$GITHUB_ENV\"\nthen log in with docker/login-action (registry: %s).", e.Registry, configFile, loginName(e.Registry))
	if e.Registry == "ghcr.io" {
		fix += " For ghcr.io warmbuild uses github-token when it finds no login; it had none here (is github-token empty?)."
	}
	return fix
}

// GitHubTokenSource is RegistryAuthError.Source when the step's github-token was sent.
const GitHubTokenSource = "github-token"

func loginName(host string) string {
	if host == "docker.io" {
		return "docker.io, or leave registry empty"
	}
	return host
}

// Messages BuildKit (containerd's resolver and pusher, the docker authorizer) gives when a
// registry refuses a request for its credentials. Seen from Debian's docker-registry with
// htpasswd auth (scripts/stack/registry-auth.sh):
//
//	failed to push 127.0.0.1:5001/app:1: unexpected status from HEAD request to http://127.0.0.1:5001/v2/app/blobs/sha256:…: 401 Unauthorized
//	127.0.0.1:5001/app:1: failed to resolve source metadata for 127.0.0.1:5001/app:1: unexpected status from HEAD request to http://127.0.0.1:5001/v2/app/manifests/1: 401 Unauthorized
//
// and reported from ghcr.io and Docker Hub (docker/build-push-action issues 200 and 981,
// insightsengineering/ci-images pull 91):
//
//	failed to push ghcr.io/org/app:1: unexpected status from POST request to https://ghcr.io/v2/org/app/blobs/uploads/: 403 Forbidden
//	failed to authorize: failed to fetch anonymous token: unexpected status: 403 Forbidden
//	push access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed
var (
	authRefusals = regexp.MustCompile(`(?i)\b(401 Unauthorized|403 Forbidden|unauthorized|authentication required|access denied|denied: |insufficient_scope|failed to authorize)`)
	pushRef      = regexp.MustCompile(`failed to push ([^\s:]+(?::\d+)?/[^\s:]+)`)
	pullRef      = regexp.MustCompile(`failed to resolve source metadata for ([^\s:]+(?::\d+)?/[^\s:]+)`)
	requestHost  = regexp.MustCompile(`request to https?://([^/\s]+)/v2/`)
)

// asRegistryAuthError returns a RegistryAuthError when be is a registry refusing a push
// or a pull for its credentials; auth says where the credentials would have come from.
func asRegistryAuthError(be *BuildError, auth *RegistryAuth) *RegistryAuthError {
	msg := be.Message
	if !authRefusals.MatchString(msg) {
		return nil
	}
	e := &RegistryAuthError{Build: be}
	switch {
	case pushRef.MatchString(msg):
		e.Op, e.Registry = "push", refHost(pushRef.FindStringSubmatch(msg)[1])
	case pullRef.MatchString(msg):
		e.Op, e.Registry = "pull", refHost(pullRef.FindStringSubmatch(msg)[1])
	case strings.Contains(msg, "push access denied"):
		e.Op = "push"
	case strings.Contains(msg, "pull access denied"):
		e.Op = "pull"
	default:
		return nil
	}
	if m := requestHost.FindStringSubmatch(msg); e.Registry == "" && m != nil {
		e.Registry = m[1]
	}
	if e.Registry == "" {
		return nil
	}
	if auth != nil {
		e.ConfigDir = auth.ConfigDir
		e.Source = auth.Source(resolverHost(e.Registry))
	}
	return e
}

// refHost is the registry of an image reference as the docker CLI reads it: the first
// path element when it looks like a host, docker.io otherwise.
func refHost(ref string) string {
	first, _, ok := strings.Cut(ref, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return "docker.io"
	}
	if first == "index.docker.io" || first == "registry-1.docker.io" {
		return "docker.io"
	}
	return first
}

// resolverHost is the host BuildKit asks the session credentials for.
func resolverHost(registry string) string {
	if registry == "docker.io" {
		return "registry-1.docker.io"
	}
	return registry
}
