package run

import (
	"fmt"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/builder"
)

// registryAuth is what the build logs in to registries with: the docker config the docker
// CLI would read (DOCKER_CONFIG, else $HOME/.docker), then, for ghcr.io only, the step's
// github-token.
//
// Why these two, on GitHub's runners (see builder.RegistryAuth for the runner's mounts):
//   - ghcr.io with GITHUB_TOKEN is what the README's example and most workflows log in
//     with (docker/login-action, username github.actor, password secrets.GITHUB_TOKEN). That
//     login lands in the runner user's ~/.docker, which the container never sees; the same
//     token reaches the step as github-token (default github.token), so ghcr.io needs
//     nothing extra. It is sent to ghcr.io only, and only when the config has no login for
//     it, so a login-action login with a personal token still wins.
//   - Any other registry: the user's login must reach the container, and the one way the
//     runner offers is an environment value under $RUNNER_TEMP, which it path-translates
//     (RUNNER_TEMP/docker -> /github/runner_temp/docker). So the README tells users to set
//     DOCKER_CONFIG=$RUNNER_TEMP/docker (through $GITHUB_ENV: `runner.temp` cannot be used
//     in a job-level env) before docker/login-action. Searching mounted directories for a
//     config instead would find nothing: login-action never writes under $RUNNER_TEMP on
//     its own (only with its `scope` input, under ~/.docker/buildx).
func registryAuth(dockerConfigDir, githubToken, actor string) (*builder.RegistryAuth, error) {
	var fallback []builder.Credential
	if githubToken != "" {
		// ghcr.io accepts any username with GITHUB_TOKEN; GITHUB_ACTOR is what GitHub's
		// docs and login-action examples send.
		user := actor
		if user == "" {
			user = "x-access-token"
		}
		fallback = append(fallback, builder.Credential{Host: "ghcr.io", Username: user, Password: githubToken, From: builder.GitHubTokenSource})
	}
	return builder.LoadRegistryAuth(dockerConfigDir, fallback...)
}

// describeRegistryAuth is the log line saying which registries the build can log in to;
// names only, never a credential.
func describeRegistryAuth(a *builder.RegistryAuth) string {
	if a == nil {
		return ""
	}
	hosts := a.Hosts()
	var b strings.Builder
	if len(hosts) == 0 {
		fmt.Fprintf(&b, "Registry login: no credentials in %s/config.json", a.ConfigDir)
	} else {
		fmt.Fprintf(&b, "Registry login: %s/config.json has credentials for %s", a.ConfigDir, strings.Join(hosts, ", "))
	}
	if a.Source("ghcr.io") == builder.GitHubTokenSource {
		b.WriteString("; ghcr.io with github-token")
	}
	return b.String()
}
