//go:build e2e

package e2e

import (
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/tools/goproxy"
)

// Issue 18: Go's module cache (/go/pkg/mod) is found as Go's, carried when mount-caches
// names go (auto keeps Go's caches out), keyed on go.mod/go.sum, and restored on a fresh
// builder: after a go.mod change the module proxy stand-in is asked only for the new
// module. go prints no count of what it had (only "get <url>" under -x for what it
// fetches), so the packages count stays absent.
func TestGoModuleCacheAcrossFreshBuilders(t *testing.T) {
	e := newMountCacheEnv(t)
	left, right, pad := goproxy.Module{Path: "wb.test/left", Version: "v1.0.0"}, goproxy.Module{Path: "wb.test/right", Version: "v1.0.0"},
		goproxy.Module{Path: "wb.test/pad", Version: "v1.0.0"}
	proxy, err := goproxy.Start(left, right, pad)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	ctx := func(mods ...goproxy.Module) string {
		gomod := "module app\n\ngo 1.21\n\nrequire (\n"
		for _, m := range mods {
			gomod += "\t" + m.Path + " " + m.Version + "\n"
		}
		return writeContext(t, map[string]string{
			"go.mod": gomod + ")\n",
			"Dockerfile": "FROM golang-modonly:1.26\nENV GOPROXY=" + proxy.URL + " GOSUMDB=off GOFLAGS=-mod=mod\nWORKDIR /src\nCOPY go.mod ./\n" +
				"RUN --mount=type=cache,target=/go/pkg/mod go mod download -x\n",
		})
	}
	goOnly := map[string]string{"mount-caches": "go"}

	cold := e.run(t, ctx(left, right), false, goOnly)
	reps := mountReports(t, cold)
	if len(reps) != 1 || reps[0].ID != "/go/pkg/mod" || reps[0].Hit != "miss" || len(e.mountEntries()) != 1 {
		t.Fatalf("run 1 (mount-caches: go): want /go/pkg/mod carried, a miss, one entry saved (%d): %+v\n%s", len(e.mountEntries()), reps, tail(cold.Log, 40))
	}
	if !strings.Contains(cold.Outputs["mount-cache-report"], `"ecosystem":"go"`) || strings.Contains(cold.Outputs["mount-cache-report"], `"packages"`) {
		t.Errorf("run 1: want ecosystem go and no packages count: %s", cold.Outputs["mount-cache-report"])
	}
	if n := proxy.ZipRequests(); n != 2 {
		t.Fatalf("run 1: the proxy served %d module zips, want 2: %v", n, proxy.Requests())
	}

	changed := e.run(t, ctx(left, right, pad), false, goOnly)
	reps = mountReports(t, changed)
	if changed.Outputs["mount-cache-hit"] != "partial" || len(reps) != 1 || !reps[0].Injected || reps[0].Key == reps[0].MatchedKey {
		t.Fatalf("run 2 (go.mod changed, fresh builder): want a partial hit, injected: hit %q, %+v\n%s", changed.Outputs["mount-cache-hit"], reps, tail(changed.Log, 40))
	}
	req := proxy.Requests()
	if req[goproxy.ZipPath(left)] != 1 || req[goproxy.ZipPath(right)] != 1 || req[goproxy.ZipPath(pad)] != 1 {
		t.Errorf("run 2: the unchanged modules must come from the carried module cache, only wb.test/pad from the proxy: %v\n%s", req, grepLines(changed.Log, "# get "))
	}
}
