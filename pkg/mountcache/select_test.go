package mountcache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// selectorOf parses a mount-caches input as pkg/inputs does for the workflow.
func selectorOf(t *testing.T, input string) Selector {
	t.Helper()
	s, err := inputs.ParseMountSelector(input)
	if err != nil {
		t.Fatal(err)
	}
	return Selector{s}
}

func TestSelectPicksMountsOfTheBuiltStages(t *testing.T) {
	dt, err := os.ReadFile(filepath.Join("testdata", "dockerfiles", "multi-stage.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := Discover(dt, Options{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	summary := func(ms []Mount) string {
		var s []string
		for _, m := range ms {
			s = append(s, m.Stage+":"+m.ID)
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct{ input, want, unmatched string }{
		// The test stage (pip-dev, pytest) is not built for the default target.
		{"auto", "builder:/root/.cache/pip runtime:/root/.cache/pip", ""},
		{"all", "builder:/root/.cache/pip runtime:/root/.cache/pip", ""},
		{"none", "", ""},
		{"/root/.cache/pip", "builder:/root/.cache/pip runtime:/root/.cache/pip", ""},
		{"//root/.cache/pip", "builder:/root/.cache/pip runtime:/root/.cache/pip", ""},
		{"pip-dev,/nope", "", "/nope,pip-dev"},
	} {
		got, unmatched := selectorOf(t, tc.input).Select(mounts)
		if summary(got) != tc.want || strings.Join(unmatched, ",") != tc.unmatched {
			t.Errorf("%q selected [%s] unmatched %v, want [%s] unmatched [%s]", tc.input, summary(got), unmatched, tc.want, tc.unmatched)
		}
	}

	// Both RUNs use one BuildKit directory, so one cache entry.
	picked, _ := selectorOf(t, "auto").Select(mounts)
	caches := Caches(picked)
	if len(caches) != 1 || caches[0].CacheID != "//root/.cache/pip" || len(caches[0].Mounts) != 2 {
		t.Errorf("caches: %+v", caches)
	}
}

func TestCachesSeparateDirectoriesWithDifferentOwners(t *testing.T) {
	dockerfile := `FROM alpine
RUN --mount=type=cache,target=/c,uid=1 true
RUN --mount=type=cache,target=/c,uid=1 true
RUN --mount=type=cache,target=/c,uid=2 true
RUN --mount=type=cache,target=/c true
`
	mounts, err := Discover([]byte(dockerfile), Options{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	caches := Caches(mounts)
	if len(caches) != 3 || len(caches[0].Mounts) != 2 {
		t.Errorf("want 3 directories (uid 1 twice, uid 2, no uid), got %+v", caches)
	}
}

func TestAutoSelectionByCommand(t *testing.T) {
	for _, tc := range []struct {
		cmd  string
		tool string
	}{
		{"pip install -r requirements.txt", "pip"},
		{"pip3.12 install x", "pip"},
		{"/opt/venv/bin/pip install x", "pip"},
		{"python -m pip install x", "pip"},
		{"python3.11 -u -m pip install x", "pip"},
		{"python3 -mpip install x", "pip"},
		{"apt-get update && apt-get install -y python3-pip", ""},
		{"echo pip && python -c 'import pip'", ""},
		{"set -e; PIP_NO_CACHE_DIR=0 pip install x", "pip"},
		{"cd /app && uv sync --frozen", "uv"},
		{"sudo -E pip install x", "pip"},
		{"if true; then poetry install; fi", "poetry"},
		{"pipenv install --deploy", "pipenv"},
		{"npm ci", ""},
		{"echo $(pip --version)", "pip"},
	} {
		if got := pythonTool(tc.cmd); got != tc.tool {
			t.Errorf("%q: got %q, want %q", tc.cmd, got, tc.tool)
		}
	}
}
