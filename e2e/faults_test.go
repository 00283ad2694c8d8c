//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
)

// The fault suite: each test breaks one thing on the real stack (fresh buildkitd per run,
// the v2 cache service stand-in over Azurite) and checks that the build still passes,
// that the run says what went wrong, and that no corrupt entry is left for a later run.
//
// Storage faults go through a fault front: the action talks to the cache service through
// it, and it rewrites the signed storage URLs of mount cache entries in the service's
// answers to point at itself, so it sits between the runner (and the helper build) and
// Azurite and can serve garbage or drop connections part way.

type storageMode int

const (
	passThrough storageMode = iota
	serveGarbage
	dropAfterBudget // forward up to budget bytes, then drop this and every later connection
)

type faultFront struct {
	t       *testing.T
	srv     *cachetest.V2Server
	twirp   *httptest.Server
	storage *httptest.Server

	mu       sync.Mutex
	download storageMode
	upload   storageMode
	budget   int64 // bytes still allowed through in dropAfterBudget mode
	dropped  int   // connections dropped
	garbage  int   // garbage answers served
	origins  map[string]string
}

func newFaultFront(t *testing.T, srv *cachetest.V2Server) *faultFront {
	f := &faultFront{t: t, srv: srv, origins: map[string]string{}}
	f.storage = httptest.NewServer(http.HandlerFunc(f.serveStorage))
	t.Cleanup(f.storage.Close)
	target, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: f.rewriteAnswer,
	}
	f.twirp = httptest.NewServer(proxy)
	t.Cleanup(f.twirp.Close)
	return f
}

// env points a run at the front instead of the service.
func (f *faultFront) env() map[string]string {
	return map[string]string{"ACTIONS_RESULTS_URL": f.twirp.URL + "/"}
}

func (f *faultFront) set(download, upload storageMode, budget int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.download, f.upload, f.budget = download, upload, budget
}

func (f *faultFront) counts() (dropped, garbage int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dropped, f.garbage
}

