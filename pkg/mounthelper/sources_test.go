package mounthelper

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

func writeSources(t *testing.T, srcs ...cacheservice.Source) string {
	t.Helper()
	b, err := json.Marshal(srcs)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "sources.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// In sources mode the helper downloads the full entry and then the delta from signed
// URLs, unpacks both, and leaves the full entry's manifest for the save.
func TestInjectDownloadsTheSourcesItself(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"http/a": 10, "wheels/b.whl": 200})
	full, err := os.ReadFile(archiveOf(t, src))
	if err != nil {
		t.Fatal(err)
	}
	more := t.TempDir()
	writeTree(t, more, map[string]int{"wheels/c.whl": 30})
	delta, err := os.ReadFile(archiveOf(t, more))
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{"/full": full, "/delta": delta}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("sig") != "s3cr3t" {
			http.Error(w, "bad signature", http.StatusForbidden)
			return
		}
		http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(blobs[r.URL.Path]))
	}))
	defer srv.Close()
	sources := writeSources(t,
		cacheservice.Source{Key: "k1", URL: srv.URL + "/full?sig=s3cr3t", Rangeable: true, Size: int64(len(full))},
		cacheservice.Source{Key: "k2+k1", URL: srv.URL + "/delta?sig=s3cr3t", Rangeable: true, Size: int64(len(delta))},
	)
	mount, out := t.TempDir(), t.TempDir()
	code, o, res := call(t, Request{Op: OpInject, Source: SourceSources, Archive: sources, MountDir: mount, OutDir: out})
	if code != 0 || res.Inject == nil {
		t.Fatal(o)
	}
	rep := *res.Inject
	if rep.Status != "injected" || rep.Files != 3 || rep.StreamBytes != int64(len(full)+len(delta)) {
		t.Errorf("report %+v; want 3 files from %d downloaded bytes", rep, len(full)+len(delta))
	}
	if res.Base == nil || res.Base.Files != 2 {
		t.Errorf("base manifest %+v: want the full entry's 2 files", res.Base)
	}
}

// Storage the build cannot reach is reported, not failed, with the mount untouched and
// the URL's signature out of the message.
func TestInjectReportsUnreachableStorageWithoutItsSignature(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	sources := writeSources(t, cacheservice.Source{Key: "k", URL: "http://" + addr + "/blob?sv=1&sig=s3cr3t", Size: 10})
	mount := t.TempDir()
	code, o, res := call(t, Request{Op: OpInject, Source: SourceSources, Archive: sources, MountDir: mount})
	if code != 0 || res.Inject == nil {
		t.Fatal(o)
	}
	rep := *res.Inject
	if rep.Status != InjectUnreachable || rep.Reason == "" {
		t.Errorf("report %+v, want unreachable with a reason", rep)
	}
	if strings.Contains(o, "s3cr3t") || strings.Contains(rep.Reason, "s3cr3t") {
		t.Errorf("the signature leaked into the helper's output or result:\n%s\n%s", o, rep.Reason)
	}
	if entries, _ := os.ReadDir(mount); len(entries) != 0 {
		t.Errorf("the mount was written to: %v", entries)
	}
}

// Storage that answers the reachability probe and then hangs up on the download: the
// helper fails, empties the mount, and its message (BuildKit progress, so the job's
// log) names the failure without the signature.
func TestInjectOfADownloadThatBreaksReportsItWithoutTheSignature(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "bytes=0-0" {
			w.Header().Set("Content-Range", "bytes 0-0/300000")
			w.WriteHeader(http.StatusPartialContent)
			w.Write([]byte{0x28})
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close() // connection reset by peer
		}
	}))
	defer srv.Close()
	saved := helperDownloadOptions
	helperDownloadOptions = append([]cacheservice.Option{cacheservice.WithRetryPolicy(cacheservice.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond})}, saved...)
	defer func() { helperDownloadOptions = saved }()
	sources := writeSources(t, cacheservice.Source{Key: "k", URL: srv.URL + "/blob?sv=1&sig=s3cr3tSig%2B", Rangeable: true, Size: 300000})
	code, o, res := call(t, Request{Op: OpInject, Source: SourceSources, Archive: sources, MountDir: t.TempDir()})
	if code != 0 || res.Refused == "" || !strings.Contains(res.Refused, "download") {
		t.Fatalf("exit %d, result %+v: want a refusal that names the download\n%s", code, res, o)
	}
	if strings.Contains(o, "s3cr3tSig") || strings.Contains(res.Refused, "s3cr3tSig") {
		t.Errorf("the signature leaked into the helper's output:\n%s", o)
	}
}

