//go:build bench

// Package scenarios times whole pipelines the way a user would choose a build action: wall
// time of a default-branch push on a fresh runner (a new buildkitd state directory), with
// the GitHub Actions cache service (the v2 test server over Azurite) as the only cache
// store, for four scenarios (cold, warm with no change, requirements changed, code
// changed) and three ways of building testdata/app (plain build-push-action with the gha
// layer cache, plus the cache dance, and warmbuild with its defaults). See README.md.
//
//	go test -tags bench -run TestScenarios -v -timeout 60m ./bench/scenarios
package scenarios

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/internal/netmodel"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/report"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// The three ways of building, and the four scenarios, in report order.
const (
	wayPlain     = "plain"
	wayDance     = "dance"
	wayWarmbuild = "warmbuild"

	scenCold = "cold"
	scenWarm = "warm, no change"
	scenReqs = "requirements changed"
	scenCode = "code changed"
)

var (
	allWays      = []string{wayPlain, wayDance, wayWarmbuild}
	allScenarios = []string{scenCold, scenWarm, scenReqs, scenCode}
)

// settings are read from the environment so a shorter or partial run needs no edit.
type settings struct {
	// profiles are the networks between the runner and the cache (internal/netmodel),
	// each run in full (every variant, repetition and way) before the next.
	profiles  []netmodel.Profile
	variants  []string       // app, heavy
	reps      map[string]int // repetitions per variant
	ways      []string
	scenarios []string
	keepLogs  bool
	outDir    string // where latest.json and latest.md go
	// runnerDisk is where each run's runner lives (daemon state, the action's and the
	// dance's temporary files): tmpfs (default) or disk.
	runnerDisk string
}

func readSettings(root string) (settings, error) {
	s := settings{
		variants:   splitList(os.Getenv("WB_BENCH_VARIANTS"), []string{"app", "heavy"}),
		reps:       map[string]int{"app": envInt("WB_BENCH_REPS", 3), "heavy": envInt("WB_BENCH_HEAVY_REPS", 5)},
		ways:       splitList(os.Getenv("WB_BENCH_WAYS"), allWays),
		scenarios:  allScenarios,
		keepLogs:   os.Getenv("WB_BENCH_KEEP") == "1",
		outDir:     filepath.Join(root, "bench/scenarios/results"),
		runnerDisk: "tmpfs",
	}
	if os.Getenv("WB_BENCH_RUNNER_DISK") == "disk" {
		s.runnerDisk = "disk"
	}
	if v := os.Getenv("WB_BENCH_SCENARIOS"); v != "" {
		s.scenarios = nil
		for _, name := range splitList(v, nil) {
			for _, sc := range allScenarios {
				if strings.HasPrefix(sc, name) {
					s.scenarios = append(s.scenarios, sc)
				}
			}
		}
	}
	if v := os.Getenv("WB_BENCH_OUT"); v != "" {
		s.outDir = v
	}
	for _, name := range splitList(os.Getenv("WB_BENCH_PROFILE"), []string{netmodel.Loopback.Name}) {
		p, err := netmodel.ByName(name)
		if err != nil {
			return s, fmt.Errorf("WB_BENCH_PROFILE: %w", err)
		}
		s.profiles = append(s.profiles, p)
	}
	return s, nil
}

