//go:build e2e

package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// ballastContext is the test app with 100 MB of incompressible bytes added to the pip
// cache on the first run, so the entry spans more ranges (12 of 8 MiB) than the helper
// fetches at once (8): later ranges start after the first ones end.
func ballastContext(t *testing.T, extraRequirements ...string) string {
	t.Helper()
	dir := appContext(t, extraRequirements...)
	dockerfile := "FROM python:3.11-slim\nWORKDIR /app\nCOPY requirements.txt .\n" +
		"RUN --mount=type=cache,target=/root/.cache/pip " +
		"sh -c 'test -e /root/.cache/pip/ballast || head -c 100000000 /dev/urandom > /root/.cache/pip/ballast; pip install -r requirements.txt'\n" +
		"COPY . .\nCMD [\"python\", \"-m\", \"app\"]\n"
	return writeInto(t, dir, "Dockerfile", dockerfile)
}

func writeInto(t *testing.T, dir, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// phaseSeconds reads the phase timings of the job summary ("restore    1.23s ▇▇").
func phaseSeconds(summary string) map[string]float64 {
	out := map[string]float64{}
	for _, m := range regexp.MustCompile(`(?m)^([a-z]+)\s+([0-9.]+)s\b`).FindAllStringSubmatch(summary, -1) {
		if v, err := strconv.ParseFloat(m[2], 64); err == nil {
			out[m[1]] += v
		}
	}
	return out
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Signed storage URLs expire (about 10 minutes on github.com). A restore whose download
// outlives its URL, here one of 2 s and a storage slowed so the download takes longer,
// still succeeds: the in-build helper asks the action for fresh URLs as the old ones
// are refused, and pip finds every package it had.
func TestMountCacheRestoreSurvivesAnExpiredURL(t *testing.T) {
	needStack(t)
	e := &mountCacheEnv{
		srv:      cachetest.StartV2(t, cachetest.V2Options{Scopes: []string{"refs/heads/main"}, ProxyBlobs: true}),
		cacheRef: stackEnv["REGISTRY"] + "/" + uniqueRepo(t, "mc-expiry") + ":buildcache",
	}
	cold := e.run(t, ballastContext(t), false, nil)
	saved := e.mountEntries()
	if len(saved) != 1 || saved[0].Size < 30<<20 {
		t.Fatalf("the cold run must save one entry of over 30 MiB: %+v\n%s", saved, tail(cold.Log, 40))
	}

	e.srv.SetURLLifetime(2 * time.Second)
	e.srv.SetBlobReadRate(3 << 20) // each 8 MiB range takes almost 3 s: the 9th starts after the URL's 2 s
	since := time.Now()
	pr := e.run(t, ballastContext(t, "wb-extra==1.0.0"), true, nil)
	if pr.Outputs["mount-cache-hit"] != "partial" || pr.Outputs["pip-packages-cached"] != "11" || outInt(t, pr, "mount-cache-restored-bytes") != saved[0].Size {
		t.Fatalf("restore with expiring URLs: hit %q, pip cached %s of 12, restored %s of %d bytes\n%s",
			pr.Outputs["mount-cache-hit"], pr.Outputs["pip-packages-cached"], pr.Outputs["mount-cache-restored-bytes"], saved[0].Size, tail(pr.Log, 60))
	}
	if strings.Contains(pr.Log, "streaming it through the session") || strings.Contains(pr.Outputs["cache-warnings"], "mount cache") {
		t.Errorf("the helper should have refreshed its URL in the build, without fallback or warning: warnings %q\n%s", pr.Outputs["cache-warnings"], tail(pr.Log, 60))
	}
	var refused int
	var firstRefusal time.Time
	for _, c := range e.srv.CallsTo(cachetest.GetBlob) {
		if c.At.After(since) && c.Status == http.StatusForbidden {
			if refused == 0 {
				firstRefusal = c.At
			}
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no blob GET was refused: the download did not outlive its URL, the test proves nothing")
	}
	fresh := 0
	for _, c := range e.srv.CallsTo(cachetest.GetCacheEntryDownloadURL) {
		if c.At.After(firstRefusal) {
			fresh++
		}
	}
	if fresh == 0 {
		t.Errorf("%d GETs refused, but no fresh URL asked for after the first", refused)
	}
	t.Logf("%d blob GETs refused as expired, %d fresh URLs, restore of %d bytes", refused, fresh, saved[0].Size)
}

// Storage that refuses connections costs a run its retries, not minutes: the restore
// gives up after one set of retries, the in-build helper is not left waiting, and the
// run is at most about 30 s slower than the same cold run with nothing to restore
// (outside the build step, whose own time varies more than that on a shared machine).
func TestMountCacheUnreachableStorageCostsSecondsNotMinutes(t *testing.T) {
	needStack(t)
	e := &mountCacheEnv{
		srv:      cachetest.StartV2(t, cachetest.V2Options{Scopes: []string{"refs/heads/main"}, RefuseDownloads: true}),
		cacheRef: stackEnv["REGISTRY"] + "/" + uniqueRepo(t, "mc-refused") + ":buildcache",
	}
	// Each run is cold on main, on a fresh builder, with its own empty layer cache; the
	// first finds nothing to restore, the second an entry whose storage refuses.
	coldRun := func(env map[string]string, extra ...string) Result {
		return e.runWith(t, appContext(t, extra...), false, map[string]string{
			"cache-ref": stackEnv["REGISTRY"] + "/" + uniqueRepo(t, "mc-refused-layers") + ":buildcache"}, env)
	}
	cold := coldRun(nil)
	if len(e.mountEntries()) != 1 {
		t.Fatalf("the cold run must save an entry (uploads work): %+v\n%s", e.mountEntries(), tail(cold.Log, 40))
	}
	// In the build first (the helper finds the storage refusing), and streamed through
	// the session from the start, where the helper waits on the action's download.
	// Each adds its own package, so neither is an exact hit on the other's save.
	for mode, pkg := range map[string]string{"": "wb-extra==1.0.0", "stream": "wb-plugin==0.3.0"} {
		refused := coldRun(map[string]string{"WARMBUILD_MOUNT_TRANSFER": mode}, pkg)
		reps := mountReports(t, refused)
		if refused.Outputs["mount-cache-hit"] != "miss" || len(reps) != 1 || reps[0].Injected || !strings.Contains(refused.Outputs["cache-warnings"], "mount cache") {
			t.Errorf("refused storage (transfer %q): want a miss with a warning: hit %q, report %+v, warnings %q", mode, refused.Outputs["mount-cache-hit"], reps, refused.Outputs["cache-warnings"])
		}
		if !strings.Contains(refused.Log, "Building wheel for wb-fastmath") {
			t.Errorf("transfer %q: the pip step should have run cold\n%s", mode, tail(refused.Log, 40))
		}
		phases := phaseSeconds(refused.Summary)
		if restore := phases["restore"] + phases["inject"]; restore > 30 {
			t.Errorf("transfer %q: restore and inject took %.1fs with the storage refusing connections, want at most its retries (~30 s)", mode, restore)
		}
		// The build itself varies by tens of seconds on a shared machine, cold or not:
		// the bound is on the rest of the run, what the cache costs.
		extra := (refused.Elapsed - seconds(phases["build"])) - (cold.Elapsed - seconds(phaseSeconds(cold.Summary)["build"]))
		t.Logf("transfer %q: cold run %s, run with refused storage %s (%+.1fs); phases %v, cold %v", mode,
			cold.Elapsed.Round(time.Second), refused.Elapsed.Round(time.Second), extra.Seconds(), phases, phaseSeconds(cold.Summary))
		if extra > 30*time.Second {
			t.Errorf("transfer %q: the refused storage cost %s over a cold run, outside the build (%s vs %s in all), want at most ~30 s\n%s", mode, extra.Round(time.Second), refused.Elapsed, cold.Elapsed, tail(refused.Log, 60))
		}
	}
}