// A signed URL can expire before or during the helper's download. The helper then asks
// the action, over the control socket, for a fresh URL and goes on with it.
func TestInjectAsksTheActionForAFreshURLWhenTheStorageRefusesItsOwn(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"http/a": 10, "wheels/b.whl": 200})
	full, err := os.ReadFile(archiveOf(t, src))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		validUntil int // requests the first URL is good for: 1 = only the reachability check
	}{{"expired before the check", 0}, {"expired mid-download", 1}} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			served := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				served++
				n := served
				mu.Unlock()
				sig := r.URL.Query().Get("sig")
				if sig != "fresh" && (sig != "old" || n > tc.validUntil) {
					w.Header().Set("x-ms-error-code", "AuthenticationFailed")
					http.Error(w, "Signed expiry time has to be after the current time", http.StatusForbidden)
					return
				}
				http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(full))
			}))
			defer srv.Close()

			sock := filepath.Join(t.TempDir(), "ctl")
			ln, err := net.Listen("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			asked := make(chan int, 10)
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				_ = ServeRefresh(context.Background(), conn, 1, func(_ context.Context, i int) (string, error) {
					asked <- i
					return srv.URL + "/blob?sig=fresh", nil
				})
			}()

			sources := writeSources(t, cacheservice.Source{Key: "k1", URL: srv.URL + "/blob?sig=old", Rangeable: true, Size: int64(len(full))})
			mount := t.TempDir()
			rep, _, err := injectSources(context.Background(), sources, mount, sock)
			if err != nil {
				t.Fatalf("inject with an expiring URL: %v", err)
			}
			if rep.Status != "injected" || rep.Files != 2 {
				t.Errorf("report %+v, want 2 files injected", rep)
			}
			if n := len(asked); n != 1 || <-asked != 0 {
				t.Errorf("the action was asked %d times for a fresh URL, want once for source 0", n)
			}
		})
	}
}

// Without the control socket (or when the action has no fresh URL) the refusal stands:
// the download fails, the mount is left empty, and the signature stays out of it.
func TestInjectWithAnExpiredURLAndNoWayToRefreshFailsCleanly(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"http/a": 10})
	full, err := os.ReadFile(archiveOf(t, src))
	if err != nil {
		t.Fatal(err)
	}
	first := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !first {
			http.Error(w, "expired", http.StatusForbidden)
			return
		}
		first = false
		http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(full))
	}))
	defer srv.Close()
	sources := writeSources(t, cacheservice.Source{Key: "k1", URL: srv.URL + "/blob?sig=s3cr3t", Rangeable: true, Size: int64(len(full))})
	mount := t.TempDir()
	_, _, err = injectSources(context.Background(), sources, mount, filepath.Join(t.TempDir(), "none"))
	if err == nil || !strings.Contains(err.Error(), "403") || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("inject = %v, want the 403 without the signature", err)
	}
	if entries, _ := os.ReadDir(mount); len(entries) != 0 {
		t.Errorf("the mount was written to: %v", entries)
	}
}

// The sources come from the service's answers, through the action: the helper takes at
// most a few http(s) URLs, and says which one it refuses without quoting it (it is
// signed).
func TestTheHelperTakesOnlyAFewHTTPSources(t *testing.T) {
	ok := cacheservice.Source{Key: "k", URL: "https://acct.blob.core.windows.net/c/b?sig=s3cr3t", Size: 10}
	many := make([]cacheservice.Source, maxSources+1)
	for i := range many {
		many[i] = ok
	}
	for name, srcs := range map[string][]cacheservice.Source{
		"a file URL":  {ok, {Key: "k2", URL: "file:///etc/shadow?sig=s3cr3t", Size: 10}},
		"no host":     {{Key: "k", URL: "http:///c?sig=s3cr3t"}},
		"a bad size":  {{Key: "k", URL: ok.URL, Size: -2}},
		"too many":    many,
		"none at all": {},
	} {
		_, err := readSources(writeSources(t, srcs...))
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := readSources(writeSources(t, ok)); err != nil {
		t.Errorf("one https source: %v", err)
	}
}
