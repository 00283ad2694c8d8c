package builder

import (
	"context"
	"encoding/base64"
	"testing"
)

// warmbuild's own registry requests (the build record beside a registry cache) log in
// with what the build's session would give BuildKit: the config's login, an identity
// token as a secret without a username, the github-token fallback for ghcr.io.
func TestCredentialsAreWhatTheSessionGivesBuildKit(t *testing.T) {
	login := base64.StdEncoding.EncodeToString([]byte("ci-user:s3cret-pass"))
	a, err := LoadRegistryAuth(writeConfig(t, `{"auths":{
		"127.0.0.1:5001":{"auth":"`+login+`"},
		"https://index.docker.io/v1/":{"auth":"`+login+`"},
		"registry.example.com":{"identitytoken":"refresh-token"}}}`), ghcrToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ host, user, secret string }{
		{"127.0.0.1:5001", "ci-user", "s3cret-pass"},
		{"registry-1.docker.io", "ci-user", "s3cret-pass"},
		{"registry.example.com", "", "refresh-token"},
		{"ghcr.io", "octocat", "ghs_token"},
		{"quay.io", "", ""},
	} {
		user, secret, err := a.Credentials(context.Background(), tc.host)
		if err != nil || user != tc.user || secret != tc.secret {
			t.Errorf("Credentials(%s) = %q, %q, %v; want %q and %q", tc.host, user, secret, err, tc.user, tc.secret)
		}
	}
	var none *RegistryAuth
	if user, secret, err := none.Credentials(context.Background(), "ghcr.io"); user != "" || secret != "" || err != nil {
		t.Errorf("no registry auth at all: got %q, %q, %v", user, secret, err)
	}
}
