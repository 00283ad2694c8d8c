package builder

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/cli/cli/config/types"
	"github.com/moby/buildkit/session/auth/authprovider"
)

// writeConfig writes config.json as `docker login` leaves it without a credential helper:
// the login base64-encoded in `auth`.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func lookup(t *testing.T, a *RegistryAuth, host string) types.AuthConfig {
	t.Helper()
	ac, err := a.lookup(context.Background(), authprovider.LoadAuthConfig(a.cfg), host, nil, nil)
	if err != nil {
		t.Fatalf("credentials for %s: %v", host, err)
	}
	return ac
}

var ghcrToken = Credential{Host: "ghcr.io", Username: "octocat", Password: "ghs_token", From: GitHubTokenSource}

func TestRegistryCredentialsAreReadAsTheDockerCLIWritesThem(t *testing.T) {
	login := base64.StdEncoding.EncodeToString([]byte("ci-user:s3cret-pass"))
	dir := writeConfig(t, `{"auths":{
		"127.0.0.1:5001":{"auth":"`+login+`"},
		"https://index.docker.io/v1/":{"auth":"`+login+`"},
		"registry.example.com":{"identitytoken":"refresh-token"}}}`)
	a, err := LoadRegistryAuth(dir, ghcrToken)
	if err != nil {
		t.Fatal(err)
	}
	if ac := lookup(t, a, "127.0.0.1:5001"); ac.Username != "ci-user" || ac.Password != "s3cret-pass" {
		t.Errorf("127.0.0.1:5001: got %q/%q, want the login docker login wrote", ac.Username, ac.Password)
	}
	if ac := lookup(t, a, "registry-1.docker.io"); ac.Username != "ci-user" {
		t.Errorf("Docker Hub (asked for as registry-1.docker.io) should use the index.docker.io/v1 entry, got %+v", ac.Username)
	}
	if ac := lookup(t, a, "registry.example.com"); ac.IdentityToken != "refresh-token" {
		t.Errorf("identitytoken not served: %+v", ac.IdentityToken)
	}
	if ac := lookup(t, a, "ghcr.io"); ac.Username != "octocat" || ac.Password != "ghs_token" {
		t.Errorf("ghcr.io without a login in the config should fall back to github-token, got %q", ac.Username)
	}
	if ac := lookup(t, a, "quay.io"); hasCredentials(ac) {
		t.Errorf("quay.io has no login anywhere, got %q", ac.Username)
	}
	if got := a.Source("127.0.0.1:5001"); got != filepath.Join(dir, "config.json") {
		t.Errorf("source of 127.0.0.1:5001 = %q", got)
	}
	if got := a.Source("ghcr.io"); got != GitHubTokenSource {
		t.Errorf("source of ghcr.io = %q", got)
	}
	if got := a.Source("quay.io"); got != "" {
		t.Errorf("source of quay.io = %q", got)
	}
}

// A docker/login-action login to ghcr.io (a personal token, say) wins over github-token.
func TestALoginToGhcrInTheConfigWinsOverGitHubToken(t *testing.T) {
	login := base64.StdEncoding.EncodeToString([]byte("someone:ghp_personal"))
	a, err := LoadRegistryAuth(writeConfig(t, `{"auths":{"ghcr.io":{"auth":"`+login+`"}}}`), ghcrToken)
	if err != nil {
		t.Fatal(err)
	}
	if ac := lookup(t, a, "ghcr.io"); ac.Password != "ghp_personal" {
		t.Errorf("ghcr.io: got user %q, want the config's login", ac.Username)
	}
}

// No config at all (the runner's /github/home is empty) is no credentials, not an error.
func TestAMissingDockerConfigIsNoCredentials(t *testing.T) {
	a, err := LoadRegistryAuth(filepath.Join(t.TempDir(), "nothing"))
	if err != nil {
		t.Fatal(err)
	}
	if ac := lookup(t, a, "ghcr.io"); hasCredentials(ac) {
		t.Errorf("got credentials from nowhere: %q", ac.Username)
	}
	if len(a.Warnings) != 0 {
		t.Errorf("warnings: %v", a.Warnings)
	}
}

// The scratch image has no docker-credential-* programs: a helper in the config is a
// warning naming it, and the credentials written in the file are still used.
func TestCredentialHelpersAreWarnedAboutNotRun(t *testing.T) {
	login := base64.StdEncoding.EncodeToString([]byte("ci-user:s3cret-pass"))
	a, err := LoadRegistryAuth(writeConfig(t, `{"auths":{"127.0.0.1:5001":{"auth":"`+login+`"}},
		"credsStore":"desktop","credHelpers":{"123.dkr.ecr.us-east-1.amazonaws.com":"ecr-login"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Warnings) != 1 || !strings.Contains(a.Warnings[0], `credsStore "desktop"`) || !strings.Contains(a.Warnings[0], `"ecr-login"`) || !strings.Contains(a.Warnings[0], "cannot run") {
		t.Errorf("want one warning naming both helpers, got %q", a.Warnings)
	}
	if ac := lookup(t, a, "127.0.0.1:5001"); ac.Password != "s3cret-pass" {
		t.Errorf("the file's own login should still be used, got %q", ac.Username)
	}
	if ac := lookup(t, a, "123.dkr.ecr.us-east-1.amazonaws.com"); hasCredentials(ac) {
		t.Errorf("a helper's registry has nothing here, got %q", ac.Username)
	}
	for _, w := range a.Warnings {
		if strings.Contains(w, "s3cret-pass") || strings.Contains(w, login) {
			t.Errorf("a warning carries the password: %q", w)
		}
	}
}
