package cacheservice_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// A storage that fails the way networks do. Each returns the scheme://host:port of a
// listener on 127.0.0.1 that misbehaves on every connection.
type storageFault struct {
	name  string
	start func(t *testing.T) string
}

var storageFaults = []storageFault{
	{"refused", refusingStorage},
	{"reset", func(t *testing.T) string { return hangingUpStorage(t, true) }},
	{"EOF", func(t *testing.T) string { return hangingUpStorage(t, false) }},
	{"cut body", cutBodyStorage},
}

// refusingStorage is a port nothing listens on any more.
func refusingStorage(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// hangingUpStorage reads each request's head and closes the connection: with reset, with
// an RST (SO_LINGER 0: "connection reset by peer"), else cleanly (the client reads EOF).
func hangingUpStorage(t *testing.T, reset bool) string {
	return serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			line, err := br.ReadString('\n')
			if err != nil || line == "\r\n" {
				break
			}
		}
		if tc, ok := c.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
	})
}

// cutBodyStorage answers every request with a success promising more bytes than it sends:
// the connection breaks while the client reads (or, for an upload, before it is done).
func cutBodyStorage(t *testing.T) string {
	return serveConns(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		head := true
		for first := true; ; first = false {
			line, err := br.ReadString('\n')
			if first {
				head = strings.HasPrefix(line, "HEAD ")
			}
			if err != nil || line == "\r\n" {
				break
			}
		}
		if head {
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nAccept-Ranges: bytes\r\n\r\n")
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 206 Partial Content\r\nContent-Length: 1000\r\nContent-Range: bytes 0-999/1000\r\nAccept-Ranges: bytes\r\n\r\n0123456789")
	})
}

func serveConns(t *testing.T, handle func(net.Conn)) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

// leakCheck collects everything the client lets out (warnings, errors) and what it
// asked to mask.
type leakCheck struct {
	mu     sync.Mutex
	out    []string
	masked []string
}

func (l *leakCheck) warnf(format string, args ...any) {
	l.add(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func (l *leakCheck) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.out = append(l.out, s)
}

func (l *leakCheck) mask(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.masked = append(l.masked, s)
}

func (l *leakCheck) addErr(err error) {
	if err == nil {
		return
	}
	l.add(err.Error())
	var ue *url.Error
	if errors.As(err, &ue) {
		l.add(ue.Error()) // what a caller digging for the cause would print
	}
}

// assertNoSignature fails when a signature of one of urls appears in what was let out.
func (l *leakCheck) assertNoSignature(t *testing.T, urls ...string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	text := strings.Join(l.out, "\n")
	if text == "" {
		t.Fatal("nothing was reported: the fault did not happen")
	}
	for _, u := range urls {
		for _, sig := range signatures(t, u) {
			if strings.Contains(text, sig) {
				t.Errorf("the signature %q reached a message:\n%s", sig, text)
			}
		}
	}
	if strings.Contains(text, "sig=") && !strings.Contains(text, "sig="+cacheservice.Redacted) {
		t.Errorf("a sig= parameter reached a message:\n%s", text)
	}
}

// signatures are the sig values of a signed URL, raw and decoded.
func signatures(t *testing.T, u string) []string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, kv := range strings.Split(pu.RawQuery, "&") {
		if v, ok := strings.CutPrefix(kv, "sig="); ok && v != "" {
			out = append(out, v)
		}
	}
	if dec := pu.Query().Get("sig"); dec != "" {
		out = append(out, dec)
	}
	if len(out) == 0 {
		t.Fatalf("%s is not a signed URL", cacheservice.Redact(u))
	}
	return out
}

const fakeSigned = "/devstoreaccount1/c/entry-1?sv=2024-11-04&se=2099-01-01T00%3A00%3A00Z&sr=b&sp=r&sig=s3cr3tS1gnature%2Bw1th%2Fslash%3D"

// Downloads of a signed URL that refuses, resets, hangs up or cuts the body say so
// without the signature: in the error, its *url.Error cause and every retry warning.
// This is what the in-build helper runs, and needs no cache service.
func TestStorageFailuresOnDownloadNeverQuoteTheSignature(t *testing.T) {
	for _, f := range storageFaults {
		t.Run(f.name, func(t *testing.T) {
			u := f.start(t) + fakeSigned
			var lc leakCheck
			d, err := cacheservice.NewDownloader(cacheservice.WithRetryPolicy(fastRetries), cacheservice.WithWarnf(lc.warnf), cacheservice.WithBlockSize(64<<10))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if f.name != "cut body" { // a cut body answers the first byte fine
				lc.addErr(d.Reachable(ctx, cacheservice.Source{Key: "k", URL: u, Azure: true, Size: -1}, 2*time.Second))
			}
			for _, src := range []cacheservice.Source{
				{Key: "k", URL: u, Azure: true, Size: -1},                         // one stream
				{Key: "k", URL: u, Azure: true, Rangeable: true, Size: 200 << 10}, // parallel ranges
			} {
				rc := d.Open(ctx, src)
				_, err := io.Copy(io.Discard, rc)
				rc.Close()
				if err == nil {
					t.Fatalf("download from a %s storage succeeded", f.name)
				}
				lc.addErr(err)
			}
			lc.assertNoSignature(t, u)
		})
	}
}

