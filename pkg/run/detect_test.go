package run

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// One run detects the cache service once: the mount caches connect (Plan.CacheClient) to
// the service the layer cache's gha entries were made for.
func TestMountCachesConnectToTheServiceTheLayerCacheWasPlannedFor(t *testing.T) {
	claims, _ := json.Marshal(map[string]any{"ac": `[{"Scope":"","Permission":3}]`, "exp": time.Now().Add(time.Hour).Unix(), "nbf": time.Now().Add(-time.Minute).Unix()})
	token := "e30." + base64.RawURLEncoding.EncodeToString(claims) + ".c2ln"
	for name, tt := range map[string]struct {
		env  map[string]string
		want cacheservice.Protocol
	}{
		"act":           {map[string]string{"ACT": "true", "ACTIONS_RESULTS_URL": "http://172.17.0.1:1/", "ACTIONS_CACHE_URL": "http://172.17.0.1:2/"}, cacheservice.ProtocolV1},
		"ghe.localhost": {map[string]string{"ACTIONS_RESULTS_URL": "http://127.0.0.1:1/", "ACTIONS_CACHE_URL": "http://127.0.0.1:2/", "GITHUB_SERVER_URL": "http://octo.ghe.localhost"}, cacheservice.ProtocolV2},
		"no service":    {map[string]string{"ACT": "true", "ACTIONS_RESULTS_URL": "http://172.17.0.1:1/"}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			tt.env["ACTIONS_RUNTIME_TOKEN"] = token
			getenv := planEnv(t, tt.env)
			in, err := inputs.Parse(getenv)
			if err != nil {
				t.Fatal(err)
			}
			p, err := MakePlan(in, runnerenv.Read(getenv))
			if err != nil {
				t.Fatal(err)
			}
			var layers cacheservice.Protocol
			for _, e := range p.LayerCache.Imports {
				if e.Type == "gha" {
					layers = map[string]cacheservice.Protocol{"1": cacheservice.ProtocolV1, "2": cacheservice.ProtocolV2}[e.Attrs["version"]]
				}
			}
			var mounts cacheservice.Protocol
			c, err := p.CacheClient()
			if err == nil {
				mounts = c.Protocol()
			} else if tt.want != "" || !errors.Is(err, cacheservice.ErrNoService) {
				t.Fatalf("CacheClient: %v", err)
			}
			if layers != tt.want || mounts != tt.want {
				t.Errorf("layer cache %q, mount caches %q (%s); want both %q", layers, mounts, p.LayerCache.BackendReason, tt.want)
			}
		})
	}
}
