//go:build e2e

package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/tools/aptrepo"
)

// Issue 18: apt's archive cache (/var/cache/apt, Debian's apt in the stack's
// python:3.11-slim) is found as apt's, carried when mount-caches names apt (auto leaves
// it out), keyed on the RUN command (apt has no key files), and counted from apt-get's own
// summary and Get lines. A repository stand-in on 127.0.0.1 (tools/aptrepo) takes the
// place of a Debian mirror. Adding a package to the command on a fresh builder is a
// partial hit: the stand-in is asked only for the new package's archive.
func TestAptArchiveCacheAcrossFreshBuilders(t *testing.T) {
	e := newMountCacheEnv(t)
	a, b, c, d := aptrepo.Package{Name: "wb-left", Version: "1.0"}, aptrepo.Package{Name: "wb-right", Version: "1.0"},
		aptrepo.Package{Name: "wb-pad", Version: "1.0"}, aptrepo.Package{Name: "wb-more", Version: "1.0"}
	repo, err := aptrepo.Start(a, b, c, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { repo.Close() })
	ctx := func(pkgs ...aptrepo.Package) string {
		var names []string
		for _, p := range pkgs {
			names = append(names, p.Name)
		}
		return writeContext(t, map[string]string{
			"Dockerfile": "FROM python:3.11-slim\n" +
				"RUN echo '" + repo.SourcesLine() + "' > /etc/apt/sources.list && rm -rf /etc/apt/sources.list.d/* /etc/apt/apt.conf.d/docker-clean\n" +
				"RUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update && apt-get install -y " + strings.Join(names, " ") +
				" && cat /usr/share/wb-left/version\n",
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

	aptOnly := map[string]string{"mount-caches": "apt"}
	cold := e.run(t, ctx(a, b, c), false, aptOnly)
	reps := reports(cold)
	if len(reps) != 1 || reps[0].ID != "/var/cache/apt" || reps[0].Ecosystem != "apt" || reps[0].Hit != "miss" || len(e.mountEntries()) != 1 {
		t.Fatalf("run 1 (mount-caches: apt): want /var/cache/apt carried, a miss, one entry (%d): %+v\n%s", len(e.mountEntries()), reps, tail(cold.Log, 40))
	}
	if n := repo.DebRequests(); n != 3 {
		t.Fatalf("run 1: the repository served %d archives, want 3: %v", n, repo.Requests())
	}
	if reps[0].Packages == nil || reps[0].Packages.Total != 3 || reps[0].Packages.Cached != 0 ||
		cold.Outputs["mount-cache-packages-total"] != "3" || cold.Outputs["mount-cache-packages-cached"] != "0" {
		t.Errorf("run 1: want 3 packages, none cached: %+v\n%s", reps[0].Packages, grepLines(cold.Log, "newly installed", "Get:"))
	}

	// One package more: a new key (the command changed), the old entry restored.
	changed := e.run(t, ctx(a, b, c, d), false, aptOnly)
	reps = reports(changed)
	if changed.Outputs["mount-cache-hit"] != "partial" || len(reps) != 1 || !reps[0].Injected || reps[0].Key == reps[0].MatchedKey {
		t.Fatalf("run 2 (a package added, fresh builder): want a partial hit, injected: hit %q, %+v\n%s", changed.Outputs["mount-cache-hit"], reps, tail(changed.Log, 40))
	}
	req := repo.Requests()
	if req[aptrepo.DebPath(a)] != 1 || req[aptrepo.DebPath(b)] != 1 || req[aptrepo.DebPath(c)] != 1 || req[aptrepo.DebPath(d)] != 1 {
		t.Errorf("run 2: the three archives of run 1 must come from the carried cache, only wb-more from the repository: %v", req)
	}
	if reps[0].Packages == nil || reps[0].Packages.Total != 4 || reps[0].Packages.Cached != 3 ||
		changed.Outputs["mount-cache-packages-total"] != "4" || changed.Outputs["mount-cache-packages-cached"] != "3" {
		t.Errorf("run 2: want 4 packages, 3 from the cache: %+v\n%s", reps[0].Packages, grepLines(changed.Log, "newly installed", "Need to get", "Get:"))
	}
}