// Against the cache service: a restore whose storage fails (the size probe's retries and
// warning, the download) and a save whose upload URL fails (Put Blob, Put Block) report
// without the signatures, and every signed URL was handed to the mask callback before
// the client used it.
func TestStorageFailuresOnRestoreAndSaveNeverQuoteTheSignature(t *testing.T) {
	for _, f := range storageFaults {
		t.Run(f.name, func(t *testing.T) {
			srv := cachetest.StartV2(t, cachetest.V2Options{StorageURL: f.start(t)})
			ctx := context.Background()
			data := randomBytes(7, 300<<10)
			if _, err := srv.Seed(ctx, cachetest.SeedEntry{Key: "leak-restore", Version: version}, bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			var lc leakCheck
			c := newClient(t, srv.Getenv, cacheservice.WithWarnf(lc.warnf), cacheservice.WithMask(lc.mask))

			e, err := c.Restore(ctx, "leak-restore", nil, version)
			if err != nil || e == nil {
				t.Fatalf("Restore: %v %v", e, err)
			}
			readURL := e.Source().URL
			_, err = e.Download(ctx, io.Discard)
			if err == nil {
				t.Fatalf("download from a %s storage succeeded", f.name)
			}
			lc.addErr(err)

			// One block (Put Blob) and several blocks (Put Block).
			var writeURLs []string
			for i, size := range []int{1 << 10, 700 << 10} {
				res, err := c.Save(ctx, "leak-save-"+string(rune('a'+i)), version, bytes.NewReader(randomBytes(uint64(i), size)))
				if err == nil {
					t.Fatalf("save to a %s storage succeeded: %+v", f.name, res)
				}
				lc.addErr(err)
			}
			lc.mu.Lock()
			for _, m := range lc.masked {
				if strings.Contains(m, "://") && m != readURL {
					writeURLs = append(writeURLs, m)
				}
			}
			masked := strings.Join(lc.masked, "\n")
			lc.mu.Unlock()
			if len(writeURLs) != 2 {
				t.Errorf("want both upload URLs masked, got %d: %s", len(writeURLs), cacheservice.Redact(masked))
			}
			for _, u := range append([]string{readURL}, writeURLs...) {
				for _, sig := range signatures(t, u) {
					if !strings.Contains(masked, sig) {
						t.Errorf("the signature of %s was not masked", cacheservice.Redact(u))
					}
				}
			}
			lc.assertNoSignature(t, append([]string{readURL}, writeURLs...)...)
		})
	}
}

func TestRedactDropsQueriesAndUserInfoButKeepsWhereTheRequestWent(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Get "http://127.0.0.1:10000/devstoreaccount1/c/b?sv=1&sig=abc%2B": dial tcp 127.0.0.1:10000: connect: connection refused`,
			`Get "http://127.0.0.1:10000/devstoreaccount1/c/b?REDACTED": dial tcp 127.0.0.1:10000: connect: connection refused`},
		{`{"ok":true,"signed_upload_url":"https://x.blob.core.windows.net/c/b?sv=1\u0026sig=abc"}`,
			`{"ok":true,"signed_upload_url":"https://x.blob.core.windows.net/c/b?REDACTED"}`},
		{"query alone: sv=1&sig=abc%2Bdef&se=2", "query alone: sv=1&sig=REDACTED&se=2"},
		{"encoded: u=https%3A%2F%2Fh%2Fb%3Fsig%3Dabc", "encoded: u=https%3A%2F%2Fh%2Fb%3Fsig%3DREDACTED"},
		{"proxy http://user:pass@proxy:3128/ failed", "proxy http://REDACTED@proxy:3128/ failed"},
		{"http://127.0.0.1:5000/v2/ plain URLs stay", "http://127.0.0.1:5000/v2/ plain URLs stay"},
		{"no URL at all", "no URL at all"},
	}
	for _, tt := range tests {
		if got := cacheservice.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestSecretsOfASignedURLAreTheURLItsQueryAndItsSignature(t *testing.T) {
	u := "http://h/c/b?sv=1&sig=ab%2Bc"
	got := strings.Join(cacheservice.Secrets(u), " ")
	if got != u+" sv=1&sig=ab%2Bc ab%2Bc ab+c" {
		t.Errorf("Secrets = %q", got)
	}
	if s := cacheservice.Secrets("http://127.0.0.1:1/_apis/artifactcache/artifacts/3"); s != nil {
		t.Errorf("an unsigned URL has no secrets, got %q", s)
	}
}

// The mask callback is used before the first request to the URL: a slow storage that
// answers the size probe still finds the URL masked by then.
func TestSignedURLsAreMaskedBeforeTheirFirstRequest(t *testing.T) {
	var mu sync.Mutex
	var masked []string
	var requestedBeforeMask bool
	storage := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if len(masked) == 0 {
			requestedBeforeMask = true
		}
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go storage.Serve(l)
	t.Cleanup(func() { storage.Close() })
	srv := cachetest.StartV2(t, cachetest.V2Options{StorageURL: "http://" + l.Addr().String()})
	if _, err := srv.Seed(context.Background(), cachetest.SeedEntry{Key: "mask-first", Version: version}, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, srv.Getenv, cacheservice.WithMask(func(s string) { mu.Lock(); masked = append(masked, s); mu.Unlock() }))
	if _, err := c.Restore(context.Background(), "mask-first", nil, version); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if requestedBeforeMask || len(masked) == 0 {
		t.Errorf("the storage was asked before the URL was masked (masked %d)", len(masked))
	}
}
