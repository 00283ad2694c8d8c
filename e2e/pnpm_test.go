//go:build e2e

package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/tools/npmreg"
)

// jsMountCase is one JavaScript package manager's mount cache carried across fresh
// builders: its Dockerfile for a lockfile, and the mount auto should find.
type jsMountCase struct {
	eco, id  string
	lockfile func(reg *npmreg.Registry, pkgs ...npmreg.Package) (files map[string]string)
	run      string // the last instructions, with %REGISTRY% for the stand-in's URL
	counts   bool   // the tool's output counts its cache hits
}

// runJSMountCase: a cold run on a fresh builder saves the mount; a lockfile change
// (wb-pad 1.0.0 -> 2.0.0) on another fresh builder is a partial hit, the registry
// stand-in is asked for wb-pad 2.0.0's tarball only (and for no metadata: the lockfile
// says it all), and, when the tool counts, mount-cache-packages-cached/total and the
// report's packages show its own count.
func runJSMountCase(t *testing.T, c jsMountCase) {
	e := newMountCacheEnv(t)
	a, b, p1, p2 := npmreg.Package{Name: "wb-left", Version: "1.0.0"}, npmreg.Package{Name: "wb-right", Version: "1.0.0"},
		npmreg.Package{Name: "wb-pad", Version: "1.0.0"}, npmreg.Package{Name: "wb-pad", Version: "2.0.0"}
	reg, err := npmreg.Start(a, b, p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	ctx := func(pkgs ...npmreg.Package) string {
		files := c.lockfile(reg, pkgs...)
		var names []string
		for n := range files {
			names = append(names, n)
		}
		slices.Sort(names)
		files["Dockerfile"] = "FROM node:18-bookworm\nWORKDIR /app\nCOPY " + strings.Join(names, " ") + " ./\n" +
			strings.ReplaceAll(c.run, "%REGISTRY%", reg.URL) + " && node -e \"require('wb-left'); require('wb-pad')\"\n"
		return writeContext(t, files)
	}
	reports := func(r Result) []npmReport {
		t.Helper()
		var reps []npmReport
		if err := json.Unmarshal([]byte(r.Outputs["mount-cache-report"]), &reps); err != nil {
			t.Fatalf("mount-cache-report %q: %v", r.Outputs["mount-cache-report"], err)
		}
		return reps
	}
	metadata := func() []string {
		var out []string
		for p := range reg.Requests() {
			if strings.HasPrefix(p, "/wb-") && !strings.HasSuffix(p, ".tgz") {
				out = append(out, p)
			}
		}
		return out
	}

	cold := e.run(t, ctx(a, b, p1), false, nil)
	reps := reports(cold)
	if len(reps) != 1 || reps[0].ID != c.id || reps[0].Ecosystem != c.eco || reps[0].Hit != "miss" {
		t.Fatalf("run 1: want auto to carry %s's %s, a miss: %+v\n%s", c.eco, c.id, reps, tail(cold.Log, 40))
	}
	if len(e.mountEntries()) != 1 {
		t.Fatalf("run 1 saves one %s entry, got %d", c.eco, len(e.mountEntries()))
	}
	if n := reg.TarballRequests(); n != 3 {
		t.Fatalf("run 1: the registry served %d tarballs, want 3: %v", n, reg.Requests())
	}
	if c.counts && (reps[0].Packages == nil || reps[0].Packages.Total != 3 || reps[0].Packages.Cached != 0 ||
		cold.Outputs["mount-cache-packages-total"] != "3" || cold.Outputs["mount-cache-packages-cached"] != "0") {
		t.Errorf("run 1: want 3 packages, none cached: %+v, outputs %s/%s\n%s", reps[0].Packages,
			cold.Outputs["mount-cache-packages-cached"], cold.Outputs["mount-cache-packages-total"], grepLines(cold.Log, "Progress:"))
	}

	changed := e.run(t, ctx(a, b, p2), false, nil)
	reps = reports(changed)
	if changed.Outputs["mount-cache-hit"] != "partial" || len(reps) != 1 || !reps[0].Injected || reps[0].Key == reps[0].MatchedKey {
		t.Fatalf("run 2 (lockfile changed, fresh builder): want a partial hit, injected: hit %q, %+v\n%s", changed.Outputs["mount-cache-hit"], reps, tail(changed.Log, 40))
	}
	req := reg.Requests()
	if req[npmreg.TarballPath(a)] != 1 || req[npmreg.TarballPath(b)] != 1 || req[npmreg.TarballPath(p2)] != 1 || reg.TarballRequests() != 4 {
		t.Errorf("run 2: the unchanged tarballs must come from the carried %s cache, only wb-pad 2.0.0 from the registry: %v", c.eco, req)
	}
	if md := metadata(); len(md) != 0 {
		t.Errorf("the frozen lockfile names every tarball, yet %s asked for metadata: %v", c.eco, md)
	}
	if !c.counts {
		if reps[0].Packages != nil {
			t.Errorf("run 2: %s prints no cache count, yet the report has %+v", c.eco, reps[0].Packages)
		}
		return
	}
	if reps[0].Packages == nil || reps[0].Packages.Total != 3 || reps[0].Packages.Cached != 2 ||
		changed.Outputs["mount-cache-packages-total"] != "3" || changed.Outputs["mount-cache-packages-cached"] != "2" {
		t.Errorf("run 2: want 3 packages, 2 from the store: %+v, outputs %s/%s\n%s", reps[0].Packages,
			changed.Outputs["mount-cache-packages-cached"], changed.Outputs["mount-cache-packages-total"], grepLines(changed.Log, "Progress:"))
	}
	if changed.Outputs["pip-packages-total"] != "0" {
		t.Errorf("run 2: pip counts %s for a %s build", changed.Outputs["pip-packages-total"], c.eco)
	}
}

// Issue 18: pnpm's store, mounted as pnpm's own Docker docs do (ENV PNPM_HOME=/pnpm,
// id=pnpm, target=/pnpm/store), is found by auto (pnpm 10 in the stack's node image),
// keyed on pnpm-lock.yaml, carried to a fresh builder and counted from pnpm's "reused".
func TestPnpmMountCacheAcrossFreshBuilders(t *testing.T) {
	runJSMountCase(t, jsMountCase{
		eco: "pnpm", id: "pnpm", counts: true,
		lockfile: func(reg *npmreg.Registry, pkgs ...npmreg.Package) map[string]string {
			pj, lock := reg.PnpmLockfile(pkgs...)
			return map[string]string{"package.json": string(pj), "pnpm-lock.yaml": string(lock)}
		},
		run: "ENV PNPM_HOME=/pnpm\nRUN --mount=type=cache,id=pnpm,target=/pnpm/store pnpm install --frozen-lockfile --registry=%REGISTRY%/",
	})
}

// Issue 18: yarn 1's cache as root (/usr/local/share/.cache/yarn, not /root) is found by
// auto, keyed on yarn.lock and carried; yarn prints no count, so none is reported.
func TestYarnMountCacheAcrossFreshBuilders(t *testing.T) {
	runJSMountCase(t, jsMountCase{
		eco: "yarn", id: "/usr/local/share/.cache/yarn",
		lockfile: func(reg *npmreg.Registry, pkgs ...npmreg.Package) map[string]string {
			pj, lock := reg.YarnLockfile(pkgs...)
			return map[string]string{"package.json": string(pj), "yarn.lock": string(lock)}
		},
		run: "RUN --mount=type=cache,target=/usr/local/share/.cache/yarn yarn install --frozen-lockfile --non-interactive --no-progress",
	})
}
