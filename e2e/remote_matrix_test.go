//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// A matrix of jobs on one shared BuildKit with one registry cache repository (issue 20,
// "Load"). Every job is a different image with its own scope, so its cache is its own tag
// in the repository (pkg/layercache registryEntries: <cache tag>-<scope>-<branch>).

const matrixJobs = 4

// matrixContext is job n's small image: the stack's base image and a few RUN steps whose
// output differs per job, so no job's layers can stand in for another's.
func matrixContext(t *testing.T, n int, salt string) string {
	t.Helper()
	return writeContext(t, map[string]string{
		"Dockerfile": "FROM python:3.11-slim\n" +
			"WORKDIR /srv\n" +
			fmt.Sprintf("RUN echo 'service %d %s' > /srv/name\n", n, salt) +
			"RUN python -c \"import hashlib; open('/srv/digest','w').write(hashlib.sha256(open('/srv/name','rb').read()*200000).hexdigest())\"\n" +
			"COPY app.txt /srv/app.txt\n" +
			"RUN cat /srv/name /srv/app.txt /srv/digest > /srv/summary && wc -c /srv/summary\n",
		"app.txt": fmt.Sprintf("app %d\n", n),
	})
}

// matrixRun is one job of the matrix: image e2e/.../svc-N, cache-scope svc-N, one cache-ref.
type matrixRun struct {
	cacheHost string // the registry the cache is pushed through (the stack's, or a counting relay)
	cacheRef  string // cacheHost/<cache repo>:buildcache
	imageRepo func(n int) string
}

func newMatrix(t *testing.T, name, cacheHost string) *matrixRun {
	base := uniqueRepo(t, name)
	return &matrixRun{
		cacheHost: cacheHost,
		cacheRef:  cacheHost + "/" + base + "-cache:buildcache",
		imageRepo: func(n int) string { return fmt.Sprintf("%s/svc-%d", base, n) },
	}
}

// cacheRepo is the cache repository's path in the registry, without host or tag.
func (m *matrixRun) cacheRepo() string {
	return strings.TrimSuffix(strings.TrimPrefix(m.cacheRef, m.cacheHost+"/"), ":buildcache")
}

// cacheTag is the cache of job n's scope on main, repo:tag as the relay counts it.
func (m *matrixRun) cacheTag(n int) string {
	return fmt.Sprintf("%s:buildcache-svc-%d-main", m.cacheRepo(), n)
}

// run is job n on endpoint (tlsDir for mTLS, "" otherwise), a push to main or pull request
// #12. No t.Fatal: it runs in goroutines.
func (m *matrixRun) run(t *testing.T, n int, dir, endpoint, tlsDir string, pr bool) Result {
	in := map[string]string{
		"endpoint": endpoint, "cache-backend": "registry", "cache-ref": m.cacheRef,
		"cache-scope": fmt.Sprintf("svc-%d", n), "provenance": "false",
		"tags": stackEnv["REGISTRY"] + "/" + m.imageRepo(n) + ":1", "push": "true",
	}
	if tlsDir != "" {
		in["endpoint-tls-dir"] = tlsDir
	}
	r := Run{Dir: dir, Inputs: in, Event: "push", Payload: "push-default-branch.json", Env: pushMain}
	if pr {
		in["push"] = "false"
		r.Event, r.Payload, r.Env = "pull_request", "pull_request.json", pr12
	}
	return runAction(t, r)
}

// atOnce runs f(0..n-1) concurrently and returns their results and the wall time.
func atOnce(n int, f func(i int) Result) ([]Result, time.Duration) {
	res := make([]Result, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); res[i] = f(i) }()
	}
	wg.Wait()
	return res, time.Since(start)
}

type regManifest struct {
	Config struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Layers []struct {
		Digest string `json:"digest"`
	} `json:"layers"`
}

// cacheManifests lists the tags of repo whose manifest is a BuildKit cache manifest (image-
// manifest=true: an OCI manifest whose config is application/vnd.buildkit.cacheconfig.v0),
// and checks that every blob each one names is in the registry: a cache a reader can use.
func cacheManifests(t *testing.T, repo string) map[string]regManifest {
	t.Helper()
	var tags struct{ Tags []string }
	if err := json.Unmarshal(registryGet(t, repo, "tags", "list"), &tags); err != nil {
		t.Fatal(err)
	}
	out := map[string]regManifest{}
	for _, tag := range tags.Tags {
		var m regManifest
		if err := json.Unmarshal(registryGet(t, repo, "manifests", tag), &m); err != nil {
			t.Fatalf("%s:%s: %v", repo, tag, err)
		}
		if m.Config.MediaType != "application/vnd.buildkit.cacheconfig.v0" {
			continue
		}
		out[tag] = m
		for _, l := range m.Layers {
			resp, err := http.Head(fmt.Sprintf("http://%s/v2/%s/blobs/%s", stackEnv["REGISTRY"], repo, l.Digest))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("cache %s:%s names blob %s, which the registry does not have (HTTP %d)", repo, tag, l.Digest, resp.StatusCode)
			}
		}
	}
	return out
}

