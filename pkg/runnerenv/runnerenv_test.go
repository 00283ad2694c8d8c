package runnerenv_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// What a container action sees on each kind of runner (actions/runner
// ContainerActionHandler.cs; nektos/act pkg/runner/run_context.go), and what the action
// makes of it.
func TestTheRunnersEnvironmentIsReadOnce(t *testing.T) {
	const results, cacheURL, actCache = "https://results-receiver.actions.githubusercontent.com/", "https://artifactcache.example/abc/", "http://172.17.0.1:34567/"
	tests := []struct {
		name     string
		env      map[string]string
		want     runnerenv.Env
		protocol cacheservice.Protocol // "" means no service (ErrNoService)
		url      string
		docker   string // DockerConfigDir
	}{
		{
			name: "a GitHub-hosted runner",
			env: map[string]string{
				"ACTIONS_RUNTIME_TOKEN": "tok", "ACTIONS_RESULTS_URL": results, "ACTIONS_CACHE_URL": cacheURL,
				"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc", "ACTIONS_CACHE_MODE": "Read",
				"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": "/github/workflow/event.json",
				"GITHUB_REF": "refs/pull/12/merge", "GITHUB_REF_NAME": "12/merge", "GITHUB_REF_TYPE": "branch",
				"GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature", "GITHUB_REPOSITORY": "octo-org/app",
				"GITHUB_ACTOR": "octocat", "GITHUB_API_URL": "https://api.github.com", "GITHUB_SERVER_URL": "https://github.com",
				"RUNNER_TEMP": "/github/runner_temp", "HOME": "/github/home",
				"DOCKER_CONFIG": "/github/runner_temp/docker",
			},
			want: runnerenv.Env{
				Cache:     cacheservice.Vars{ResultsURL: results, CacheURL: cacheURL, Token: "tok", ServerURL: "https://github.com"},
				CacheMode: cachepolicy.AccessRead, IDTokenRequestToken: "oidc",
				GitHub: runnerenv.GitHub{EventName: "pull_request", EventPath: "/github/workflow/event.json",
					Ref: "refs/pull/12/merge", RefName: "12/merge", RefType: "branch", BaseRef: "main", HeadRef: "feature",
					Repository: "octo-org/app", Actor: "octocat", APIURL: "https://api.github.com", ServerURL: "https://github.com"},
				RunnerTemp: "/github/runner_temp", Home: "/github/home", DockerConfig: "/github/runner_temp/docker",
			},
			protocol: cacheservice.ProtocolV2, url: results, docker: "/github/runner_temp/docker",
		},
		{
			name: "nektos/act with its cache server, and the knobs",
			env: map[string]string{
				"ACT": "true", "ACTIONS_CACHE_URL": actCache, "ACTIONS_RESULTS_URL": "http://172.17.0.1:34568/",
				"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main", "GITHUB_REPOSITORY": "octo-org/app",
				"HOME": "/root", "DOCKER_HOST": "unix:///var/run/docker.sock",
				"WARMBUILD_MOUNT_TRANSFER": "stream", "WARMBUILD_BUILDER_NETWORK": "bridge", "WARMBUILD_BUILDER_SECURITY": "unconfined",
			},
			want: runnerenv.Env{
				Cache:  cacheservice.Vars{ResultsURL: "http://172.17.0.1:34568/", CacheURL: actCache, Act: true},
				GitHub: runnerenv.GitHub{EventName: "push", Ref: "refs/heads/main", Repository: "octo-org/app"},
				Home:   "/root", DockerHost: "unix:///var/run/docker.sock",
				MountTransfer: "stream", BuilderNetwork: "bridge", BuilderSecurity: "unconfined",
			},
			protocol: cacheservice.ProtocolV1, url: actCache, docker: filepath.Join("/root", ".docker"),
		},
		{
			name: "GitHub Enterprise Server",
			env: map[string]string{
				"ACTIONS_RUNTIME_TOKEN": "tok", "ACTIONS_RESULTS_URL": "https://ghes.corp.example/results/", "ACTIONS_CACHE_URL": cacheURL,
				"GITHUB_SERVER_URL": "https://ghes.corp.example", "GITHUB_API_URL": "https://ghes.corp.example/api/v3",
				"ACTIONS_CACHE_MODE": "sometimes",
			},
			want: runnerenv.Env{
				Cache:     cacheservice.Vars{ResultsURL: "https://ghes.corp.example/results/", CacheURL: cacheURL, Token: "tok", ServerURL: "https://ghes.corp.example"},
				CacheMode: cachepolicy.AccessNone, CacheModeWarning: `ACTIONS_CACHE_MODE="sometimes" is not a cache mode (none, read, write or write-only); caches are neither read nor written`,
				GitHub: runnerenv.GitHub{APIURL: "https://ghes.corp.example/api/v3", ServerURL: "https://ghes.corp.example"},
			},
			protocol: cacheservice.ProtocolV1, url: cacheURL,
		},
		{name: "no runner", env: map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := runnerenv.Read(envOf(tt.env))
			if !reflect.DeepEqual(e, tt.want) {
				t.Errorf("Read\n got  %+v\n want %+v", e, tt.want)
			}
			svc, err := e.CacheService()
			if tt.protocol == "" {
				if !errors.Is(err, cacheservice.ErrNoService) {
					t.Errorf("CacheService = %+v, %v; want ErrNoService", svc, err)
				}
			} else if err != nil || svc.Protocol != tt.protocol || svc.URL != tt.url {
				t.Errorf("CacheService = %+v, %v; want %s at %s", svc, err, tt.protocol, tt.url)
			}
			if got := e.DockerConfigDir(); got != tt.docker {
				t.Errorf("DockerConfigDir = %q, want %q", got, tt.docker)
			}
			if got, want := e.StreamMounts(), tt.env["WARMBUILD_MOUNT_TRANSFER"] == "stream"; got != want {
				t.Errorf("StreamMounts = %v, want %v", got, want)
			}
			pin := e.PolicyInput()
			if pin.EventName != tt.env["GITHUB_EVENT_NAME"] || pin.Ref != tt.env["GITHUB_REF"] || pin.HeadRef != tt.env["GITHUB_HEAD_REF"] ||
				pin.Repository != tt.env["GITHUB_REPOSITORY"] || pin.Access != tt.want.CacheMode || pin.AccessWarning != tt.want.CacheModeWarning {
				t.Errorf("PolicyInput = %+v, does not carry the GITHUB_* variables and the cache mode", pin)
			}
			// The same answers cachepolicy gives from the environment itself.
			fromEnv, err := cachepolicy.InputFromEnv(envOf(tt.env), nil)
			if err != nil || !reflect.DeepEqual(fromEnv, pin) {
				t.Errorf("PolicyInput %+v differs from cachepolicy.InputFromEnv %+v (%v)", pin, fromEnv, err)
			}
		})
	}
}

// Tokens are masked before anything is printed; an empty one is not a secret.
func TestSecretsAreTheRunnersTokens(t *testing.T) {
	e := runnerenv.Read(envOf(map[string]string{"ACTIONS_RUNTIME_TOKEN": "tok", "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "oidc", "GITHUB_REPOSITORY": "o/r"}))
	if got := e.Secrets(); !reflect.DeepEqual(got, []string{"tok", "oidc"}) {
		t.Errorf("Secrets = %q, want both tokens", got)
	}
	if got := runnerenv.Read(envOf(nil)).Secrets(); len(got) != 0 {
		t.Errorf("no runner: Secrets = %q, want none", got)
	}
}

// Every knob outside `with:` is documented in README's Environment section.
func TestREADMEDocumentsEveryKnob(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n## Environment\n")
	if !ok {
		t.Fatal(`README.md has no "## Environment" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	for _, k := range []string{runnerenv.EnvMountTransfer, runnerenv.EnvBuilderSecurity, runnerenv.EnvBuilderNetwork, runnerenv.EnvLayerAccel} {
		if !strings.Contains(section, "`"+k) {
			t.Errorf("README's Environment section does not document %s", k)
		}
	}
}
