package layercache

import (
	"testing"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// The layer cache's gha entries and the mount caches (cacheservice's client) must reach
// the same service with the same protocol on every runner. They used to detect it each
// by its own rules and disagreed on the cases below: BuildKit would then write the layer
// cache through one API and warmbuild the mount caches through the other, or one of them
// talk twirp to act's artifact server.
func TestLayerCacheAndMountCachesPickTheSameCacheService(t *testing.T) {
	const (
		results  = "https://results-receiver.actions.githubusercontent.com/"
		cacheURL = "https://artifactcache.example/abc/"
		actCache = "http://172.17.0.1:34567/"
		actArts  = "http://172.17.0.1:34568/" // act's artifact server, no cache service
	)
	tests := []struct {
		name string
		env  map[string]string
		want cacheservice.Protocol // "" means no service: no gha entries either
	}{
		{"github.com container action", map[string]string{"ACTIONS_RESULTS_URL": results, "ACTIONS_CACHE_URL": cacheURL, "GITHUB_SERVER_URL": "https://github.com"}, cacheservice.ProtocolV2},
		{"act with its cache server", map[string]string{"ACT": "true", "ACTIONS_RESULTS_URL": actArts, "ACTIONS_CACHE_URL": actCache}, cacheservice.ProtocolV1},
		{"act without its cache server: the results URL is its artifact server", map[string]string{"ACT": "true", "ACTIONS_RESULTS_URL": actArts}, ""},
		{"GitHub Enterprise Server", map[string]string{"ACTIONS_RESULTS_URL": "https://ghes.corp.example/results/", "ACTIONS_CACHE_URL": cacheURL, "GITHUB_SERVER_URL": "https://ghes.corp.example"}, cacheservice.ProtocolV1},
		{"GitHub Enterprise Server without ACTIONS_CACHE_URL", map[string]string{"ACTIONS_RESULTS_URL": "https://ghes.corp.example/results/", "GITHUB_SERVER_URL": "https://ghes.corp.example"}, ""},
		{"*.ghe.localhost is not an Enterprise Server (as @actions/cache's isGhes)", map[string]string{"ACTIONS_RESULTS_URL": results, "ACTIONS_CACHE_URL": cacheURL, "GITHUB_SERVER_URL": "https://octo.ghe.localhost"}, cacheservice.ProtocolV2},
		{"ACTIONS_CACHE_SERVICE_V2=false decides nothing", map[string]string{"ACTIONS_RESULTS_URL": results, "ACTIONS_CACHE_URL": cacheURL, "ACTIONS_CACHE_SERVICE_V2": "false"}, cacheservice.ProtocolV2},
		{"ACTIONS_CACHE_SERVICE_V2=true", map[string]string{"ACTIONS_RESULTS_URL": results, "ACTIONS_CACHE_URL": cacheURL, "ACTIONS_CACHE_SERVICE_V2": "true"}, cacheservice.ProtocolV2},
		{"v1 forced with only ACTIONS_RESULTS_URL", map[string]string{"ACTIONS_RESULTS_URL": results, "ACTIONS_CACHE_API_FORCE_VERSION": "v1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["ACTIONS_RUNTIME_TOKEN"] = runtimeToken(t)
			// The mount caches' side: the client cacheservice makes from this environment.
			var mounts cacheservice.Protocol
			if c, err := cacheservice.FromEnv(envOf(tt.env)); err == nil {
				mounts = c.Protocol()
			}
			// The layer cache's side: BuildKit reads version, then url_v2 or url.
			p := NewPlan(planSettings(Settings{Scope: "app", Auto: true}, tt.env), decide(t, "push to main"))
			var layers cacheservice.Protocol
			if len(p.Imports) > 0 && p.Imports[0].Type == BackendGHA {
				switch a := p.Imports[0].Attrs; a["version"] {
				case "2":
					layers = cacheservice.ProtocolV2
				case "1":
					layers = cacheservice.ProtocolV1
				}
			}
			if mounts != tt.want || layers != tt.want {
				t.Fatalf("mount caches speak %q, the layer cache %q (backend %s); want both %q", mounts, layers, p.BackendReason, tt.want)
			}
			if tt.want == "" {
				return
			}
			svc, _ := cacheservice.Detect(envOf(tt.env))
			url := p.Imports[0].Attrs["url"]
			if tt.want == cacheservice.ProtocolV2 {
				url = p.Imports[0].Attrs["url_v2"]
			}
			if url != svc.URL {
				t.Errorf("the layer cache talks to %s, the mount caches to %s", url, svc.URL)
			}
		})
	}
}

// planSettings gives s the runner's environment the way pkg/run does.
func planSettings(s Settings, env map[string]string) Settings { return fromEnv(s, envOf(env)) }
