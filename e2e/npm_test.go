//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/tools/npmreg"
)

// npmReport is the part of a mount-cache-report entry the npm test reads.
type npmReport struct {
	ID         string `json:"id"`
	Hit        string `json:"hit"`
	Injected   bool   `json:"injected"`
	Key        string `json:"key"`
	MatchedKey string `json:"matchedKey"`
	Ecosystem  string `json:"ecosystem"`
	Packages   *struct {
		Total  int `json:"total"`
		Cached int `json:"cached"`
	} `json:"packages"`
}

// Issue 18: npm's cache mount is found by auto (Debian's npm 9 in the stack's
// node:18-bookworm), keyed on package-lock.json, carried to a fresh builder, and counted
// from npm's own output. A lockfile change on a fresh builder is a partial hit: the
// registry stand-in is asked only for the tarball that changed.
func TestNpmMountCacheAcrossFreshBuilders(t *testing.T) {
	e := newMountCacheEnv(t)
	a, b, c, d := npmreg.Package{Name: "wb-left", Version: "1.0.0"}, npmreg.Package{Name: "wb-right", Version: "1.0.0"},
		npmreg.Package{Name: "wb-pad", Version: "1.0.0"}, npmreg.Package{Name: "wb-pad", Version: "2.0.0"}
	reg, err := npmreg.Start(a, b, c, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ctx := func(pkgs ...npmreg.Package) string {
		pj, lock := reg.Lockfile(pkgs...)
		return writeContext(t, map[string]string{
			"package.json": string(pj), "package-lock.json": string(lock),
			"Dockerfile": "FROM node:18-bookworm\nWORKDIR /app\nCOPY package.json package-lock.json ./\n" +
				"RUN --mount=type=cache,target=/root/.npm npm ci --loglevel=http --no-audit --no-fund && node -e \"require('wb-left'); require('wb-pad')\"\n",
		})
	}
	reports := func(r Result) []npmReport {
		t.Helper()
		var reps []npmReport
		if err := json.Unmarshal([]byte(r.Outputs["mount-cache-report"]), &reps); err != nil {
			t.Fatalf("mount-cache-report %q: %v", r.Outputs["mount-cache-report"], err)
		}
		return reps
	}

	cold := e.run(t, ctx(a, b, c), false, nil)
	reps := reports(cold)
	if len(reps) != 1 || reps[0].ID != "/root/.npm" || reps[0].Ecosystem != "npm" || reps[0].Hit != "miss" {
		t.Fatalf("run 1: want auto to carry npm's /root/.npm, a miss: %+v\n%s", reps, tail(cold.Log, 40))
	}
	if len(e.mountEntries()) != 1 {
		t.Fatalf("run 1 saves one npm entry, got %d", len(e.mountEntries()))
	}
	if reps[0].Packages == nil || reps[0].Packages.Total != 3 || reps[0].Packages.Cached != 0 ||
		cold.Outputs["mount-cache-packages-total"] != "3" || cold.Outputs["mount-cache-packages-cached"] != "0" {
		t.Errorf("run 1: want 3 packages, none cached: %+v, outputs %s/%s", reps[0].Packages, cold.Outputs["mount-cache-packages-cached"], cold.Outputs["mount-cache-packages-total"])
	}
	if cold.Outputs["pip-packages-total"] != "0" {
		t.Errorf("run 1: pip counts %s for an npm build", cold.Outputs["pip-packages-total"])
	}
	if n := reg.TarballRequests(); n != 3 {
		t.Fatalf("run 1: the registry served %d tarballs, want 3: %v", n, reg.Requests())
	}

	// wb-pad 1.0.0 -> 2.0.0: a new key (the lockfile changed), the old entry restored.
	changed := e.run(t, ctx(a, b, d), false, nil)
	reps = reports(changed)
	if changed.Outputs["mount-cache-hit"] != "partial" || len(reps) != 1 || !reps[0].Injected || reps[0].Key == reps[0].MatchedKey {
		t.Fatalf("run 2 (lockfile changed, fresh builder): want a partial hit, injected: hit %q, %+v\n%s", changed.Outputs["mount-cache-hit"], reps, tail(changed.Log, 40))
	}
	req := reg.Requests()
	if req[npmreg.TarballPath(a)] != 1 || req[npmreg.TarballPath(b)] != 1 || req[npmreg.TarballPath(d)] != 1 || reg.TarballRequests() != 4 {
		t.Errorf("run 2: the unchanged tarballs must come from the carried cache, only wb-pad 2.0.0 from the registry: %v", req)
	}
	if reps[0].Packages == nil || reps[0].Packages.Total != 3 || reps[0].Packages.Cached != 2 ||
		changed.Outputs["mount-cache-packages-total"] != "3" || changed.Outputs["mount-cache-packages-cached"] != "2" {
		t.Errorf("run 2: want 3 packages, 2 from the cache: %+v, outputs %s/%s\n%s", reps[0].Packages,
			changed.Outputs["mount-cache-packages-cached"], changed.Outputs["mount-cache-packages-total"], grepLines(changed.Log, "npm http", "added "))
	}
	if !strings.Contains(changed.Log, "wb-pad-2.0.0.tgz") {
		t.Errorf("run 2: npm's fetch line for wb-pad 2.0.0 is not in the log")
	}
}
