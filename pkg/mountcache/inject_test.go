//go:build e2e

package mountcache

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
)

func discoverOne(t *testing.T, dockerfile string) Cache {
	t.Helper()
	mounts, err := Discover([]byte(dockerfile), Options{})
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := selectorOf(t, "all").Select(mounts)
	caches := Caches(sel)
	if len(caches) != 1 {
		t.Fatalf("want one cache in %q, got %d", dockerfile, len(caches))
	}
	return caches[0]
}

func buildDir(t *testing.T, c *client.Client, dir string, buildArgs map[string]string) *builder.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var progress bytes.Buffer
	res, err := builder.Solve(ctx, c, builder.Request{ContextDir: dir, Dockerfile: filepath.Join(dir, "Dockerfile"), BuildArgs: buildArgs}, builder.WithProgress(&progress))
	if err != nil {
		t.Fatalf("build %s: %v\n%s", dir, err, progress.String())
	}
	return res
}

// appCache is a copy of the fixture app and its pip cache mount.
func appCache(t *testing.T) (string, Cache) {
	t.Helper()
	app := copyApp(t, "")
	df, err := os.ReadFile(filepath.Join(app, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return app, discoverOne(t, string(df))
}

func copyApp(t *testing.T, extraRequirement string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(repoRoot(), "testdata", "app")
	for _, name := range []string{"Dockerfile", "requirements.txt"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if name == "requirements.txt" && extraRequirement != "" {
			b = append(b, []byte(extraRequirement+"\n")...)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The proof that injection lands where the user's RUN looks: the fixture app's pip cache
// is extracted from one fresh daemon, injected into another fresh daemon, and pip there
// serves every package from the cache and builds no wheel.
func TestInjectedPipCacheIsUsedByThePipStepOnAFreshBuilder(t *testing.T) {
	ctx := context.Background()
	bin := helperBinary(t)
	app, cache := appCache(t)

	first := freshDaemon(t)
	cold := buildDir(t, first, app, nil)
	if log := cold.Logs(func(string) bool { return true }); !strings.Contains(log, "Building wheel for") {
		t.Fatalf("the cold build should build the sdists:\n%s", log)
	}
	out := t.TempDir()
	h := HelperBuild{Client: first, Binary: bin, TempDir: t.TempDir()}
	ex, err := h.Extract(ctx, cache, "", nil, 2<<30, nil, out)
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != mounthelper.ExtractArchived || ex.Files == 0 {
		t.Fatalf("extract of a used pip cache: %+v", ex)
	}
	fi, err := os.Stat(ExtractedArchive(out))
	if err != nil || fi.Size() != ex.ArchiveBytes {
		t.Fatalf("archive on disk: %v, size %d, helper says %d", err, fi.Size(), ex.ArchiveBytes)
	}

	second := freshDaemon(t)
	h.Client = second
	inj, err := h.Inject(ctx, cache, ExtractedArchive(out), nil)
	if err != nil {
		t.Fatal(err)
	}
	if inj.Report.Status != "injected" || inj.Report.PathsDigest != ex.PathsDigest {
		t.Errorf("inject report %+v; want the extracted manifest %s", inj.Report, ex.PathsDigest)
	}
	warm := buildDir(t, second, app, nil)
	log := warm.Logs(func(string) bool { return true })
	if strings.Contains(log, "Building wheel for") || strings.Contains(log, "Downloading") {
		t.Errorf("after injection pip still downloaded or built:\n%s", log)
	}
	if n := strings.Count(log, "Using cached"); n != 11 {
		t.Errorf("want all 11 packages served from the injected cache, got %d:\n%s", n, log)
	}

	// Nothing changed since the injection: extraction says so instead of re-archiving.
	out2 := t.TempDir()
	again, err := h.Extract(ctx, cache, inj.Report.PathsDigest, nil, 2<<30, nil, out2)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != mounthelper.ExtractUnchanged {
		t.Errorf("extract after a build that only read the cache: %+v, want unchanged", again)
	}
	if _, err := os.Stat(ExtractedArchive(out2)); err == nil {
		t.Errorf("an unchanged cache must not be archived")
	}
}

// A mount with uid, gid and mode gets its directory from the frontend's permission op;
// the injection must reproduce it, and keep the archive's owners, modes and mtimes. The id
// is custom and namespaced, which changes the LLB id.
func TestInjectReachesAMountWithOwnersModeCustomIDAndNamespace(t *testing.T) {
	ctx := context.Background()
	bin := helperBinary(t)
	const dockerfile = "FROM python:3.11-slim\n" +
		"RUN --mount=type=cache,id=shop-pip,target=/home/app/.cache/pip,uid=1000,gid=1000,mode=0750,sharing=locked " +
		"stat -c '%u:%g %a %Y %n' /home/app/.cache/pip /home/app/.cache/pip/http/blob && cat /home/app/.cache/pip/http/blob\n"
	args := map[string]string{CacheNamespaceArg: "team-a"}
	mounts, err := Discover([]byte(dockerfile), Options{BuildArgs: args})
	if err != nil {
		t.Fatal(err)
	}
	cache := Caches(mounts)[0]
	if cache.CacheID != "team-a/shop-pip" {
		t.Fatalf("cache id %q", cache.CacheID)
	}

	src := t.TempDir()
	mtime := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := os.MkdirAll(filepath.Join(src, "http"), 0o700); err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(src, "http", "blob")
	if err := os.WriteFile(blob, []byte("injected-content-42\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{blob, filepath.Join(src, "http")} {
		if err := os.Lchown(p, 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chtimes(blob, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	archivePath := filepath.Join(t.TempDir(), "a.tar.zst")
	f, err := os.Create(archivePath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.Write(ctx, f, src); err != nil {
		t.Fatal(err)
	}
	f.Close()

	c := freshDaemon(t)
	h := HelperBuild{Client: c, Binary: bin, TempDir: t.TempDir()}
	if _, err := h.Inject(ctx, cache, archivePath, args); err != nil {
		t.Fatal(err)
	}
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	log := buildDir(t, c, ctxDir, args).Logs(func(string) bool { return true })
	want := []string{
		"1000:1000 750 ", // the mount root, from the permission op
		"1000:1000 640 " + itoa(mtime.Unix()) + " /home/app/.cache/pip/http/blob", // the injected file, as archived
		"injected-content-42",
	}
	for _, w := range want {
		if !strings.Contains(log, w) {
			t.Errorf("the user's RUN does not see %q:\n%s", w, log)
		}
	}
}

// A corrupt archive is refused by the helper, the mount is left empty, and the caller
// gets an error it can turn into a warning.
func TestCorruptArchiveIsRefusedAndLeavesTheMountEmpty(t *testing.T) {
	ctx := context.Background()
	bin := helperBinary(t)
	const dockerfile = "FROM python:3.11-slim\nRUN --mount=type=cache,target=/root/.cache/pip find /root/.cache/pip -mindepth 1 | wc -l | sed 's/^/entries=/'\n"
	cache := discoverOne(t, dockerfile)

	// A valid archive cut in the middle: the first entries unpack before the damage.
	src := t.TempDir()
	for i := 0; i < 50; i++ {
		if err := os.WriteFile(filepath.Join(src, "f"+itoa(int64(i))), bytes.Repeat([]byte{byte(i)}, 64<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := archive.Write(ctx, &buf, src, archive.WithLevel(1)); err != nil {
		t.Fatal(err)
	}
	archivePath := filepath.Join(t.TempDir(), "cut.tar.zst")
	if err := os.WriteFile(archivePath, buf.Bytes()[:buf.Len()*2/3], 0o644); err != nil {
		t.Fatal(err)
	}

	c := freshDaemon(t)
	h := HelperBuild{Client: c, Binary: bin, TempDir: t.TempDir()}
	res, err := h.Inject(ctx, cache, archivePath, nil)
	if err == nil || !res.Refused {
		t.Fatalf("a truncated archive must be refused: %+v, %v", res, err)
	}
	if !strings.Contains(err.Error(), "corrupt archive") {
		t.Errorf("error should say what is wrong with the archive: %v", err)
	}
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	if log := buildDir(t, c, ctxDir, nil).Logs(func(string) bool { return true }); !strings.Contains(log, "entries=0") {
		t.Errorf("the mount should be empty after a refused archive:\n%s", log)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// trickle hands out its bytes a piece at a time, one piece per pause: an injection that
// takes seconds, as a far cache storage makes it.
type trickle struct {
	data  []byte
	piece int
	pause time.Duration
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.data) == 0 {
		return 0, io.EOF
	}
	time.Sleep(t.pause)
	n := copy(p[:min(len(p), t.piece)], t.data)
	t.data = t.data[n:]
	return n, nil
}

// firstWrite notes when the first byte of a build's progress came.
type firstWrite struct {
	bytes.Buffer
	at time.Time
}

func (f *firstWrite) Write(p []byte) (int, error) {
	if f.at.IsZero() {
		f.at = time.Now()
	}
	return f.Buffer.Write(p)
}

// The build starts beside the injection (BuildMayStartBeside): its context is held until
// the injection is done. The pip step reads the context (COPY requirements.txt), so it
// must find the whole cache, though the build was converting, resolving and unpacking
// its base while the injection was still streaming in.
func TestAPipStepStartedBesideASlowInjectionFindsTheWholeCache(t *testing.T) {
	ctx := context.Background()
	bin := helperBinary(t)
	app, cache := appCache(t)
	for _, m := range cache.Mounts {
		if len(m.ContextFiles) == 0 {
			t.Fatalf("the app's pip step should read the context: %+v", m)
		}
	}

	first := freshDaemon(t)
	buildDir(t, first, app, nil)
	out := t.TempDir()
	h := HelperBuild{Client: first, Binary: bin, TempDir: t.TempDir()}
	if _, err := h.Extract(ctx, cache, "", nil, 2<<30, nil, out); err != nil {
		t.Fatal(err)
	}
	archived, err := os.ReadFile(ExtractedArchive(out))
	if err != nil {
		t.Fatal(err)
	}

	second := freshDaemon(t)
	h.Client = second
	injected := make(chan struct{})
	var injectEnd time.Time
	var injectErr error
	go func() {
		defer close(injected)
		// Eight pieces, half a second apart: four seconds, longer than the build takes to
		// reach its pip step on a fresh daemon.
		src := &trickle{data: archived, piece: len(archived)/8 + 1, pause: 500 * time.Millisecond}
		_, injectErr = h.InjectStream(ctx, cache, src, nil)
		injectEnd = time.Now()
	}()
	progress := &firstWrite{}
	res, err := builder.Solve(ctx, second, builder.Request{ContextDir: app, Dockerfile: filepath.Join(app, "Dockerfile")},
		builder.WithProgress(progress),
		builder.WithContextHeld(func(ctx context.Context) error {
			select {
			case <-injected:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}))
	<-injected
	if injectErr != nil {
		t.Fatal(injectErr)
	}
	if err != nil {
		t.Fatalf("build: %v\n%s", err, progress.String())
	}
	if !progress.at.Before(injectEnd.Add(-time.Second)) {
		t.Errorf("the build's first progress came at %v, the injection ended at %v: it did not start beside it", progress.at, injectEnd)
	}
	log := res.Logs(func(string) bool { return true })
	if strings.Contains(log, "Building wheel for") || strings.Contains(log, "Downloading") {
		t.Errorf("the pip step ran before the injection was done:\n%s", log)
	}
	if n := strings.Count(log, "Using cached"); n != 11 {
		t.Errorf("want all 11 packages served from the injected cache, got %d:\n%s", n, log)
	}
}

// A helper build after the warm build sends BuildKit none of the binary, also when it is
// staged by copying (the action's binary is in its image, RUNNER_TEMP on the host's disk).
func TestAfterTheWarmBuildAHelperBuildSendsNoneOfTheBinary(t *testing.T) {
	ctx := context.Background()
	bin := helperBinary(t)
	cache := discoverOne(t, "FROM python:3.11-slim\nRUN --mount=type=cache,target=/root/.cache/pip true\n")
	temp := t.TempDir()
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		// Another file system than the binary's: staged by copying, not linking.
		if temp, err = os.MkdirTemp("/dev/shm", "wb-warm-"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(temp) })
	}
	var progress bytes.Buffer
	h := HelperBuild{Client: freshDaemon(t), Binary: bin, TempDir: temp, Progress: &progress}
	h.Warm(ctx)()
	if _, err := h.Extract(ctx, cache, "", nil, 1<<20, nil, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	sent := regexp.MustCompile(`transferring ctx-wbin: ([0-9.]+)(B|kB|MB)`).FindAllStringSubmatch(progress.String(), -1)
	if len(sent) == 0 {
		t.Fatalf("no transfer of the helper's context in the progress:\n%s", progress.String())
	}
	for _, m := range sent {
		if m[2] == "MB" {
			t.Errorf("the helper build sent %s%s of its context after the warm build, want the request only:\n%s", m[1], m[2], progress.String())
		}
	}
}
