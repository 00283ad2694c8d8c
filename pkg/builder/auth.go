package builder

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
)

// Credential is a registry login that does not come from the docker config: ghcr.io with
// the step's github-token.
type Credential struct {
	Host     string // as BuildKit names it: "ghcr.io", "registry-1.docker.io", "127.0.0.1:5001"
	Username string
	Password string
	From     string // where it came from, for messages ("github-token")
}

// RegistryAuth is what a build may log in to registries with: the docker CLI's config.json
// in ConfigDir (`auths` entries with a base64 `auth`, or an `identitytoken`), then the
// fallback credentials for hosts the config has nothing for.
//
// On GitHub's runners a container action sees none of the runner user's home: the runner
// gives it HOME=/github/home, the host's $RUNNER_TEMP/_github_home
// (actions/runner src/Runner.Worker/Handlers/ContainerActionHandler.cs), while
// docker/login-action runs `docker login --password-stdin` on the host, which writes
// $DOCKER_CONFIG/config.json or ~/.docker/config.json (docker/login-action src/docker.ts;
// it sets DOCKER_CONFIG only for its `scope` input). What reaches the action is a
// DOCKER_CONFIG under $RUNNER_TEMP, set for the job before login-action: the runner
// translates every environment value of a container action through its mounts, so
// $RUNNER_TEMP/docker arrives as /github/runner_temp/docker.
type RegistryAuth struct {
	ConfigDir string
	// Warnings are what the config asks for that a container action cannot do.
	Warnings []string
	cfg      *configfile.ConfigFile
	fallback map[string]Credential
}

// LoadRegistryAuth reads dockerConfigDir's config.json (a missing file is no credentials).
func LoadRegistryAuth(dockerConfigDir string, fallback ...Credential) (*RegistryAuth, error) {
	cfg, err := config.Load(dockerConfigDir)
	if err != nil {
		return nil, fmt.Errorf("docker config in %s: %w", dockerConfigDir, err)
	}
	a := &RegistryAuth{ConfigDir: dockerConfigDir, cfg: cfg, fallback: map[string]Credential{}}
	// A credential helper is a program (docker-credential-<name>) the docker CLI runs; the
	// action's image holds nothing but warmbuild, so it cannot run one. The registries it
	// serves are then without credentials here; say so rather than fail on exec.
	var helpers []string
	if cfg.CredentialsStore != "" {
		helpers = append(helpers, fmt.Sprintf("credsStore %q", cfg.CredentialsStore))
	}
	hosts := make([]string, 0, len(cfg.CredentialHelpers))
	for h := range cfg.CredentialHelpers {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		helpers = append(helpers, fmt.Sprintf("credHelpers %s: %q", h, cfg.CredentialHelpers[h]))
	}
	if len(helpers) > 0 {
		a.Warnings = append(a.Warnings, fmt.Sprintf("%s names credential helpers (%s); the action's image cannot run docker-credential-* programs, so it uses only the credentials written in the file (docker login writes them there when no helper is configured)", cfg.Filename, strings.Join(helpers, ", ")))
		cfg.CredentialsStore = ""
		cfg.CredentialHelpers = nil
	}
	for _, c := range fallback {
		if c.Host != "" && c.Password != "" {
			a.fallback[c.Host] = c
		}
	}
	return a, nil
}

// Source says where the credentials for host come from, "" when there are none.
func (a *RegistryAuth) Source(host string) string {
	if a == nil {
		return ""
	}
	if ac, err := a.cfg.GetAuthConfig(configKey(host)); err == nil && hasCredentials(ac) {
		return a.cfg.Filename
	}
	if c, ok := a.fallback[host]; ok {
		return c.From
	}
	return ""
}

// Hosts are the registries the config has credentials for, sorted; for messages.
func (a *RegistryAuth) Hosts() []string {
	var hosts []string
	for k, ac := range a.cfg.GetAuthConfigs() {
		if hasCredentials(ac) {
			hosts = append(hosts, k)
		}
	}
	sort.Strings(hosts)
	return slices.Compact(hosts)
}

func (a *RegistryAuth) attachable() session.Attachable {
	fromConfig := authprovider.LoadAuthConfig(a.cfg)
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: func(ctx context.Context, host string, scopes []string, check authprovider.ExpireCachedAuthCheck) (types.AuthConfig, error) {
			return a.lookup(ctx, fromConfig, host, scopes, check)
		},
	})
}

// lookup answers BuildKit's request for host's credentials: the config's, else the
// fallback's.
func (a *RegistryAuth) lookup(ctx context.Context, fromConfig authprovider.AuthConfigProvider, host string, scopes []string, check authprovider.ExpireCachedAuthCheck) (types.AuthConfig, error) {
	ac, err := fromConfig(ctx, host, scopes, check)
	if err != nil || hasCredentials(ac) {
		return ac, err
	}
	if c, ok := a.fallback[host]; ok {
		return types.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: host}, nil
	}
	return ac, nil
}

func hasCredentials(ac types.AuthConfig) bool {
	return ac.Username != "" || ac.Password != "" || ac.IdentityToken != "" || ac.RegistryToken != "" || ac.Auth != ""
}

// configKey is the key config.json uses for a host BuildKit names: Docker Hub's is the old
// index URL (authprovider does the same).
func configKey(host string) string {
	if host == authprovider.DockerHubRegistryHost {
		return authprovider.DockerHubConfigfileKey
	}
	return host
}

// registryAuth serves registry credentials from the docker CLI's config, as docker
// buildx does.
func registryAuth(dockerConfigDir string) (session.Attachable, error) {
	a, err := LoadRegistryAuth(dockerConfigDir)
	if err != nil {
		return nil, err
	}
	return a.attachable(), nil
}
