//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// Issue 18: packages named in the RUN command itself (no requirements file) key the mount
// cache. Adding one to `pip install a b` used to give the same key, an exact hit whose
// injection the fast path skipped, and a cold pip; now it is a partial hit, injected, and
// pip takes the old packages from the cache. The target is written with a variable,
// which pip's counts must see through. An unchanged command still takes the fast path.
func TestDiscoverPackagesInTheCommandKeyTheCache(t *testing.T) {
	e := newMountCacheEnv(t)
	ctx := func(packages string) string {
		return writeContext(t, map[string]string{"Dockerfile": "FROM python:3.11-slim\n" +
			"ARG PIP_CACHE=/root/.cache/pip\n" +
			"RUN --mount=type=cache,target=${PIP_CACHE} pip install --target=/pkgs " + packages + "\n"})
	}
	two := "wb-core==1.1.0 wb-fastmath==1.4.0"
	cold := e.run(t, ctx(two), false, nil)
	if !strings.Contains(cold.Log, "Building wheel for wb-fastmath") || len(e.mountEntries()) != 1 {
		t.Fatalf("run 1 is cold and saves one entry (%d)\n%s", len(e.mountEntries()), tail(cold.Log, 40))
	}
	if cold.Outputs["pip-packages-total"] != "2" {
		t.Errorf("run 1: pip counts %s/%s with a target written as ${PIP_CACHE}", cold.Outputs["pip-packages-cached"], cold.Outputs["pip-packages-total"])
	}

	same := e.run(t, ctx(two), false, nil)
	if reps := mountReports(t, same); same.Outputs["mount-cache-hit"] != "exact" || len(reps) != 1 || reps[0].Injected || reps[0].StepCached == nil || !*reps[0].StepCached {
		t.Errorf("run 2 (same command): the fast path should skip the injection of a step the layer cache holds: hit %q, %+v", same.Outputs["mount-cache-hit"], reps)
	}

	added := e.run(t, ctx(two+" wb-log==0.5.0"), false, nil)
	reps := mountReports(t, added)
	if added.Outputs["mount-cache-hit"] != "partial" || len(reps) != 1 || !reps[0].Injected || reps[0].Key == reps[0].MatchedKey {
		t.Errorf("run 3 (a package added to the command): want a new key, a partial hit, injected: hit %q, %+v", added.Outputs["mount-cache-hit"], reps)
	}
	if strings.Contains(added.Log, "Building wheel for") || added.Outputs["pip-packages-total"] != "3" || added.Outputs["pip-packages-cached"] != "2" {
		t.Errorf("run 3: pip should take the two old packages from the cache and fetch only wb-log: %s/%s\n%s", added.Outputs["pip-packages-cached"], added.Outputs["pip-packages-total"], tail(added.Log, 40))
	}
}
