package run

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// The layers a build creates are gzip at the input's level in the image and in the layer
// cache; an entry that chose its own compression keeps its choice, and exports without
// layers get nothing.
func TestCompressionLevelReachesLayerExportsOnly(t *testing.T) {
	// A push to the default branch, the run that writes the layer cache.
	event := filepath.Join(t.TempDir(), "event.json")
	if err := os.WriteFile(event, []byte(`{"repository":{"default_branch":"main"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := planEnv(t, map[string]string{
		"GITHUB_EVENT_PATH":     event,
		inputs.InputEnv("tags"): "r.example/a:1",
		inputs.InputEnv("outputs"): "type=image,push=true\n" +
			"type=oci,dest=/tmp/a.tar,compression=zstd\n" +
			"type=docker,dest=/tmp/b.tar,compression-level=9\n" +
			"type=local,dest=/tmp/out",
		inputs.InputEnv("cache-backend"):     "registry",
		inputs.InputEnv("cache-ref"):         "r.example/a:buildcache",
		inputs.InputEnv("cache-to"):          "type=inline\ntype=local,dest=/tmp/c,compression=gzip",
		inputs.InputEnv("compression-level"): "3",
	})
	p := mustPlan(t, getenv)
	levels := map[string]string{}
	for _, e := range p.Request.Exports {
		levels["output "+e.Type] = e.Attrs["compression-level"]
	}
	for _, e := range p.Request.CacheExports {
		levels["cache "+e.Type] = e.Attrs["compression-level"]
	}
	want := map[string]string{
		"output image": "3", "output oci": "", "output docker": "9", "output local": "",
		"cache registry": "3", "cache inline": "", "cache local": "3",
	}
	for k, w := range want {
		if got, ok := levels[k]; !ok || got != w {
			t.Errorf("%s: compression-level = %q (present %v), want %q; all: %v", k, got, ok, w, levels)
		}
	}
}

func TestCompressionLevelDefaultsToFastest(t *testing.T) {
	getenv := planEnv(t, map[string]string{inputs.InputEnv("tags"): "r.example/a:1", inputs.InputEnv("push"): "true"})
	p := mustPlan(t, getenv)
	if got := p.Request.Exports[0].Attrs["compression-level"]; got != "1" {
		t.Errorf("pushed image compression-level = %q, want 1", got)
	}
}

// mustPlan parses the inputs getenv holds and plans the run.
func mustPlan(t *testing.T, getenv func(string) string) *Plan {
	t.Helper()
	in, err := inputs.Parse(getenv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(in, runnerenv.Read(getenv))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
