package inputs

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker/buildx/util/buildflags"
)

func TestGitURLContextIsAcceptedWithTheRepositorysDockerfile(t *testing.T) {
	sock, _, _ := sshFixtures(t) // the git@ context is fetched through an agent
	for _, tc := range []struct {
		context, file, wantFile string
	}{
		{"https://github.com/docker/buildx.git#v0.12.0", "", "Dockerfile"},
		{"https://github.com/o/r.git#main:docker", "", "Dockerfile"},
		{"https://github.com/o/r.git?ref=main&subdir=docker", "Dockerfile.alt", "Dockerfile.alt"},
		{"git@github.com:o/r.git#main", "build/Dockerfile", "build/Dockerfile"},
		{"{{defaultContext}}", "", "Dockerfile"},
		{"{{ defaultContext }}:app", "", "Dockerfile"},
	} {
		in, err := Parse(env(map[string]string{"context": tc.context, "file": tc.file}, "SSH_AUTH_SOCK="+sock))
		if err != nil {
			t.Errorf("context %q: %v", tc.context, err)
			continue
		}
		if in.ContextSource.Kind != ContextGit || in.ContextSource.Git != tc.context || in.Context != tc.context || in.File != tc.wantFile {
			t.Errorf("context %q: source %+v context %q file %q, want a Git context with file %q", tc.context, in.ContextSource, in.Context, in.File, tc.wantFile)
		}
	}
}

func TestContextLeftEmptyIsTheDefaultAndADirectoryIsLocal(t *testing.T) {
	in, err := Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if in.ContextSource.Kind != ContextDefault || in.Context != "." || in.File != "Dockerfile" {
		t.Errorf("empty context: %+v %q %q", in.ContextSource, in.Context, in.File)
	}
	dir := t.TempDir()
	in, err = Parse(env(map[string]string{"context": dir}))
	if err != nil {
		t.Fatal(err)
	}
	if in.ContextSource.Kind != ContextLocal {
		t.Errorf("a directory: %+v", in.ContextSource)
	}
}

func TestBadGitContextsAreRefusedNamingTheInput(t *testing.T) {
	for _, tc := range []struct {
		in        map[string]string
		input     string
		wantWords string
	}{
		{map[string]string{"context": "https://example.com/ctx.tar.gz"}, "context", "not a Git repository"},
		{map[string]string{"context": "https://github.com/o/r.git?ref=a&ref=b"}, "context", "not a Git context BuildKit can fetch"},
		{map[string]string{"context": "https://github.com/o/r.git#main", "file": "../Dockerfile"}, "file", "leaves the Git context"},
		{map[string]string{"build-contexts": "base=https://github.com/o/r.git?subdir="}, "build-contexts", "not a Git context"},
		{map[string]string{"build-contexts": "base=x{{defaultContext}}"}, "build-contexts", "does not give a Git URL"},
	} {
		_, err := Parse(env(tc.in))
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 {
			t.Errorf("%v: want an input error, got %v", tc.in, err)
			continue
		}
		if es[0].Input != tc.input || !strings.Contains(es[0].Problem, tc.wantWords) {
			t.Errorf("%v: got %v, want input %q saying %q", tc.in, es[0], tc.input, tc.wantWords)
		}
	}
}

func TestExpandDefaultContextReplacesEveryOccurrenceLikeHandlebars(t *testing.T) {
	got := ExpandDefaultContext("{{defaultContext}}:sub {{ defaultContext }}", "https://h/o/r.git#abc")
	if got != "https://h/o/r.git#abc:sub https://h/o/r.git#abc" {
		t.Errorf("got %q", got)
	}
}

// A Git context fetched over SSH forwards the step's agent when ssh names none, as buildx
// adds --ssh default for it (commands/build.go, buildflags.IsGitSSH); without an agent the
// step fails naming context, and an https:// context forwards nothing.
func TestAGitContextOverSSHForwardsTheAgentAsBuildxDoes(t *testing.T) {
	sock, key, _ := sshFixtures(t)
	for _, ctx := range []string{"git@github.com:octo-org/app.git#main", "ssh://git@github.com/octo-org/app.git"} {
		if !buildflags.IsGitSSH(strings.SplitN(ctx, "#", 2)[0]) {
			t.Fatalf("buildx does not take %s for SSH", ctx)
		}
		in, err := Parse(env(map[string]string{"context": ctx}, "SSH_AUTH_SOCK="+sock))
		if err != nil {
			t.Fatalf("%s: %v", ctx, err)
		}
		if len(in.Flags.SSH) != 1 || in.Flags.SSH[0].ID != "default" || in.Flags.SSH[0].Paths[0] != sock {
			t.Errorf("%s: ssh = %+v, want the agent at SSH_AUTH_SOCK as default", ctx, in.Flags.SSH)
		}
		in, err = Parse(env(map[string]string{"context": ctx, "ssh": "deploy=" + key}, "SSH_AUTH_SOCK="+sock))
		if err != nil || len(in.Flags.SSH) != 1 || in.Flags.SSH[0].ID != "deploy" {
			t.Errorf("%s with ssh given: %+v, %v; want only what ssh names", ctx, in.Flags.SSH, err)
		}
		_, err = Parse(env(map[string]string{"context": ctx}))
		var e Errors
		if !errors.As(err, &e) || e[0].Input != "context" || !strings.Contains(e[0].Problem, "SSH_AUTH_SOCK") {
			t.Errorf("%s without an agent: %v, want an error on context naming SSH_AUTH_SOCK", ctx, err)
		}
	}
	in, err := Parse(env(map[string]string{"context": "https://github.com/octo-org/app.git#main"}, "SSH_AUTH_SOCK="+sock))
	if err != nil || len(in.Flags.SSH) != 0 {
		t.Errorf("https context: ssh = %+v, %v; want none", in.Flags.SSH, err)
	}
}
