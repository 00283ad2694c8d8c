package run

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// The README's example has no login step: the plan logs in to ghcr.io with github-token,
// reads the docker config from DOCKER_CONFIG as the runner passes it, and its log line
// names registries, never a credential.
func TestThePlanLogsInToGhcrWithGitHubTokenAndReadsDockerConfig(t *testing.T) {
	cfg := t.TempDir()
	login := base64.StdEncoding.EncodeToString([]byte("ci-user:s3cret-pass"))
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(`{"auths":{"registry.example.com":{"auth":"`+login+`"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := planEnv(t, map[string]string{
		"DOCKER_CONFIG":                 cfg,
		"HOME":                          "/github/home",
		"GITHUB_ACTOR":                  "octocat",
		inputs.InputEnv("github-token"): "ghs_secret_token",
	})
	in, err := inputs.Parse(getenv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(in, runnerenv.Read(getenv))
	if err != nil {
		t.Fatal(err)
	}
	a := p.Request.Auth
	if a == nil {
		t.Fatal("the build request carries no registry credentials")
	}
	if got := a.Source("ghcr.io"); got != builder.GitHubTokenSource {
		t.Errorf("ghcr.io credentials from %q, want github-token", got)
	}
	if got := a.Source("registry.example.com"); got != filepath.Join(cfg, "config.json") {
		t.Errorf("registry.example.com credentials from %q, want DOCKER_CONFIG's config.json", got)
	}
	line := describeRegistryAuth(a)
	if !strings.Contains(line, "registry.example.com") || !strings.Contains(line, "ghcr.io with github-token") {
		t.Errorf("log line %q", line)
	}
	for _, secret := range []string{"s3cret-pass", login, "ghs_secret_token"} {
		if strings.Contains(line, secret) {
			t.Errorf("the log line carries a credential: %q", line)
		}
	}
}

// Without github-token nothing is sent to ghcr.io in its name.
func TestNoGitHubTokenNoGhcrFallback(t *testing.T) {
	getenv := planEnv(t, map[string]string{"DOCKER_CONFIG": t.TempDir()})
	in, err := inputs.Parse(getenv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(in, runnerenv.Read(getenv))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Request.Auth.Source("ghcr.io"); got != "" {
		t.Errorf("ghcr.io credentials from %q with no github-token", got)
	}
}