// rewriteAnswer replaces the signed URLs of mount cache entries with the front's own.
func (f *faultFront) rewriteAnswer(resp *http.Response) error {
	method := resp.Request.URL.Path[strings.LastIndex(resp.Request.URL.Path, "/")+1:]
	if resp.StatusCode != http.StatusOK || (method != cachetest.GetCacheEntryDownloadURL && method != cachetest.CreateCacheEntry) {
		return nil
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var answer map[string]any
	if json.Unmarshal(body, &answer) == nil {
		mount := true
		if k, ok := answer["matched_key"].(string); ok && !strings.HasPrefix(k, mountcache.KeyPrefix) {
			mount = false
		}
		for _, field := range []string{"signed_download_url", "signed_upload_url"} {
			if u, ok := answer[field].(string); ok && u != "" && mount {
				f.mu.Lock()
				id := randomID()
				f.origins[id] = u
				f.mu.Unlock()
				answer[field] = f.storage.URL + "/blob/" + id + "?sig=front"
			}
		}
		body, _ = json.Marshal(answer)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.Header.Del("Content-Length")
	return nil
}

func randomID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (f *faultFront) serveStorage(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimPrefix(r.URL.Path, "/blob/")
	f.mu.Lock()
	origin, ok := f.origins[id]
	mode := f.download
	if r.Method == http.MethodPut {
		mode = f.upload
	}
	f.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch mode {
	case serveGarbage:
		if r.Method == http.MethodPut {
			break
		}
		f.mu.Lock()
		f.garbage++
		f.mu.Unlock()
		garbage := bytes.Repeat([]byte("not a cache archive, the entry was replaced\n"), 8000)
		w.Header().Set("Accept-Ranges", "bytes")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(garbage))
		return
	case dropAfterBudget:
		f.forwardWithBudget(w, r, origin)
		return
	}
	f.forward(w, r, origin, nil)
}

// drop closes the connection without an answer: the server died.
func (f *faultFront) drop() {
	f.mu.Lock()
	f.dropped++
	f.mu.Unlock()
	panic(http.ErrAbortHandler)
}

// take reserves up to n bytes of the budget and returns how many it may send.
func (f *faultFront) take(n int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	n = min(n, f.budget)
	f.budget -= n
	return n
}

func (f *faultFront) forwardWithBudget(w http.ResponseWriter, r *http.Request, origin string) {
	if r.Method == http.MethodPut {
		body, _ := io.ReadAll(r.Body)
		if f.take(int64(len(body))) < int64(len(body)) {
			f.drop()
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		f.forward(w, r, origin, nil)
		return
	}
	if f.budgetLeft() <= 0 {
		f.drop()
	}
	f.forward(w, r, origin, func(n int) bool { return f.take(int64(n)) == int64(n) })
}

func (f *faultFront) budgetLeft() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.budget
}

// forward sends r to origin (the real signed URL); allow, when set, is asked before
// each chunk of the answer's body is passed on.
func (f *faultFront) forward(w http.ResponseWriter, r *http.Request, origin string, allow func(n int) bool) {
	// The client adds its own parameters (Azure's comp=block&blockid=...) to the URL it
	// was given; they go to the origin, beside its own signature.
	u, err := url.Parse(origin)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	q := u.Query()
	for k, v := range r.URL.Query() {
		if k != "sig" {
			q[k] = v
		}
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u.String(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.ContentLength = r.ContentLength
	for k, v := range r.Header {
		req.Header[k] = v
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		f.drop()
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if allow != nil && !allow(n) {
				f.drop()
			}
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// assertNoCorruptEntry downloads every finalized mount cache entry and lists it: each must
// be a complete, valid archive.
func assertNoCorruptEntry(t *testing.T, e *mountCacheEnv) {
	t.Helper()
	e.srv.SetScopes("refs/heads/main")
	svc, err := cacheservice.FromEnv(e.srv.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, en := range e.mountEntries() {
		if !en.Finalized {
			continue
		}
		entry, err := svc.Restore(ctx, en.Key, nil, en.Version)
		if err != nil || entry == nil {
			t.Errorf("entry %s: lookup: %v", en.Key, err)
			continue
		}
		body := entry.Open(ctx)
		if _, err := archive.List(ctx, body, archive.Limits{}); err != nil {
			t.Errorf("entry %s (%d bytes) is corrupt: %v", en.Key, en.Size, err)
		}
		body.Close()
	}
}

func finalizedMountEntries(e *mountCacheEnv) []cachetest.Entry {
	var out []cachetest.Entry
	for _, en := range e.mountEntries() {
		if en.Finalized {
			out = append(out, en)
		}
	}
	return out
}

// (e) An entry replaced by garbage between lookup and download: the restore is refused
// with a warning, pip runs cold, the build passes, and what is saved is valid.
func TestFaultEntryReplacedByGarbageBetweenLookupAndDownload(t *testing.T) {
	e := newMountCacheEnv(t)
	front := newFaultFront(t, e.srv)
	e.runEnv(t, appContext(t), front.env())
	if len(finalizedMountEntries(e)) != 1 {
		t.Fatalf("run 1 must save one entry: %+v", e.mountEntries())
	}

	front.set(serveGarbage, passThrough, 0)
	res := e.runEnv(t, appContext(t, "wb-extra==1.0.0"), front.env())
	if _, garbage := front.counts(); garbage == 0 {
		t.Fatalf("run 2 never downloaded from the front\n%s", tail(res.Log, 60))
	}
	warnings := res.Outputs["cache-warnings"]
	t.Logf("run 2 warnings: %s", warnings)
	if !strings.Contains(warnings, "corrupt archive") || !strings.Contains(res.Log, "::warning") {
		t.Errorf("cache-warnings should say the restored entry is corrupt: %q", warnings)
	}
	if !strings.Contains(res.Log, "Building wheel for") {
		t.Errorf("the pip step should run cold\n%s", tail(res.Log, 60))
	}
	assertNoCorruptEntry(t, e)
}

// (b) The storage dies part way through a download: the build passes and says so, and the
// next run still restores a valid entry.
func TestFaultStorageDroppedMidDownload(t *testing.T) {
	e := newMountCacheEnv(t)
	front := newFaultFront(t, e.srv)
	e.runEnv(t, appContext(t), front.env())
	saved := finalizedMountEntries(e)
	if len(saved) != 1 {
		t.Fatalf("run 1 must save one entry: %+v", e.mountEntries())
	}

	front.set(dropAfterBudget, passThrough, saved[0].Size/2)
	start := time.Now()
	res := e.runEnv(t, appContext(t, "wb-extra==1.0.0"), front.env())
	if dropped, _ := front.counts(); dropped == 0 {
		t.Fatalf("run 2 never had a connection dropped\n%s", tail(res.Log, 60))
	}
	if res.Outputs["cache-warnings"] == "" || !strings.Contains(res.Log, "::warning") {
		t.Errorf("run 2 should warn that the restore failed; warnings %q\n%s", res.Outputs["cache-warnings"], tail(res.Log, 60))
	}
	t.Logf("run 2 with the storage dropped mid-download took %v; warnings: %s", time.Since(start), res.Outputs["cache-warnings"])
	if strings.Contains(res.Outputs["cache-warnings"], "corrupt") {
		t.Errorf("a dropped download is not a corrupt entry: %s\n%s", res.Outputs["cache-warnings"], grepLines(res.Log, "ount cache", "inject", "warmbuild"))
	}
	assertNoCorruptEntry(t, e)

	front.set(passThrough, passThrough, 0)
	again := e.runEnv(t, appContext(t, "wb-extra==1.0.0"), front.env())
	if again.Outputs["mount-cache-hit"] == "miss" && !strings.Contains(again.Log, "Building wheel for") {
		t.Errorf("run 3: neither restored nor cold\n%s", tail(again.Log, 60))
	}
	assertNoCorruptEntry(t, e)
}

// (b) The storage dies part way through an upload: the build passes and says the save
// failed, no entry is left half written, and the next run runs cold or restores a valid one.
func TestFaultStorageDroppedMidUpload(t *testing.T) {
	e := newMountCacheEnv(t)
	front := newFaultFront(t, e.srv)
	front.set(passThrough, dropAfterBudget, 4<<10) // entries here are about 15 KiB
	res := e.runEnv(t, appContext(t), front.env())
	if dropped, _ := front.counts(); dropped == 0 {
		t.Fatalf("run 1 never had an upload dropped\n%s", tail(res.Log, 60))
	}
	if res.Outputs["cache-warnings"] == "" || !strings.Contains(res.Log, "::warning") {
		t.Errorf("run 1 should warn that the save failed; warnings %q\n%s", res.Outputs["cache-warnings"], tail(res.Log, 60))
	}
	t.Logf("run 1 warnings: %s", res.Outputs["cache-warnings"])
	if n := len(finalizedMountEntries(e)); n != 0 {
		t.Errorf("a failed upload left %d finalized entries: %+v", n, e.mountEntries())
	}

	// Run 1's CreateCacheEntry reserved the key and its upload never finished: the
	// service answers already_exists to every later create of that key (as github.com's
	// does for a reservation), so run 2 cannot save it either, and must say so.
	front.set(passThrough, passThrough, 0)
	again := e.runEnv(t, appContext(t), front.env())
	reps := mountReports(t, again)
	t.Logf("run 2: hit %s, report %+v", again.Outputs["mount-cache-hit"], reps)
	if again.Outputs["mount-cache-hit"] != "miss" {
		t.Errorf("run 2 restored something from a failed upload: %s", again.Outputs["mount-cache-hit"])
	}
	if len(reps) != 1 || (!reps[0].Saved && reps[0].SaveNote == "") {
		t.Errorf("run 2 should save or say why not: %+v", reps)
	}
	assertNoCorruptEntry(t, e)
}

// (c) Two runs save the same key at once: one wins, the other says another job saved it,
// and the entry is valid.
func TestFaultTwoRunsSaveTheSameKeyAtOnce(t *testing.T) {
	e := newMountCacheEnv(t)
	dir := appContext(t)
	var wg sync.WaitGroup
	results := make([]Result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = e.runConcurrent(t, dir)
		}()
	}
	wg.Wait()
	saved := finalizedMountEntries(e)
	if len(saved) != 1 {
		t.Fatalf("want one entry, got %+v", e.mountEntries())
	}
	notes := 0
	for i, r := range results {
		if r.ExitCode != 0 {
			t.Errorf("run %d failed (exit %d)\n%s", i, r.ExitCode, tail(r.Log, 60))
		}
		for _, rep := range mountReports(t, r) {
			if strings.Contains(rep.SaveNote, "saved it first") {
				notes++
			}
		}
	}
	if notes != 1 {
		t.Errorf("exactly one run should report that another run saved the key first, %d did:\n%s\n---\n%s", notes, results[0].Outputs["mount-cache-report"], results[1].Outputs["mount-cache-report"])
	}
	assertNoCorruptEntry(t, e)
}

// runConcurrent is runWith without t.Fatal, for use from a goroutine.
func (e *mountCacheEnv) runConcurrent(t *testing.T, dir string) Result {
	env := map[string]string{"ACTIONS_RESULTS_URL": e.srv.URL(), "ACTIONS_RUNTIME_TOKEN": e.srv.Token()}
	for k, v := range pushMain {
		env[k] = v
	}
	r := Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: env}
	r.Inputs = map[string]string{"endpoint": freshBuilder(t).Endpoint, "cache-backend": "registry", "cache-ref": e.cacheRef}
	return runAction(t, r)
}

// grepLines keeps the lines of log that contain any of words.
func grepLines(log string, words ...string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, l)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}

// fullTempDir mounts a small tmpfs and fills it: a runner whose temp directory is full.
func fullTempDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (needs CAP_SYS_ADMIN): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Write(make([]byte, 1<<20))
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the tmpfs: %v", err)
	}
	return dir
}

// (d) The runner's temp directory is full: the mount cache steps warn, the build passes,
// and nothing corrupt is saved.
func TestFaultRunnerTempDirectoryFull(t *testing.T) {
	e := newMountCacheEnv(t)
	e.run(t, appContext(t), false, nil)
	if len(finalizedMountEntries(e)) != 1 {
		t.Fatalf("run 1 must save one entry: %+v", e.mountEntries())
	}
	res := e.runEnv(t, appContext(t, "wb-extra==1.0.0"), map[string]string{"RUNNER_TEMP": fullTempDir(t)})
	t.Logf("run 2 warnings: %s", res.Outputs["cache-warnings"])
	if !strings.Contains(res.Outputs["cache-warnings"], "no space left on device") {
		t.Errorf("run 2 should warn that the temp directory is full: %q\n%s", res.Outputs["cache-warnings"], grepLines(res.Log, "ount cache", "warning"))
	}
	if res.Outputs["build-duration-seconds"] == "" {
		t.Errorf("run 2 reports no build: outputs %v", res.Outputs)
	}
	assertNoCorruptEntry(t, e)
}

// (a) The builder dies in the middle of the RUN that uses the cache mount: the step fails
// with an error that says so, and no mount cache entry is saved from the half-run step.
func TestFaultBuilderKilledMidBuild(t *testing.T) {
	e := newMountCacheEnv(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM python:3.11-slim\n" +
			"RUN --mount=type=cache,target=/root/.cache/pip sh -c 'echo half > /root/.cache/pip/warmbuild-fault-marker && sleep 120'\n",
		"requirements.txt": "wb-extra==1.0.0\n",
	})
	b := freshBuilder(t)
	env := map[string]string{"ACTIONS_RESULTS_URL": e.srv.URL(), "ACTIONS_RUNTIME_TOKEN": e.srv.Token()}
	for k, v := range pushMain {
		env[k] = v
	}
	r := Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: env,
		Inputs: map[string]string{"endpoint": b.Endpoint, "cache-backend": "registry", "cache-ref": e.cacheRef, "mount-caches": "all"}}

	killed := make(chan string, 1)
	go func() {
		deadline := time.Now().Add(5 * time.Minute)
		for time.Now().Before(deadline) {
			out, _ := exec.Command("find", b.Root, "-name", "warmbuild-fault-marker", "-print", "-quit").Output()
			if len(bytes.TrimSpace(out)) > 0 {
				pid, err := os.ReadFile(filepath.Join(b.Root, "warmbuild-buildkitd.pid"))
				if err == nil {
					exec.Command("kill", "-KILL", strings.TrimSpace(string(pid))).Run()
				}
				killed <- strings.TrimSpace(string(pid))
				return
			}
			time.Sleep(500 * time.Millisecond)
		}
		killed <- ""
	}()
	res := runAction(t, r)
	if pid := <-killed; pid == "" {
		t.Fatalf("the RUN never started, nothing was killed\n%s", tail(res.Log, 40))
	}
	t.Logf("exit %d; errors:\n%s", res.ExitCode, grepLines(res.Log, "::error", "::warning"))
	if res.ExitCode == 0 {
		t.Errorf("a build whose builder died must fail")
	}
	if !strings.Contains(res.Log, "::error") {
		t.Errorf("the failure should be an error annotation\n%s", tail(res.Log, 30))
	}
	if n := len(e.mountEntries()); n != 0 {
		t.Errorf("a half-run step's cache mount was saved: %+v", e.mountEntries())
	}
}