func splitList(v string, def []string) []string {
	if strings.TrimSpace(v) == "" {
		return def
	}
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// runResult is one measured run.
type runResult struct {
	Profile  string             `json:"profile"` // the network model's profile (internal/netmodel)
	Variant  string             `json:"variant"`
	Scenario string             `json:"scenario"`
	Way      string             `json:"way"`
	Rep      int                `json:"rep"`
	Wall     float64            `json:"wall"`  // seconds, process start to exit
	Solve    float64            `json:"solve"` // seconds of the main BuildKit solve
	Phases   map[string]float64 `json:"phases"`
	// Overlapped phases ran alongside the build's export, so they are not part of wall
	// time on top of the solve (warmbuild extracts and saves mount caches then).
	Overlapped  map[string]bool `json:"overlapped,omitempty"`
	Up          int64           `json:"bytesUp"`   // to the cache store
	Down        int64           `json:"bytesDown"` // from the cache store
	MaxRSSKiB   int64           `json:"maxRssKiB"`
	StepsCached int             `json:"stepsCached"`
	StepsTotal  int             `json:"stepsTotal"`
	PipCached   int             `json:"pipCached"`
	PipTotal    int             `json:"pipTotal"`
	MountHit    string          `json:"mountHit,omitempty"`
	// Machine is what else the machine did during the run (deliverable 0 of issue 16).
	Machine conditions `json:"machine"`
}

// bench is one invocation: the stack, the action binary and the results so far.
type bench struct {
	t         *testing.T
	cfg       settings
	root      string
	work      string
	runs      string // parent of the runners' directories (see settings.runnerDisk)
	binary    string
	source    string          // commit the binary was built from
	utility   string          // the dance's utility image
	relay     *netmodel.Relay // between everyone and the blob storage; counts the bytes
	profile   netmodel.Profile
	fronts    map[*cachetest.V2Server]string // the cache services' twirp fronts behind relays
	token     string
	registry  string
	heavyURL  string
	stackEnv  []string
	started   time.Time
	loadStart string
	results   []runResult
	serial    int
}

func TestScenarios(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
	cfg, err := readSettings(root)
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{t: t, cfg: cfg, root: root, started: time.Now(), loadStart: loadAvg()}
	b.setUp()
	t.Logf("profiles %v, variants %v, repetitions %v, ways %v, scenarios %q; work dir %s, runners on %s in %s", b.cfg.profiles, b.cfg.variants, b.cfg.reps, b.cfg.ways, b.cfg.scenarios, b.work, b.cfg.runnerDisk, b.runs)

	bases := map[string]string{}
	for _, variant := range b.cfg.variants {
		bases[variant] = b.baseContext(variant)
	}
	// Every way runs under the same profile in the same run; a profile is done in full
	// before the next, so a table's columns were all measured over the same network.
	for _, profile := range b.cfg.profiles {
		b.profile = profile
		b.relay.SetProfile(profile)
		b.progress("network profile %v", profile)
		for _, variant := range b.cfg.variants {
			for rep := 1; rep <= b.cfg.reps[variant]; rep++ {
				// Rotate the order of the ways so none always runs first after a pause.
				for i := range b.cfg.ways {
					way := b.cfg.ways[(i+rep-1)%len(b.cfg.ways)]
					b.cell(variant, bases[variant], rep, way)
				}
			}
		}
	}
	b.writeResults(true)
}

func (b *bench) setUp() {
	t := b.t
	for _, name := range []string{"BUILDKIT_BIN_DIR", "BUILDKITD_CONFIG", "REGISTRY", "PYPI_HEAVY_URL", "AZURITE_BLOB_URL"} {
		v := cachetest.StackValue(name)
		if v == "" {
			cachetest.StackUnavailable(t, "the local stack has no %s", name)
		}
		b.stackEnv = append(b.stackEnv, name+"="+v)
	}
	b.registry = cachetest.StackValue("REGISTRY")
	b.heavyURL = cachetest.StackValue("PYPI_HEAVY_URL")
	cachetest.FindAzurite(t) // skips (or fails under WARMBUILD_REQUIRE_STACK=1) when Azurite is down
	b.checkRegistryDisk()

	// Every blob goes through the network model's relay, which also counts the bytes:
	// the v2 server signs URLs for it, so whoever moves a blob (the action, the dance's
	// steps, BuildKit's gha backend inside buildkitd) goes over the profile's network.
	az, err := url.Parse(cachetest.StackValue("AZURITE_BLOB_URL"))
	if err != nil {
		t.Fatal(err)
	}
	b.relay, err = netmodel.Start(az.Host, b.cfg.profiles[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.relay.Close() })
	t.Setenv("AZURITE_BLOB_URL", "http://"+b.relay.Addr()+az.Path)

	b.work = t.TempDir()
	if b.cfg.keepLogs {
		if b.work, err = os.MkdirTemp("", "wb-scenarios-"); err != nil {
			t.Fatal(err)
		}
	}
	b.runs = b.runnersDir()
	b.binary, b.source = b.buildBinary()
	b.utility = b.busyboxImage()
	b.token = runtimeToken("refs/heads/main")
}

// progress prints a line at once (go test -v streams t.Logf, but only per test).
func (b *bench) progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[%6.0fs] %s\n", time.Since(b.started).Seconds(), fmt.Sprintf(format, args...))
}