func hitRatio(r Result) float64 {
	f, err := strconv.ParseFloat(r.Outputs["layer-cache-hit-ratio"], 64)
	if err != nil {
		return -1
	}
	return f
}

// Four jobs at once on one remote daemon over mTLS, one registry cache repository, each its
// own scope: every image pushed and every cache written once (one manifest push per scope,
// counted by a relay in front of the registry; one cache manifest per scope, every blob
// present). Then four pull-request runs, each on a fresh daemon, read their own scope.
func TestRemoteConcurrentMatrixOnOneDaemonThenPullRequestsOnFreshDaemons(t *testing.T) {
	needStack(t)
	pk := newPKI(t, "team")
	relay := newManifestCounter(t)
	shared := startTLSDaemon(t, pk, relay.Config())
	m := newMatrix(t, "matrix", relay.Host)
	dirs := make([]string, matrixJobs)
	for i := range dirs {
		dirs[i] = matrixContext(t, i, "v1")
	}

	pushes, took := atOnce(matrixJobs, func(i int) Result {
		return m.run(t, i, dirs[i], shared.Endpoint, shared.PKI.Client, false)
	})
	t.Logf("%d concurrent jobs on one daemon: %.1fs", matrixJobs, took.Seconds())
	for i, r := range pushes {
		if r.ExitCode != 0 {
			t.Fatalf("job %d failed (exit %d):\n%s", i, r.ExitCode, tail(r.Log, 40))
		}
		if d := manifestDigest(t, m.imageRepo(i), "1"); r.Outputs["digest"] != d {
			t.Errorf("job %d: digest output %q, registry has %q", i, r.Outputs["digest"], d)
		}
		if r.Outputs["cache-saved"] != "true" {
			t.Errorf("job %d: cache-saved %q (%s)", i, r.Outputs["cache-saved"], r.Outputs["cache-save-reason"])
		}
	}
	caches := cacheManifests(t, m.cacheRepo())
	for i := range matrixJobs {
		if _, ok := caches[fmt.Sprintf("buildcache-svc-%d-main", i)]; !ok {
			t.Errorf("no cache for scope svc-%d in %s: %v", i, m.cacheRepo(), keys(caches))
		}
	}
	if len(caches) != matrixJobs {
		t.Errorf("want %d caches in %s, one per scope, got %v", matrixJobs, m.cacheRepo(), keys(caches))
	}
	puts := relay.Puts()
	for i := range matrixJobs {
		if n := puts[m.cacheTag(i)]; n != 1 {
			t.Errorf("cache %s written %d times, want once (manifest pushes: %v)", m.cacheTag(i), n, puts)
		}
	}

	// Fresh runners for the pull requests: new daemons with nothing local. The daemons are
	// started here (t.Fatal must not run in the goroutines).
	fresh := make([]*tlsDaemon, matrixJobs)
	for i := range fresh {
		fresh[i] = startTLSDaemon(t, pk, relay.Config())
	}
	prs, took := atOnce(matrixJobs, func(i int) Result {
		return m.run(t, i, dirs[i], fresh[i].Endpoint, pk.Client, true)
	})
	t.Logf("%d concurrent pull-request runs on fresh daemons: %.1fs", matrixJobs, took.Seconds())
	for i, r := range prs {
		if r.ExitCode != 0 {
			t.Fatalf("pull request %d failed (exit %d):\n%s", i, r.ExitCode, tail(r.Log, 40))
		}
		if h := hitRatio(r); h < 0.8 {
			t.Errorf("pull request %d on a fresh daemon: hit ratio %q, want >= 0.8\n%s", i, r.Outputs["layer-cache-hit-ratio"], tail(r.Log, 30))
		}
		own := fmt.Sprintf("%s:buildcache-svc-%d-main", strings.TrimSuffix(m.cacheRef, ":buildcache"), i)
		if !strings.Contains(r.Log, "reads  registry:"+own) && !strings.Contains(r.Log, own) {
			t.Errorf("pull request %d does not read its own scope %s:\n%s", i, own, grepLines(r.Log, "reads"))
		}
	}
	if n := len(cacheManifests(t, m.cacheRepo())); n != matrixJobs {
		t.Errorf("pull requests must not write caches: %d caches now", n)
	}
	for i := range matrixJobs {
		if n := relay.Puts()[m.cacheTag(i)]; n != 1 {
			t.Errorf("after the pull requests, cache %s written %d times, want still once", m.cacheTag(i), n)
		}
	}
}

