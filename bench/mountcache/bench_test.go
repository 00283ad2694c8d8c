//go:build bench

// Package mountcache_bench measures carrying a ~500 MB pip-like cache into and out of a
// BuildKit cache mount: warmbuild's helper builds (one compressed file each way) next to
// the cache-dance method (the directory as a build context, `cp -p -R`) and next to plain
// tar+zstd of the same files (the floor), all on one fresh daemon. It also times the
// no-change rebuild with mount caching on and off. See README.md.
package mountcache_bench

import (
	"context"
	"fmt"
	"github.com/warmbuild/warmbuild/internal/stackenv"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func stackEnv(t *testing.T) []string {
	vars, err := stackenv.Read()
	if err != nil {
		t.Skipf("local stack not up: %v", err)
	}
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	return env
}

// daemon starts a buildkitd on a fresh state directory.
func daemon(t *testing.T) (*client.Client, string) {
	env := append(os.Environ(), stackEnv(t)...)
	dir := t.TempDir()
	root, sock := filepath.Join(dir, "root"), filepath.Join(dir, "bk.sock")
	scripts := filepath.Join(repoRoot(), "scripts", "stack")
	cmd := exec.Command("bash", filepath.Join(scripts, "buildkitd-run.sh"), root, sock)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start buildkitd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		stop := exec.Command("bash", filepath.Join(scripts, "buildkitd-stop.sh"), root)
		stop.Env = env
		stop.Run()
	})
	c, err := builder.Connect(context.Background(), builder.Endpoint{Address: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, "unix://" + sock
}

// pipLikeCache writes about size bytes shaped like ~/.cache/pip: HTTP cache bodies
// (downloaded wheels: random bytes, as zip files do not compress) in a fan-out of
// directories, with small metadata files next to them, and built wheels.
func pipLikeCache(t *testing.T, dir string, size int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	src := rand.NewChaCha8([32]byte{7})
	var written int64
	for i := 0; written < size; i++ {
		n := int64(20<<10) + rng.Int64N(1500<<10) // 20 KB .. 1.5 MB
		if i%10 == 0 {
			n = 2<<20 + rng.Int64N(8<<20) // some big wheels
		}
		h := fmt.Sprintf("%016x%016x", rng.Uint64(), rng.Uint64())
		var p string
		if i%8 == 0 {
			p = filepath.Join(dir, "wheels", h[:2], h[2:4], h[4:6], h+".whl")
		} else {
			p = filepath.Join(dir, "http-v2", h[:1], h[1:2], h[2:3], h[3:4], h[4:5], h+".body")
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(f, src, n); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if !strings.HasSuffix(p, ".whl") {
			os.WriteFile(strings.TrimSuffix(p, ".body"), []byte(`{"url":"https://files/`+h+`","etag":"x"}`), 0o644)
		}
		written += n
	}
}

func solveDockerfile(t *testing.T, c *client.Client, dockerfile, contextDir string, buildArgs map[string]string, exports []client.ExportEntry) {
	t.Helper()
	ctxDir := t.TempDir()
	df := filepath.Join(ctxDir, "Dockerfile")
	if err := os.WriteFile(df, []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if contextDir == "" {
		contextDir = ctxDir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var log strings.Builder
	if _, err := builder.Solve(ctx, c, builder.Request{ContextDir: contextDir, Dockerfile: df, BuildArgs: buildArgs, Exports: exports}, builder.WithProgress(&log)); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func rounds() int {
	if v, err := strconv.Atoi(os.Getenv("BENCH_ROUNDS")); err == nil && v > 0 {
		return v
	}
	return 3
}

// med is the median, with every value after it.
func med(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	var all []string
	for _, d := range ds {
		all = append(all, fmt.Sprintf("%.1f", d.Seconds()))
	}
	return fmt.Sprintf("**%.1f s** (%s)", s[len(s)/2].Seconds(), strings.Join(all, ", "))
}

func sizeMiB() int64 {
	if v, err := strconv.ParseInt(os.Getenv("BENCH_SIZE_MIB"), 10, 64); err == nil && v > 0 {
		return v
	}
	return 500
}

func TestInjectExtractAgainstCacheDanceAndTarFloor(t *testing.T) {
	work := t.TempDir()
	cacheDir := filepath.Join(work, "pip")
	pipLikeCache(t, cacheDir, sizeMiB()<<20)
	ctx := context.Background()
	m, _ := archive.ManifestOf(ctx, cacheDir)
	t.Logf("cache: %d files, %d MiB", m.Files, m.Bytes>>20)

	// Floor: tar+zstd of the same files on the host.
	arch := filepath.Join(work, "cache.tar.zst")
	floorWrite := timed(func() {
		f, _ := os.Create(arch)
		if _, err := archive.Write(ctx, f, cacheDir); err != nil {
			t.Fatal(err)
		}
		f.Close()
	})
	floorExtract := timed(func() {
		f, _ := os.Open(arch)
		defer f.Close()
		if _, err := archive.Extract(ctx, f, filepath.Join(work, "floor-out"), archive.Limits{}); err != nil {
			t.Fatal(err)
		}
	})
	os.RemoveAll(filepath.Join(work, "floor-out"))

	// warmbuild: the archive as one file in, one file out.
	bin := filepath.Join(work, "warmbuild")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	h := mountcache.HelperBuild{Binary: bin, TempDir: work}
	if p := os.Getenv("BENCH_PROGRESS"); p != "" {
		// BuildKit's per-step timings of the helper builds, to see where the time goes.
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		h.Progress = f
	}
	// The machine is shared and noisy: the methods take turns, round after round. Each
	// round is a fresh daemon, as on a new runner: a daemon that saw the dance's context
	// before receives only what changed, which a runner never gets.
	var wbInject, wbExtract, danceInject, danceExtract []time.Duration
	for round := range rounds() {
		c, _ := daemon(t)
		h.Client = c
		// Pull the dance's utility image outside the timings (the dance pulls busybox).
		solveDockerfile(t, c, "FROM python:3.11-slim\nRUN true\n", "", nil, nil)
		id := fmt.Sprintf("bench-%d", round)
		mounts, _ := mountcache.Discover([]byte("FROM scratch\nRUN --mount=type=cache,id=wb-"+id+",target=/root/.cache/pip true\n"), mountcache.Options{})
		cache := mountcache.Caches(mounts)[0]
		var rep mountcache.InjectResult
		wbInject = append(wbInject, timed(func() {
			var err error
			if rep, err = h.Inject(ctx, cache, arch, nil); err != nil {
				t.Fatal(err)
			}
		}))
		if rep.Report.Files != m.Files {
			t.Fatalf("injected %d files of %d", rep.Report.Files, m.Files)
		}
		out := filepath.Join(work, "wb-out")
		wbExtract = append(wbExtract, timed(func() {
			// "-": nothing restored, so the helper archives the mount (the save case).
			if _, err := h.Extract(ctx, cache, "-", nil, 4<<30, nil, out); err != nil {
				t.Fatal(err)
			}
		}))
		os.RemoveAll(out)

		// The cache dance: the directory as the build context, copied in with cp -p -R;
		// copied out to a directory in the image and exported with a local output.
		danceInject = append(danceInject, timed(func() {
			solveDockerfile(t, c, "FROM python:3.11-slim\nARG NONCE\n"+
				"RUN --mount=type=cache,id=dance-"+id+",target=/root/.cache/pip --mount=type=bind,source=.,target=/var/dance-cache "+
				"cp -p -R /var/dance-cache/. /root/.cache/pip\n", cacheDir, map[string]string{"NONCE": strconv.FormatInt(time.Now().UnixNano(), 10)}, nil)
		}))
		danceOut := filepath.Join(work, "dance-out")
		danceExtract = append(danceExtract, timed(func() {
			solveDockerfile(t, c, "FROM python:3.11-slim AS dance\nARG NONCE\n"+
				"RUN --mount=type=cache,id=dance-"+id+",target=/root/.cache/pip mkdir -p /var/dance-cache && cp -p -R /root/.cache/pip/. /var/dance-cache/\n"+
				"FROM scratch\nCOPY --from=dance /var/dance-cache /\n", "", map[string]string{"NONCE": strconv.FormatInt(time.Now().UnixNano(), 10)},
				[]client.ExportEntry{{Type: client.ExporterLocal, OutputDir: danceOut}})
		}))
		dm, _ := archive.ManifestOf(ctx, danceOut)
		if dm.Files != m.Files {
			t.Errorf("the dance extracted %d files of %d", dm.Files, m.Files)
		}
		os.RemoveAll(danceOut)
	}

	t.Logf("\n| %d MiB, %d files, median of %d | inject | extract |\n|---|---|---|\n| warmbuild (archive streamed to a helper build / archive exported) | %s | %s |\n| cache dance (context + cp -p -R / cp + local output) | %s | %s |\n| floor: tar+zstd on the host | %.1f s (untar) | %.1f s (tar) |",
		m.Bytes>>20, m.Files, len(wbInject), med(wbInject), med(wbExtract), med(danceInject), med(danceExtract), floorExtract.Seconds(), floorWrite.Seconds())
}

// The no-change rebuild: requirements unchanged, a new runner, the layer cache holds the
// pip step. With mount caching on, the exact hit is looked up and nothing is injected;
// the cost over "off" is the lookup.
func TestNoChangeRebuildWithMountCachingOnAndOff(t *testing.T) {
	stack := stackEnv(t)
	var registry string
	for _, kv := range stack {
		if v, ok := strings.CutPrefix(kv, "REGISTRY="); ok {
			registry = v
		}
	}
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	work := t.TempDir()
	bin := filepath.Join(work, "warmbuild")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = repoRoot()
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cacheRef := fmt.Sprintf("%s/bench/mc-nochange-%d:cache", registry, time.Now().UnixNano())
	run := func(mountCaches string) (time.Duration, map[string]string) {
		_, endpoint := daemon(t)
		files := t.TempDir()
		outFile := filepath.Join(files, "out")
		os.WriteFile(outFile, nil, 0o644)
		cmd := exec.Command(bin)
		cmd.Dir = filepath.Join(repoRoot(), "testdata", "app")
		cmd.Env = []string{
			"PATH=" + os.Getenv("PATH"), "HOME=" + files, "GITHUB_ACTIONS=true", "GITHUB_OUTPUT=" + outFile,
			"GITHUB_STEP_SUMMARY=" + filepath.Join(files, "summary"), "RUNNER_TEMP=" + files,
			"GITHUB_EVENT_NAME=push", "GITHUB_EVENT_PATH=" + filepath.Join(repoRoot(), "testdata/events/push-default-branch.json"),
			"GITHUB_REF=refs/heads/main", "GITHUB_REF_NAME=main", "GITHUB_REF_TYPE=branch", "GITHUB_REPOSITORY=octo-org/warm-app",
			"GITHUB_SERVER_URL=https://github.com", "GITHUB_API_URL=http://127.0.0.1:1",
			"ACTIONS_RESULTS_URL=" + srv.URL(), "ACTIONS_RUNTIME_TOKEN=" + srv.Token(),
			"INPUT_ENDPOINT=" + endpoint, "INPUT_CACHE-BACKEND=registry", "INPUT_CACHE-REF=" + cacheRef,
			"INPUT_MOUNT-CACHES=" + mountCaches,
		}
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("action: %v\n%s", err, log.String())
		}
		elapsed := time.Since(start)
		outs := map[string]string{}
		b, _ := os.ReadFile(outFile)
		lines := strings.Split(string(b), "\n")
		for i := 0; i < len(lines); i++ {
			if name, delim, ok := strings.Cut(lines[i], "<<"); ok && i+1 < len(lines) {
				var val []string
				for i++; i < len(lines) && lines[i] != delim; i++ {
					val = append(val, lines[i])
				}
				outs[name] = strings.Join(val, "\n")
			}
		}
		return elapsed, outs
	}
	// Prime: a cold run on main saves the layer cache and the mount cache.
	cold, outs := run("auto")
	t.Logf("cold run (saves both caches): %.1f s, mount-cache-hit=%s saved=%s", cold.Seconds(), outs["mount-cache-hit"], outs["mount-cache-saved-bytes"])
	var on, off []time.Duration
	for i := 0; i < 3; i++ {
		d, o := run("auto")
		if o["mount-cache-hit"] != "exact" {
			t.Fatalf("no-change run with mount caching: hit %q", o["mount-cache-hit"])
		}
		on = append(on, d)
		d, _ = run("none")
		off = append(off, d)
	}
	t.Logf("\n| no-change rebuild, fresh builder, layer cache warm | run 1 | run 2 | run 3 |\n|---|---|---|---|\n| mount caching on (exact hit: lookup only) | %.2f s | %.2f s | %.2f s |\n| mount caching off (mount-caches: none) | %.2f s | %.2f s | %.2f s |",
		on[0].Seconds(), on[1].Seconds(), on[2].Seconds(), off[0].Seconds(), off[1].Seconds(), off[2].Seconds())
}