// baseContext copies testdata/app; the heavy variant adds 15 wheels of 22 MB each
// (testdata/pypkgs/heavy.json) and points pip at the heavy index.
func (b *bench) baseContext(variant string) string {
	dir := filepath.Join(b.work, "base-"+variant)
	copyTree(b.t, filepath.Join(b.root, "testdata/app"), dir)
	if variant == "heavy" {
		var reqs strings.Builder
		for i := 1; i <= 15; i++ {
			fmt.Fprintf(&reqs, "wb-heavy-%02d==1.0.0\n", i)
		}
		appendFile(b.t, filepath.Join(dir, "requirements.txt"), reqs.String())
		df := filepath.Join(dir, "Dockerfile")
		data, err := os.ReadFile(df)
		if err != nil {
			b.t.Fatal(err)
		}
		from, rest, _ := strings.Cut(string(data), "\n")
		heavy := from + "\nENV PIP_INDEX_URL=" + b.heavyURL + "\n" + rest
		if err := os.WriteFile(df, []byte(heavy), 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	return dir
}

// scenarioContext is the commit a scenario's measured run builds.
func (b *bench) scenarioContext(base, scenario string, rep int, way string) string {
	b.serial++
	dir := filepath.Join(b.work, fmt.Sprintf("ctx-%d", b.serial))
	copyTree(b.t, base, dir)
	switch scenario {
	case scenReqs:
		appendFile(b.t, filepath.Join(dir, "requirements.txt"), "wb-extra==1.0.0\n")
	case scenCode:
		appendFile(b.t, filepath.Join(dir, "app/__main__.py"), fmt.Sprintf("\nBENCH_EDIT = %q\n", fmt.Sprintf("%s rep %d", way, rep)))
	}
	return dir
}

// cell runs every scenario of one way in one repetition, each on a fresh daemon. The cold
// run is a push to the default branch from nothing, and it is the seed of the others.
//
// By default the other scenarios then run one after another against the same cache
// server, in an order that leaves each one the state the seed left: warm (saves nothing
// new), code changed (adds only the layer of the edited COPY; the mount caches hit
// exactly and are not saved), requirements changed (misses from COPY requirements.txt on,
// whichever index it reads). WB_BENCH_ISOLATE=clone gives each scenario its own copy of
// the seed's entries instead: the same numbers, and much slower with the heavy variant,
// as Azurite copies about 20 MB/s.
func (b *bench) cell(variant, base string, rep int, way string) {
	t := b.t
	tag := fmt.Sprintf("%s/bench/%s-%s-%s-%d-r%d:latest", b.registry, b.profile.Name, variant, way, b.started.Unix(), rep)
	seed := cachetest.StartV2(t, cachetest.V2Options{Token: b.token, Scopes: []string{"refs/heads/main"}})
	defer seed.Close()

	cold := b.measure(variant, scenCold, rep, way, seed, base, tag)
	if b.selected(scenCold) {
		b.results = append(b.results, cold)
	}
	clone := os.Getenv("WB_BENCH_ISOLATE") == "clone"
	for _, scen := range []string{scenWarm, scenCode, scenReqs} {
		if !b.selected(scen) {
			continue
		}
		srv := seed
		if clone {
			srv = b.cloneServer(seed)
		}
		r := b.measure(variant, scen, rep, way, srv, b.scenarioContext(base, scen, rep, way), tag)
		if clone {
			srv.Close()
		}
		b.results = append(b.results, r)
	}
	// After every cell, so a failure later still leaves the numbers so far.
	b.writeResults(false)
}

// serviceFront is the URL of srv's twirp front behind a relay of the current profile: on
// GitHub the cache service's API is as far from the runner as its storage, and every
// lookup, reservation and finalize costs a round trip.
func (b *bench) serviceFront(srv *cachetest.V2Server) string {
	if b.fronts == nil {
		b.fronts = map[*cachetest.V2Server]string{}
	}
	key := srv
	if u, ok := b.fronts[key]; ok {
		return u
	}
	u, err := url.Parse(srv.URL())
	if err != nil {
		b.t.Fatal(err)
	}
	r, err := netmodel.Start(u.Host, b.profile)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { r.Close() })
	u.Host = r.Addr()
	b.fronts[key] = u.String()
	return b.fronts[key]
}

func (b *bench) selected(scen string) bool {
	for _, s := range b.cfg.scenarios {
		if s == scen {
			return true
		}
	}
	return false
}

// cloneServer copies every entry of src into a new server, so a scenario starts from the
// seed's state without seeing what another scenario saved.
func (b *bench) cloneServer(src *cachetest.V2Server) *cachetest.V2Server {
	t := b.t
	dst := cachetest.StartV2(t, cachetest.V2Options{Token: b.token, Scopes: []string{"refs/heads/main"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	svc, err := cacheservice.FromEnv(src.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range src.Entries() {
		if !e.Finalized {
			continue
		}
		found, err := svc.Restore(ctx, e.Key, nil, e.Version)
		if err != nil || found == nil || !found.Exact {
			t.Fatalf("clone cache entry %s: found %v, %v", e.Key, found, err)
		}
		rc := found.Open(ctx)
		_, err = dst.Seed(ctx, cachetest.SeedEntry{Key: e.Key, Version: e.Version, Scope: e.Scope, CreatedAt: e.CreatedAt}, rc)
		rc.Close()
		if err != nil {
			t.Fatalf("clone cache entry %s: %v", e.Key, err)
		}
	}
	return dst
}

// measure runs one way on a fresh buildkitd against srv and returns what it cost.
func (b *bench) measure(variant, scen string, rep int, way string, srv *cachetest.V2Server, ctxDir, tag string) runResult {
	t := b.t
	b.serial++
	name := fmt.Sprintf("run-%03d-%s-%s", b.serial, variant, way)
	runDir := filepath.Join(b.runs, name)
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	defer b.dropRunner(runDir, filepath.Join(b.work, name))
	endpoint, stop := b.freshDaemon(runDir)
	defer stop()

	res := runResult{Profile: b.profile.Name, Variant: variant, Scenario: scen, Way: way, Rep: rep, Phases: map[string]float64{}}
	front := b.serviceFront(srv)
	upBefore, downBefore := b.relay.Counts()
	watch := watchMachine()
	switch way {
	case wayWarmbuild:
		b.runWarmbuild(&res, runDir, endpoint, srv, front, ctxDir, tag)
	case wayPlainAct, wayDanceAct:
		b.runAct(&res, runDir, endpoint, srv, front, ctxDir, tag)
	default:
		b.runChild(&res, runDir, endpoint, srv, front, ctxDir, tag)
	}
	res.Machine = watch()
	up, down := b.relay.Counts()
	res.Up, res.Down = up-upBefore, down-downBefore
	var named float64
	for name, v := range res.Phases {
		if !res.Overlapped[name] {
			named += v
		}
	}
	res.Phases["other"] = max(0, res.Wall-named)
	b.progress("%-8s %-5s %-21s %-9s rep %d: %6.2fs (solve %6.2fs) up %s down %s rss %d MiB steps %d/%d pip %d/%d %s; machine %v",
		res.Profile, variant, scen, way, rep, res.Wall, res.Solve, mib(res.Up), mib(res.Down), res.MaxRSSKiB>>10,
		res.StepsCached, res.StepsTotal, res.PipCached, res.PipTotal, res.MountHit, res.Machine)
	return res
}

// checkRegistryDisk fails early when the local registry's disk cannot take what the runs
// push (every run pushes its image, as a pipeline would; the heavy variant about 5 GB in
// all), rather than letting a push fail half-way through with "no space left on device".
func (b *bench) checkRegistryDisk() {
	dir := cachetest.StackValue("WARMBUILD_STACK")
	if dir == "" {
		return
	}
	need := uint64(2) << 30
	if slices.Contains(b.cfg.variants, "heavy") {
		need = 8 << 30
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		b.t.Logf("free space on %s: %v", dir, err)
		return
	}
	if free := st.Bavail * uint64(st.Bsize); free < need {
		b.t.Fatalf("%.1f GiB free on %s, where the local registry keeps what the runs push; these runs need about %d GiB: "+
			"run `bash scripts/stack/prune.sh` (scripts/stack/up.sh runs it) to drop earlier test pushes", float64(free)/(1<<30), dir, need>>30)
	}
}

// runnersDir is where the runs' runners live. This machine's disk is rate-limited: the
// same 149 MB base layer unpack takes 1 s on a quiet disk and 3-6 s right after the
// previous run wrote and deleted its gigabytes, which a new runner (a new VM) never
// inherits. On tmpfs every run starts on an unloaded disk; WB_BENCH_RUNNER_DISK=disk puts
// the runners beside the work directory instead.
func (b *bench) runnersDir() string {
	t := b.t
	if b.cfg.runnerDisk != "tmpfs" {
		return b.work
	}
	var st syscall.Statfs_t
	const tmpfsMagic = 0x01021994
	if err := syscall.Statfs("/dev/shm", &st); err != nil || st.Type != tmpfsMagic {
		t.Logf("no tmpfs at /dev/shm (%v): runners on disk", err)
		b.cfg.runnerDisk = "disk"
		return b.work
	}
	dir, err := os.MkdirTemp("/dev/shm", "wb-scenarios-runs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// dropRunner deletes a run's runner once it is measured, keeping its logs (the files at
// its top level, not the archives) in keep when WB_BENCH_KEEP=1.
func (b *bench) dropRunner(runDir, keep string) {
	if runDir == keep {
		return // runners on disk: the run directory is the kept one
	}
	if b.cfg.keepLogs {
		if entries, err := os.ReadDir(runDir); err == nil {
			_ = os.MkdirAll(keep, 0o755)
			for _, e := range entries {
				if info, err := e.Info(); err == nil && e.Type().IsRegular() && info.Size() < 16<<20 {
					if data, err := os.ReadFile(filepath.Join(runDir, e.Name())); err == nil {
						_ = os.WriteFile(filepath.Join(keep, e.Name()), data, 0o644)
					}
				}
			}
		}
	}
	if err := os.RemoveAll(runDir); err != nil {
		b.t.Logf("remove %s: %v", runDir, err)
	}
}

// freshDaemon starts buildkitd on a new empty root: a new ephemeral runner.
func (b *bench) freshDaemon(runDir string) (endpoint string, stop func()) {
	t := b.t
	root, sock := filepath.Join(runDir, "bk-root"), filepath.Join(runDir, "buildkitd.sock")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(b.root, "scripts/stack/buildkitd-run.sh"), root, sock)
	cmd.Env = append(os.Environ(), b.stackEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start buildkitd: %v\n%s", err, out)
	}
	return "unix://" + sock, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		stopCmd := exec.CommandContext(ctx, "bash", filepath.Join(b.root, "scripts/stack/buildkitd-stop.sh"), root)
		stopCmd.Env = append(os.Environ(), b.stackEnv...)
		if out, err := stopCmd.CombinedOutput(); err != nil {
			t.Logf("stop buildkitd: %v\n%s", err, out)
		}
		if err := os.RemoveAll(root); err != nil {
			t.Logf("remove %s: %v", root, err)
		}
	}
}

// runWarmbuild runs the action binary with its defaults, the way the runner runs a
// container action on a push to the default branch.
func (b *bench) runWarmbuild(res *runResult, runDir, endpoint string, srv *cachetest.V2Server, front, ctxDir, tag string) {
	t := b.t
	outFile, summaryFile := filepath.Join(runDir, "outputs"), filepath.Join(runDir, "summary.md")
	for _, f := range []string{outFile, summaryFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(runDir, "home"),
		"CI=true",
		"GITHUB_ACTIONS=true",
		"GITHUB_WORKSPACE=" + ctxDir,
		"GITHUB_OUTPUT=" + outFile,
		"GITHUB_STEP_SUMMARY=" + summaryFile,
		"GITHUB_REPOSITORY=octo-org/warm-app",
		"GITHUB_API_URL=http://127.0.0.1:1",
		"GITHUB_SERVER_URL=https://github.com",
		"GITHUB_EVENT_NAME=push",
		"GITHUB_EVENT_PATH=" + filepath.Join(b.root, "testdata/events/push-default-branch.json"),
		"GITHUB_REF=refs/heads/main", "GITHUB_REF_NAME=main", "GITHUB_REF_TYPE=branch",
		"RUNNER_TEMP=" + runDir,
		"ACTIONS_RESULTS_URL=" + front,
		"ACTIONS_RUNTIME_TOKEN=" + srv.Token(),
		"INPUT_ENDPOINT=" + endpoint,
		"INPUT_TAGS=" + tag,
		"INPUT_PUSH=true",
	}
	if v := os.Getenv("WB_BENCH_LAYER_ACCEL"); v != "" {
		// The accelerator's mode (off, uploads) for an A/B run against its default.
		env = append(env, "WARMBUILD_LAYER_ACCEL="+v)
	}
	logPath := filepath.Join(runDir, "log")
	wall, rss := b.runProcess(b.binary, ctxDir, env, logPath)
	res.Wall, res.MaxRSSKiB = wall, rss
	outs := parseOutputs(t, outFile)
	res.Solve = atof(outs["build-duration-seconds"])
	res.StepsCached, res.StepsTotal = atoi(outs["layer-cache-steps-cached"]), atoi(outs["layer-cache-steps-total"])
	res.PipCached, res.PipTotal = atoi(outs["pip-packages-cached"]), atoi(outs["pip-packages-total"])
	res.MountHit = outs["mount-cache-hit"]
	summary, _ := os.ReadFile(summaryFile)
	phases, overlapped := summaryPhases(string(summary))
	for name, secs := range phases {
		res.Phases[name] = secs
	}
	res.Overlapped = overlapped
	// The summary rounds to 0.1 s; the build phase is the solve, to the hundredth.
	if _, ok := res.Phases["build"]; ok {
		res.Phases["build"] = res.Solve
	}
}

// runChild runs the plain or the dance pipeline in a child process.
func (b *bench) runChild(res *runResult, runDir, endpoint string, srv *cachetest.V2Server, front, ctxDir, tag string) {
	t := b.t
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	reqs, err := os.ReadFile(filepath.Join(ctxDir, "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	spec := childSpec{
		Way:        res.Way,
		Endpoint:   endpoint,
		ContextDir: ctxDir,
		Dockerfile: filepath.Join(ctxDir, "Dockerfile"),
		Tag:        tag,
		// What docker/build-push-action users write for the gha layer cache.
		CacheFrom:      []string{"type=gha,scope=app"},
		CacheTo:        []string{"type=gha,mode=max,scope=app"},
		MountTarget:    "/root/.cache/pip",
		DanceKey:       "pip-" + hashHex(reqs),
		DanceRestore:   "pip-",
		DanceVersion:   "dance-pip-tar-zstd",
		UtilityImage:   b.utility,
		ScratchDir:     filepath.Join(runDir, "scratch"),
		ResultFile:     filepath.Join(runDir, "result.json"),
		ProgressToFile: filepath.Join(runDir, "log"),
	}
	if err := os.MkdirAll(spec.ScratchDir, 0o755); err != nil {
		t.Fatal(err)
	}
	specFile := filepath.Join(runDir, "spec.json")
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(specFile, data, 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(runDir, "home"),
		"ACTIONS_RESULTS_URL=" + front,
		"ACTIONS_RUNTIME_TOKEN=" + srv.Token(),
		"ACTIONS_CACHE_SERVICE_V2=true",
		"GITHUB_SERVER_URL=https://github.com",
		childEnv + "=" + specFile,
	}
	wall, rss := b.runProcess(exe, ctxDir, env, filepath.Join(runDir, "child.log"))
	res.Wall, res.MaxRSSKiB = wall, rss
	out, err := os.ReadFile(spec.ResultFile)
	if err != nil {
		t.Fatalf("%s run left no result: %v", res.Way, err)
	}
	var cr childResult
	if err := json.Unmarshal(out, &cr); err != nil {
		t.Fatal(err)
	}
	for _, p := range cr.Phases {
		res.Phases[p.Name] += p.Seconds
	}
	res.Solve = cr.Solve
	res.StepsCached, res.StepsTotal = cr.StepsCache, cr.StepsTotal
	res.PipCached, res.PipTotal = cr.PipCached, cr.PipTotal
	res.MountHit = cr.MountHit
}

// runProcess runs one pipeline process under GNU time and returns its wall time and peak
// RSS (KiB). The rusage a Go parent reads itself would be wrong: Go starts children with
// vfork semantics (shared address space until exec), and Linux carries the pre-exec
// high-water mark into the child's ru_maxrss, so every child would report at least the
// bench's own peak. GNU time forks from its own small process.
func (b *bench) runProcess(exe, dir string, env []string, logPath string, args ...string) (wall float64, maxRSSKiB int64) {
	t := b.t
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	rssFile := logPath + ".maxrss"
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, exe}, args...)...)
	times, err := os.OpenFile(logPath+".times", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer times.Close()
	start := time.Now()
	// The same writer for both streams: exec copies them in one goroutine, in order.
	out := io.MultiWriter(log, &stampedLines{w: times, start: start})
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, out, out
	err = cmd.Run()
	wall = time.Since(start).Seconds()
	if err != nil {
		data, _ := os.ReadFile(logPath)
		t.Fatalf("%s failed: %v\n%s", filepath.Base(exe), err, tail(string(data), 60))
	}
	rss, err := os.ReadFile(rssFile)
	if err != nil {
		t.Fatalf("GNU time wrote no peak RSS: %v", err)
	}
	maxRSSKiB, err = strconv.ParseInt(strings.TrimSpace(string(rss)), 10, 64)
	if err != nil {
		t.Fatalf("GNU time's peak RSS %q: %v", rss, err)
	}
	return wall, maxRSSKiB
}

// stampedLines writes each line prefixed with the seconds since start, to log.times: BuildKit's
// plain progress times a step from its own start, so the gaps between steps (a wait on the
// service, a serial handoff) show only against one clock.
type stampedLines struct {
	w       io.Writer
	start   time.Time
	partial bool // the last write ended mid-line
}

func (s *stampedLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !s.partial {
			fmt.Fprintf(s.w, "%7.3f ", time.Since(s.start).Seconds())
		}
		line, rest, found := bytes.Cut(p, []byte{'\n'})
		s.w.Write(line)
		if found {
			s.w.Write([]byte{'\n'})
		}
		s.partial, p = !found, rest
	}
	return n, nil
}

var phaseLine = regexp.MustCompile(`^(\w+)\s+(\d+(?:\.\d+)?)s\s`)

// summaryPhases reads the phase block of the action's job summary ("restore   1.2s ███"),
// and which phases ran alongside another ("save   1.9s ███ (during export)").
func summaryPhases(summary string) (map[string]float64, map[string]bool) {
	out, during := map[string]float64{}, map[string]bool{}
	_, block, ok := strings.Cut(summary, "```text\n")
	if !ok {
		return out, during
	}
	block, _, _ = strings.Cut(block, "```")
	for _, line := range strings.Split(block, "\n") {
		if m := phaseLine.FindStringSubmatch(line); m != nil {
			out[m[1]] += atof(m[2])
			if strings.Contains(line, "(during ") {
				during[m[1]] = true
			}
		}
	}
	return out, during
}

// parseOutputs reads GITHUB_OUTPUT back as the runner would.
func parseOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	out, err := report.ParseOutputsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runtimeToken is shaped like the runner's ACTIONS_RUNTIME_TOKEN: a JWT whose "ac" claim
// lists the cache scopes; BuildKit's gha backend reads the claims, the test server only
// compares the whole token.
func runtimeToken(scope string) string {
	ac, _ := json.Marshal([]map[string]any{{"Scope": scope, "Permission": 3}})
	claims, _ := json.Marshal(map[string]any{
		"ac":  string(ac),
		"nbf": time.Now().Add(-time.Hour).Unix(),
		"exp": time.Now().Add(6 * time.Hour).Unix(),
	})
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(claims) + "." + enc([]byte("bench-signature"))
}

func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	cmd := exec.Command("cp", "-a", src+"/.", dst)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", src, err, out)
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

func atof(s string) float64 {
	f, _ := strconv.ParseFloat(strings.TrimSpace(s), 64)
	return f
}

func atoi(s string) int {
	n, _ := strconv.Atoi(strings.TrimSpace(s))
	return n
}

func hashHex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// mib formats a byte count for the tables (KiB below one MiB, so small uploads show).
func mib(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