// Two jobs of the same image and branch at once (a re-run racing the first run, on two
// runners) leave one valid cache: the last export's manifest, every blob it names present,
// and a third run on a fresh daemon has every step cached.
func TestRemoteTwoJobsOfTheSameImageAtOnceLeaveOneValidCache(t *testing.T) {
	needStack(t)
	p := newPKI(t, "team")
	relay := newManifestCounter(t)
	daemons := []*tlsDaemon{startTLSDaemon(t, p, relay.Config()), startTLSDaemon(t, p, relay.Config())}
	m := newMatrix(t, "race", relay.Host)
	// A step whose output differs on every run: the two exports race with different layers.
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM python:3.11-slim\n" +
			"RUN head -c 32 /dev/urandom | od -An -tx1 > /random\n" +
			"RUN cat /random /random > /twice\n" +
			"RUN wc -c /twice\n",
	})
	both, _ := atOnce(2, func(i int) Result { return m.run(t, 0, dir, daemons[i].Endpoint, p.Client, false) })
	for i, r := range both {
		if r.ExitCode != 0 {
			t.Fatalf("job %d failed (exit %d):\n%s", i, r.ExitCode, tail(r.Log, 40))
		}
	}
	// Both exported (else the race did not happen): the last manifest pushed holds the tag.
	if n := relay.Puts()[m.cacheTag(0)]; n != 2 {
		t.Errorf("cache %s written %d times, want 2 (one per racing job)", m.cacheTag(0), n)
	}
	caches := cacheManifests(t, m.cacheRepo())
	if _, ok := caches["buildcache-svc-0-main"]; !ok || len(caches) != 1 {
		t.Fatalf("want one cache, buildcache-svc-0-main, got %v", keys(caches))
	}
	third := m.run(t, 0, dir, startTLSDaemon(t, p, relay.Config()).Endpoint, p.Client, false)
	mustExit0(t, third)
	if third.Outputs["layer-cache-steps-cached"] != third.Outputs["layer-cache-steps-total"] || third.Outputs["layer-cache-steps-total"] == "0" {
		t.Errorf("third run: %s of %s steps cached, want all\n%s", third.Outputs["layer-cache-steps-cached"], third.Outputs["layer-cache-steps-total"], tail(third.Log, 30))
	}
	if third.Outputs["digest"] != both[0].Outputs["digest"] && third.Outputs["digest"] != both[1].Outputs["digest"] {
		t.Errorf("third run rebuilt from cache should give one of the racing jobs' images: %s vs %s / %s", third.Outputs["digest"], both[0].Outputs["digest"], both[1].Outputs["digest"])
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The bench of bench/remote/README.md: 4 jobs at once on one remote daemon against the same 4
// jobs one after another, each mode on a fresh daemon and a new cache repository (no layer
// cache to read). "fresh" daemons have not got the base image yet; "warm" ones built one
// unrelated job first, as a long-lived shared daemon would have. Opt-in: WB_REMOTE_BENCH=N
// runs N rounds of each mode.
func TestRemoteBenchConcurrentVsInARow(t *testing.T) {
	rounds, _ := strconv.Atoi(os.Getenv("WB_REMOTE_BENCH"))
	if rounds <= 0 {
		t.Skip("set WB_REMOTE_BENCH=N to run N rounds of the remote bench")
	}
	needStack(t)
	p := newPKI(t, "bench")
	for round := 1; round <= rounds; round++ {
		for _, mode := range []string{"concurrent-fresh", "in-a-row-fresh", "concurrent-warm", "in-a-row-warm"} {
			d := startTLSDaemon(t, p)
			m := newMatrix(t, "bench-"+mode, stackEnv["REGISTRY"])
			if strings.HasSuffix(mode, "-warm") {
				warmup := newMatrix(t, "bench-warmup", stackEnv["REGISTRY"])
				if r := warmup.run(t, 9, matrixContext(t, 9, fmt.Sprint(time.Now().UnixNano())), d.Endpoint, p.Client, false); r.ExitCode != 0 {
					t.Fatalf("warm-up job failed:\n%s", tail(r.Log, 30))
				}
			}
			dirs := make([]string, matrixJobs)
			for i := range dirs {
				dirs[i] = matrixContext(t, i, fmt.Sprintf("%s-%d-%d", mode, round, time.Now().UnixNano()))
			}
			var res []Result
			var took time.Duration
			if strings.HasPrefix(mode, "concurrent") {
				res, took = atOnce(matrixJobs, func(i int) Result { return m.run(t, i, dirs[i], d.Endpoint, p.Client, false) })
			} else {
				start := time.Now()
				for i := range matrixJobs {
					res = append(res, m.run(t, i, dirs[i], d.Endpoint, p.Client, false))
				}
				took = time.Since(start)
			}
			var jobs []string
			for i, r := range res {
				if r.ExitCode != 0 {
					t.Fatalf("%s job %d failed:\n%s", mode, i, tail(r.Log, 30))
				}
				jobs = append(jobs, fmt.Sprintf("%.1f", r.Elapsed.Seconds()))
			}
			t.Logf("BENCH round=%d mode=%s wall=%.1fs jobs=[%s] load=%s", round, mode, took.Seconds(), strings.Join(jobs, " "), loadAvg())
		}
	}
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], "/")
}
