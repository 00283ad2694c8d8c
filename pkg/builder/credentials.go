package builder

import (
	"context"

	"github.com/moby/buildkit/session/auth/authprovider"
)

// Credentials answers host's login (host as a registry names itself: "ghcr.io",
// "registry-1.docker.io", "127.0.0.1:5001") for warmbuild's own registry requests, the
// way the build's session answers BuildKit's resolver: the docker config's entry, else
// the fallback, an identity token as the secret with no username (moby/buildkit
// session/auth/authprovider/authprovider.go, toCredentials), which containerd's
// authorizer takes as a refresh token. No login: both empty.
func (a *RegistryAuth) Credentials(ctx context.Context, host string) (username, secret string, err error) {
	if a == nil {
		return "", "", nil
	}
	ac, err := a.lookup(ctx, authprovider.LoadAuthConfig(a.cfg), host, nil, nil)
	if err != nil {
		return "", "", err
	}
	if ac.IdentityToken != "" {
		return "", ac.IdentityToken, nil
	}
	return ac.Username, ac.Password, nil
}
