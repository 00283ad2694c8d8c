package cacheservice_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

const version = "5f0a1b93c2e0d2f6ab10f7c7c3a41cc3c1f1b1c7a1b9f1e6f3c1d8e4f0a9b2c1"

// fastRetries keeps retried tests quick: the policy's shape is what is
// tested, not its default magnitudes.
var fastRetries = cacheservice.RetryPolicy{MaxAttempts: 4, BaseDelay: 5 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxRetryAfter: 5 * time.Second}

// warnings collects the client's warnings.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) warnf(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, fmt.Sprintf(format, args...))
}

func (w *warnings) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.msgs, "\n")
}

func newClient(t *testing.T, getenv func(string) string, opts ...cacheservice.Option) *cacheservice.Client {
	t.Helper()
	base := []cacheservice.Option{
		cacheservice.WithRetryPolicy(fastRetries),
		cacheservice.WithBlockSize(256 << 10),
		cacheservice.WithParallelism(3),
		cacheservice.WithWarnf(func(f string, a ...any) { t.Logf("warning: "+f, a...) }),
	}
	c, err := cacheservice.FromEnv(getenv, append(base, opts...)...)
	if err != nil {
		t.Fatalf("FromEnv: %v", err)
	}
	return c
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}

func download(t *testing.T, e *cacheservice.Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := e.Download(context.Background(), &buf)
	if err != nil {
		t.Fatalf("Download %s: %v", e.Key, err)
	}
	if n != int64(buf.Len()) {
		t.Fatalf("Download returned %d, wrote %d bytes", n, buf.Len())
	}
	return buf.Bytes()
}

func mustSave(t *testing.T, c *cacheservice.Client, key string, data []byte) cacheservice.SaveResult {
	t.Helper()
	res, err := c.Save(context.Background(), key, version, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Save %s: %v", key, err)
	}
	if res.AlreadyExists || res.Size != int64(len(data)) {
		t.Fatalf("Save %s = %+v, want a new entry of %d bytes", key, res, len(data))
	}
	return res
}

func mustRestore(t *testing.T, c *cacheservice.Client, key string, restoreKeys ...string) *cacheservice.Entry {
	t.Helper()
	e, err := c.Restore(context.Background(), key, restoreKeys, version)
	if err != nil {
		t.Fatalf("Restore %s: %v", key, err)
	}
	if e == nil {
		t.Fatalf("Restore %s %v: miss, want a hit", key, restoreKeys)
	}
	return e
}

func TestVersionMatchesActionsCacheAlgorithm(t *testing.T) {
	// @actions/cache getCacheVersion: sha256 hex of the paths, the compression
	// method and the salt "1.0", joined with "|".
	expect := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	tests := []struct {
		paths       []string
		compression string
		joined      string
	}{
		{[]string{"~/.cache/pip"}, cacheservice.CompressionZstdWithoutLong, "~/.cache/pip|zstd-without-long|1.0"},
		{[]string{"node_modules", "~/.npm"}, cacheservice.CompressionGzip, "node_modules|~/.npm|gzip|1.0"},
		{[]string{"~/.npm", "node_modules"}, cacheservice.CompressionGzip, "~/.npm|node_modules|gzip|1.0"},
		{[]string{"a"}, "", "a|1.0"},
	}
	for _, tt := range tests {
		if got, want := cacheservice.Version(tt.paths, tt.compression), expect(tt.joined); got != want {
			t.Errorf("Version(%q, %q) = %s, want sha256(%q) = %s", tt.paths, tt.compression, got, tt.joined, want)
		}
	}
	if cacheservice.Version([]string{"a", "b"}, "gzip") == cacheservice.Version([]string{"b", "a"}, "gzip") {
		t.Error("path order must change the version, as in actions/cache")
	}
}

func TestKeysTheServiceWouldRefuseAreRejectedClearly(t *testing.T) {
	if err := cacheservice.ValidateKey(strings.Repeat("k", 512)); err != nil {
		t.Errorf("a 512-character key: %v, want accepted", err)
	}
	for key, want := range map[string]string{
		strings.Repeat("k", 513): "longer than 512 characters",
		"pip-linux,amd64":        "contains a comma",
		"":                       "is empty",
	} {
		err := cacheservice.ValidateKey(key)
		var ke *cacheservice.KeyError
		if !errors.As(err, &ke) || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateKey(%.20q...) = %v, want a KeyError saying %q", key, err, want)
		}
	}
	// Restore and Save refuse before any request: the client points nowhere.
	c, err := cacheservice.New(cacheservice.ProtocolV2, "http://127.0.0.1:1/", "token")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Restore(context.Background(), "ok", []string{"bad,key"}, version); !strings.Contains(fmt.Sprint(err), "comma") {
		t.Errorf("Restore with a comma in a restore key: %v, want a comma error", err)
	}
	if _, err := c.Restore(context.Background(), "k", strings.Split("a b c d e f g h i j", " "), version); !strings.Contains(fmt.Sprint(err), "more than 10 keys") {
		t.Errorf("Restore with 11 keys: %v, want the 10-key limit", err)
	}
	if _, err := c.Save(context.Background(), "a,b", version, strings.NewReader("x")); !strings.Contains(fmt.Sprint(err), "comma") {
		t.Errorf("Save with a comma in the key: %v, want a comma error", err)
	}
}

func TestProtocolIsChosenFromTheContainerEnvironment(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	const results, cache = "https://results-receiver.actions.githubusercontent.com/", "https://artifactcache.example/abc/"
	tests := []struct {
		name   string
		getenv func(string) string
		want   cacheservice.Protocol
		url    string
	}{
		{"github.com container action (no ACTIONS_CACHE_SERVICE_V2)", env("ACTIONS_RESULTS_URL", results, "ACTIONS_CACHE_URL", cache, "ACTIONS_RUNTIME_TOKEN", "t", "GITHUB_SERVER_URL", "https://github.com"), cacheservice.ProtocolV2, results},
		{"GitHub Enterprise Server", env("ACTIONS_RESULTS_URL", results, "ACTIONS_CACHE_URL", cache, "ACTIONS_RUNTIME_TOKEN", "t", "GITHUB_SERVER_URL", "https://ghes.corp.example"), cacheservice.ProtocolV1, cache},
		{"GHE.com data residency is github.com's service", env("ACTIONS_RESULTS_URL", results, "ACTIONS_RUNTIME_TOKEN", "t", "GITHUB_SERVER_URL", "https://acme.ghe.com"), cacheservice.ProtocolV2, results},
		{"nektos/act", env("ACT", "true", "ACTIONS_RESULTS_URL", "http://172.17.0.1:34567/", "ACTIONS_CACHE_URL", cache, "ACTIONS_RUNTIME_TOKEN", "t"), cacheservice.ProtocolV1, cache},
		{"forced v1", env("ACTIONS_CACHE_API_FORCE_VERSION", "v1", "ACTIONS_RESULTS_URL", results, "ACTIONS_CACHE_URL", cache, "ACTIONS_RUNTIME_TOKEN", "t"), cacheservice.ProtocolV1, cache},
		{"node-action style flag", env("ACTIONS_CACHE_SERVICE_V2", "True", "ACTIONS_RESULTS_URL", results, "ACTIONS_CACHE_URL", cache, "ACTIONS_RUNTIME_TOKEN", "t", "GITHUB_SERVER_URL", "https://ghes.corp.example"), cacheservice.ProtocolV2, results},
		{"only a v1 URL, no token", env("ACTIONS_CACHE_URL", cache), cacheservice.ProtocolV1, cache},
		{"*.localhost is no Enterprise Server (@actions/cache isGhes)", env("ACTIONS_RESULTS_URL", results, "ACTIONS_CACHE_URL", cache, "ACTIONS_RUNTIME_TOKEN", "t", "GITHUB_SERVER_URL", "http://octo.ghe.localhost"), cacheservice.ProtocolV2, results},
		{"ACTIONS_CACHE_SERVICE_V2=false decides nothing (buildx addGithubToken)", env("ACTIONS_CACHE_SERVICE_V2", "false", "ACTIONS_RESULTS_URL", results, "ACTIONS_CACHE_URL", cache, "ACTIONS_RUNTIME_TOKEN", "t"), cacheservice.ProtocolV2, results},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, err := cacheservice.Detect(tt.getenv)
			if err != nil || svc.Protocol != tt.want || svc.URL != tt.url || svc.Reason == "" {
				t.Fatalf("Detect = %+v, %v; want %s at %s with a reason", svc, err, tt.want, tt.url)
			}
			if _, err := cacheservice.FromEnv(tt.getenv); err != nil {
				t.Fatalf("FromEnv: %v", err)
			}
		})
	}
	if _, err := cacheservice.Detect(env()); !errors.Is(err, cacheservice.ErrNoService) {
		t.Errorf("empty environment: %v, want ErrNoService", err)
	}
	if _, err := cacheservice.Detect(env("ACT", "true", "ACTIONS_RESULTS_URL", "http://172.17.0.1:34567/")); !errors.Is(err, cacheservice.ErrNoService) {
		t.Errorf("act without its cache server: %v, want ErrNoService (act's results URL is no cache service)", err)
	}
	if _, err := cacheservice.Detect(env("ACTIONS_CACHE_API_FORCE_VERSION", "v3")); err == nil || errors.Is(err, cacheservice.ErrNoService) {
		t.Errorf("ACTIONS_CACHE_API_FORCE_VERSION=v3: %v, want an error naming it (BuildKit's client refuses it too)", err)
	}
	if _, err := cacheservice.Detect(env("ACTIONS_CACHE_API_FORCE_VERSION", "v1", "ACTIONS_RESULTS_URL", results, "ACTIONS_RUNTIME_TOKEN", "t")); !errors.Is(err, cacheservice.ErrNoService) {
		t.Errorf("v1 forced without ACTIONS_CACHE_URL: %v, want ErrNoService (ACTIONS_RESULTS_URL serves v2 only)", err)
	}
	if _, err := cacheservice.Detect(env("ACTIONS_RESULTS_URL", results)); err == nil || !strings.Contains(err.Error(), "ACTIONS_RUNTIME_TOKEN") {
		t.Errorf("v2 without a token: %v, want an error naming ACTIONS_RUNTIME_TOKEN", err)
	}
}

func TestSavedStreamRestoresByteForByte(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{ProxyBlobs: true})
	c := newClient(t, srv.Getenv)
	ctx := context.Background()

	sizes := map[string]int{
		"empty":                0,
		"smaller than a block": 1000,
		"exactly one block":    256 << 10,
		"many blocks":          5*(256<<10) + 12345,
	}
	for name, size := range sizes {
		t.Run(name, func(t *testing.T) {
			data := randomBytes(uint64(size), size)
			key := "roundtrip-" + strings.ReplaceAll(name, " ", "-")
			before := len(srv.CallsTo(cachetest.PutBlock))
			mustSave(t, c, key, data)
			e := mustRestore(t, c, key)
			if !e.Exact || e.Key != key || e.Size != int64(size) {
				t.Fatalf("Restore = %+v, want exact %s of %d bytes", e, key, size)
			}
			if got := download(t, e); !bytes.Equal(got, data) {
				t.Fatalf("restored %d bytes differ from the %d saved", len(got), len(data))
			}
			rc := e.Open(ctx)
			streamed, err := io.ReadAll(rc)
			if cerr := rc.Close(); err != nil || cerr != nil || !bytes.Equal(streamed, data) {
				t.Fatalf("Open: %d bytes, read error %v, close error %v; want the saved bytes", len(streamed), err, cerr)
			}
			blocks := len(srv.CallsTo(cachetest.PutBlock)) - before
			if wantBlocks := (size + (256 << 10) - 1) / (256 << 10); size > 256<<10 && blocks != wantBlocks {
				t.Errorf("uploaded in %d Put Block calls, want %d (one per block)", blocks, wantBlocks)
			}
		})
	}
	// The stream that fits one block went up as one Put Blob; the others as blocks plus a list.
	if n := len(srv.CallsTo(cachetest.PutBlob)); n != 3 {
		t.Errorf("%d Put Blob calls, want 3 (empty, small, one block)", n)
	}
	if n := len(srv.CallsTo(cachetest.PutBlockList)); n != 1 {
		t.Errorf("%d Put Block List calls, want 1", n)
	}
	// The large entry was read as ranges, not one GET.
	if n := len(srv.CallsTo(cachetest.GetBlob)); n < 6 {
		t.Errorf("%d GET calls on blobs, want ranged downloads (at least 6 for the 6-block entry)", n)
	}
}

func TestRestoreOrderExactThenPrefixThenRestoreKeysNewestFirst(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c := newClient(t, srv.Getenv)
	ctx := context.Background()
	t0 := time.Now().Add(-time.Hour)
	seed := func(key, ver string, age time.Duration) string {
		content := "content of " + key + " " + ver + " " + age.String()
		if _, err := srv.Seed(ctx, cachetest.SeedEntry{Key: key, Version: ver, CreatedAt: t0.Add(-age)}, strings.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		return content
	}
	exactOld := seed("deps-linux-1111", version, 30*time.Minute)
	prefixNew := seed("deps-linux-2222", version, 10*time.Minute)
	seed("deps-linux-3333", version, 20*time.Minute)
	otherOS := seed("deps-macos-4444", version, 0)
	seed("deps-linux-9999", "another-version", -time.Minute) // newest of all, but another version

	tests := []struct {
		name        string
		key         string
		restoreKeys []string
		want        string
		exact       bool
	}{
		{"exact key wins over newer prefix matches", "deps-linux-1111", []string{"deps-linux-", "deps-"}, exactOld, true},
		{"exact match ignores case, as actions/cache", "DEPS-Linux-1111", nil, exactOld, true},
		{"key as prefix: newest", "deps-linux-", []string{"deps-"}, prefixNew, false},
		{"first restore key that matches: newest", "deps-linux-0000", []string{"deps-linux-", "deps-"}, prefixNew, false},
		{"later restore key when earlier ones miss", "deps-windows-0000", []string{"deps-windows-", "deps-"}, otherOS, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustRestore(t, c, tt.key, tt.restoreKeys...)
			if got := string(download(t, e)); got != tt.want || e.Exact != tt.exact {
				t.Errorf("restored %q (key %s, exact %v), want %q (exact %v)", got, e.Key, e.Exact, tt.want, tt.exact)
			}
		})
	}
	for _, miss := range []struct {
		key, version string
	}{{"deps-windows-0000", version}, {"deps-linux-1111", "yet-another-version"}} {
		if e, err := c.Restore(ctx, miss.key, nil, miss.version); err != nil || e != nil {
			t.Errorf("Restore(%s, version %s) = %+v, %v; want a miss", miss.key, miss.version, e, err)
		}
	}
}

func TestPullRequestSeesMainButMainDoesNotSeeThePullRequest(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{Scopes: []string{"refs/heads/main"}})
	c := newClient(t, srv.Getenv)
	ctx := context.Background()
	mustSave(t, c, "pip-main", []byte("from main"))

	srv.SetScopes("refs/pull/7/merge", "refs/heads/main")
	if got := string(download(t, mustRestore(t, c, "pip-pr", "pip-"))); got != "from main" {
		t.Fatalf("pull request restored %q, want main's entry", got)
	}
	mustSave(t, c, "pip-pr", []byte("from the PR"))
	if got := string(download(t, mustRestore(t, c, "pip-pr", "pip-"))); got != "from the PR" {
		t.Fatalf("pull request restored %q, want its own entry first", got)
	}

	srv.SetScopes("refs/heads/main")
	if e, err := c.Restore(ctx, "pip-pr", nil, version); err != nil || e != nil {
		t.Fatalf("main restored the pull request's entry: %+v, %v", e, err)
	}
}

func TestSecondSaveOfAKeyIsReportedAsAlreadyExistsWithoutReading(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c := newClient(t, srv.Getenv)
	mustSave(t, c, "pip-abc", []byte("first"))

	untouched := iotest.ErrReader(errors.New("the stream was read"))
	res, err := c.Save(context.Background(), "pip-abc", version, untouched)
	if err != nil || !res.AlreadyExists || res.Reason == "" {
		t.Fatalf("second Save = %+v, %v; want AlreadyExists with the service's reason and no error", res, err)
	}
	if n := len(srv.CallsTo(cachetest.FinalizeCacheEntryUpload)); n != 1 {
		t.Errorf("%d finalize calls, want 1: the second save must not write", n)
	}
	if got := string(download(t, mustRestore(t, c, "pip-abc"))); got != "first" {
		t.Errorf("restored %q, want the first save's content", got)
	}
}

func TestConcurrentSavesOfOneKeyStoreOneAndReportTheOther(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c := newClient(t, srv.Getenv)
	contents := [][]byte{randomBytes(1, 700<<10), randomBytes(2, 900<<10)}
	results := make([]cacheservice.SaveResult, 2)
	errs := make([]error, 2)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range contents {
		wg.Go(func() {
			<-start
			results[i], errs[i] = c.Save(context.Background(), "pip-race", version, bytes.NewReader(contents[i]))
		})
	}
	close(start)
	wg.Wait()

	saved := -1
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("save %d: %v", i, errs[i])
		}
		if !results[i].AlreadyExists {
			if saved >= 0 {
				t.Fatalf("both saves stored the key: %+v", results)
			}
			saved = i
		}
	}
	if saved < 0 {
		t.Fatalf("neither save stored the key: %+v", results)
	}
	if got := download(t, mustRestore(t, c, "pip-race")); !bytes.Equal(got, contents[saved]) {
		t.Errorf("restored %d bytes, want the winning save's %d", len(got), len(contents[saved]))
	}
}

func TestThrottledRequestsWaitAsRetryAfterSays(t *testing.T) {
	t.Parallel() // waits on real time (SAS expiry, Retry-After): overlap them
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	w := &warnings{}
	// The backoff is 5 ms: any longer wait comes from Retry-After.
	c := newClient(t, srv.Getenv, cacheservice.WithWarnf(w.warnf),
		cacheservice.WithRetryPolicy(cacheservice.RetryPolicy{MaxRetryAfter: 400 * time.Millisecond}))
	mustSave(t, c, "pip-throttle", []byte("x"))

	t.Run("seconds", func(t *testing.T) {
		c := newClient(t, srv.Getenv, cacheservice.WithWarnf(w.warnf))
		srv.Inject(cachetest.Fault{Op: cachetest.GetCacheEntryDownloadURL, Status: http.StatusTooManyRequests, RetryAfter: "1"})
		start := time.Now()
		mustRestore(t, c, "pip-throttle")
		if d := time.Since(start); d < time.Second || d > 5*time.Second {
			t.Errorf("restore took %s, want about the 1 s Retry-After", d)
		}
		if !strings.Contains(w.all(), "retry after 1s") {
			t.Errorf("warnings %q do not mention the throttling", w.all())
		}
	})
	t.Run("HTTP date longer than the step waits", func(t *testing.T) {
		// GitHub's rule: no retry before Retry-After. Two minutes is more than
		// this client may wait (400 ms): it gives up at once, without a retry.
		later := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
		srv.Inject(cachetest.Fault{Op: cachetest.CreateCacheEntry, Status: http.StatusTooManyRequests, RetryAfter: later})
		start := time.Now()
		_, err := c.Save(context.Background(), "pip-throttle-2", version, bytes.NewReader([]byte("y")))
		var te *cacheservice.ThrottledError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "giving up on this cache") {
			t.Fatalf("save throttled for 2 minutes = %v, want a ThrottledError that gives up on the cache", err)
		}
		if te.Wait < 110*time.Second || te.Status != http.StatusTooManyRequests {
			t.Errorf("ThrottledError %+v: want the 2-minute wait and the 429", te)
		}
		if d := time.Since(start); d > 300*time.Millisecond {
			t.Errorf("giving up took %s: it should not wait at all", d)
		}
		if n := len(srv.CallsTo(cachetest.CreateCacheEntry)); n != 2 {
			t.Errorf("%d CreateCacheEntry calls, want 2: the throttled one must not be retried", n)
		}
	})
	if es := srv.Entries(); len(es) != 1 {
		t.Errorf("entries %+v, want only the first save", es)
	}
}

// A Retry-After holds every later request of the client to that server, not only the
// retry of the request that got it: the next call waits until the time it named.
func TestRetryAfterHoldsTheClientsNextRequestToo(t *testing.T) {
	t.Parallel() // waits on real time (SAS expiry, Retry-After): overlap them
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c := newClient(t, srv.Getenv, cacheservice.WithRetryPolicy(cacheservice.RetryPolicy{MaxAttempts: 1}))
	srv.Inject(cachetest.Fault{Op: cachetest.GetCacheEntryDownloadURL, Status: http.StatusTooManyRequests, RetryAfter: "2"})
	if _, err := c.Restore(context.Background(), "pip-held", nil, version); err == nil {
		t.Fatal("the throttled restore (one attempt allowed) did not fail")
	}
	mustSave(t, c, "pip-held", []byte("z"))
	throttled, next := srv.CallsTo(cachetest.GetCacheEntryDownloadURL)[0], srv.CallsTo(cachetest.CreateCacheEntry)[0]
	if gap := next.At.Sub(throttled.At); gap < 2*time.Second {
		t.Errorf("the next call came %s after a 429 with Retry-After: 2; want at least 2 s", gap)
	}
}

// The time the step allows is also the context's deadline: a Retry-After beyond it
// gives up at once instead of sleeping into the deadline.
func TestRetryAfterPastTheDeadlineGivesUpAtOnce(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c := newClient(t, srv.Getenv)
	srv.Inject(cachetest.Fault{Op: cachetest.GetCacheEntryDownloadURL, Status: http.StatusServiceUnavailable, RetryAfter: "5"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Restore(ctx, "pip-deadline", nil, version)
	var te *cacheservice.ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("restore with a 5 s Retry-After and 2 s left = %v, want a ThrottledError", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("gave up after %s, want at once", d)
	}
	if n := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL)); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
}

func TestServerErrorsAreRetriedThenGivenUp(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{ProxyBlobs: true})
	c := newClient(t, srv.Getenv)
	data := randomBytes(3, 3*(256<<10)+10)

	srv.Inject(cachetest.Fault{Op: cachetest.CreateCacheEntry, Status: 500, Times: 2})
	srv.Inject(cachetest.Fault{Op: cachetest.PutBlock, Status: 503, Times: 2})
	srv.Inject(cachetest.Fault{Op: cachetest.FinalizeCacheEntryUpload, Status: 502})
	mustSave(t, c, "pip-flaky", data)
	if n := len(srv.CallsTo(cachetest.CreateCacheEntry)); n != 3 {
		t.Errorf("%d CreateCacheEntry calls, want 3 (two 500s, then success)", n)
	}

	srv.Inject(cachetest.Fault{Op: cachetest.GetBlob, Status: 500})
	if got := download(t, mustRestore(t, c, "pip-flaky")); !bytes.Equal(got, data) {
		t.Fatal("bytes restored after retried blocks and ranges differ from the saved ones")
	}

	srv.Inject(cachetest.Fault{Op: cachetest.GetCacheEntryDownloadURL, Status: 500, Times: 4})
	_, err := c.Restore(context.Background(), "pip-flaky", nil, version)
	var se *cacheservice.StatusError
	if !errors.As(err, &se) || se.StatusCode != 500 || !strings.Contains(err.Error(), "gave up after 4 attempts") {
		t.Errorf("restore after 4 errors = %v, want the 500 and 'gave up after 4 attempts'", err)
	}

	srv.Inject(cachetest.Fault{Op: cachetest.GetCacheEntryDownloadURL, Status: 400})
	before := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL))
	if _, err := c.Restore(context.Background(), "pip-flaky", nil, version); err == nil {
		t.Error("restore answered 400: no error")
	}
	if n := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL)) - before; n != 1 {
		t.Errorf("a 400 was tried %d times, want once (not retryable)", n)
	}
}

func TestALostFinalizeAnswerStillReportsTheEntryItSaved(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c := newClient(t, srv.Getenv)
	data := randomBytes(4, 100<<10)

	// The finalize takes effect but its answer is lost; the retry finds the
	// reservation gone. The entry is there, so the save must say it saved.
	srv.Inject(cachetest.Fault{Op: cachetest.FinalizeCacheEntryUpload, Status: 502, Lost: true})
	res, err := c.Save(context.Background(), "pip-lost-answer", version, bytes.NewReader(data))
	if err != nil || res.AlreadyExists || res.Size != int64(len(data)) {
		t.Fatalf("Save after a lost finalize answer = %+v, %v; want %d bytes saved and no error", res, err, len(data))
	}
	if !slices.ContainsFunc(srv.CallsTo(cachetest.FinalizeCacheEntryUpload), func(c cachetest.Call) bool { return c.Fault }) {
		t.Fatal("the lost answer was never injected")
	}
	if got := download(t, mustRestore(t, c, "pip-lost-answer")); !bytes.Equal(got, data) {
		t.Fatal("restored bytes differ from the saved ones")
	}

	// A finalize that really fails is still a failed save.
	srv.Inject(cachetest.Fault{Op: cachetest.FinalizeCacheEntryUpload, Status: 400})
	if _, err := c.Save(context.Background(), "pip-refused", version, bytes.NewReader(data)); err == nil {
		t.Error("Save whose finalize was refused: no error")
	}
	if e, err := c.Restore(context.Background(), "pip-refused", nil, version); err != nil || e != nil {
		t.Errorf("Restore after a refused finalize = %+v, %v; want a miss", e, err)
	}
}

func TestALostV1CommitAnswerStillReportsTheEntryItSaved(t *testing.T) {
	act := cachetest.StartV1(t)
	target, err := url.Parse(act.URL)
	if err != nil {
		t.Fatal(err)
	}
	// In front of act's server: the first commit (POST caches/<id>) is served,
	// then answered 502, as if the answer were lost on the way back.
	proxy := httputil.NewSingleHostReverseProxy(target)
	var lost atomic.Bool
	commit := regexp.MustCompile(`/caches/[0-9]+$`)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && commit.MatchString(r.URL.Path) && lost.CompareAndSwap(false, true) {
			proxy.ServeHTTP(httptest.NewRecorder(), r)
			http.Error(w, "answer lost", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	getenv := func(name string) string {
		if name == "ACTIONS_CACHE_URL" {
			return front.URL + "/"
		}
		return act.Getenv(name)
	}
	c := newClient(t, getenv)
	data := randomBytes(6, 300<<10)
	res, err := c.Save(context.Background(), "pip-v1-lost", version, bytes.NewReader(data))
	if err != nil || res.Size != int64(len(data)) {
		t.Fatalf("Save after a lost commit answer = %+v, %v; want %d bytes saved and no error", res, err, len(data))
	}
	if !lost.Load() {
		t.Fatal("the commit's answer was never lost")
	}
	if got := download(t, mustRestore(t, c, "pip-v1-lost")); !bytes.Equal(got, data) {
		t.Fatal("restored bytes differ from the saved ones")
	}
}

func TestHungServerEndsInATimeoutWithinTheBound(t *testing.T) {
	t.Parallel() // waits on real time (SAS expiry, Retry-After): overlap them
	srv := cachetest.StartV2(t, cachetest.V2Options{ProxyBlobs: true})
	const timeout = 200 * time.Millisecond
	c := newClient(t, srv.Getenv,
		cacheservice.WithRequestTimeout(timeout), cacheservice.WithStallTimeout(timeout),
		cacheservice.WithRetryPolicy(cacheservice.RetryPolicy{MaxAttempts: 2}))
	mustSave(t, c, "pip-hang", randomBytes(4, 300<<10))
	// Two attempts of 200 ms plus one short backoff, plus slack for a loaded machine.
	const bound = 2*timeout + 50*time.Millisecond + 1500*time.Millisecond

	t.Run("service call", func(t *testing.T) {
		srv.Inject(cachetest.Fault{Op: cachetest.GetCacheEntryDownloadURL, Hang: true, Times: 2})
		start := time.Now()
		_, err := c.Restore(context.Background(), "pip-hang", nil, version)
		elapsed := time.Since(start)
		var te *cacheservice.TimeoutError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("Restore from a hung service = %v, want a timeout error that says so", err)
		}
		if elapsed > bound {
			t.Errorf("gave up after %s, want within %s", elapsed, bound)
		}
	})
	t.Run("blob transfer", func(t *testing.T) {
		e := mustRestore(t, c, "pip-hang")
		srv.Inject(cachetest.Fault{Op: cachetest.GetBlob, Hang: true, Times: 10})
		start := time.Now()
		_, err := e.Download(context.Background(), io.Discard)
		elapsed := time.Since(start)
		if !strings.Contains(fmt.Sprint(err), "timed out: no data moved") {
			t.Fatalf("Download from a hung blob store = %v, want a stall timeout", err)
		}
		if elapsed > bound {
			t.Errorf("gave up after %s, want within %s", elapsed, bound)
		}
	})
}

func TestV1RoundTripAgainstActsCacheServer(t *testing.T) {
	act := cachetest.StartV1(t)
	c := newClient(t, act.Getenv)
	if c.Protocol() != cacheservice.ProtocolV1 {
		t.Fatalf("under act the client speaks %s, want v1", c.Protocol())
	}
	data := randomBytes(5, 4*(256<<10)+999)
	mustSave(t, c, "pip-Linux-abc", data)

	e := mustRestore(t, c, "pip-Linux-abc")
	if !e.Exact || e.Size != int64(len(data)) {
		t.Errorf("Restore = %+v, want an exact hit of %d bytes (act lower-cases keys)", e, len(data))
	}
	if got := download(t, e); !bytes.Equal(got, data) {
		t.Fatalf("restored %d bytes differ from the %d saved", len(got), len(data))
	}
	partial := mustRestore(t, c, "pip-linux-def", "pip-linux-")
	if partial.Exact {
		t.Error("a restore-key match is reported exact")
	}
	if got := download(t, partial); !bytes.Equal(got, data) {
		t.Fatal("restore-key match: wrong bytes")
	}
	if e, err := c.Restore(context.Background(), "pip-windows", nil, version); e != nil || err != nil {
		t.Errorf("Restore of an unknown key = %+v, %v; want a miss", e, err)
	}
	if e, err := c.Restore(context.Background(), "pip-Linux-abc", nil, "other-version"); e != nil || err != nil {
		t.Errorf("Restore with another version = %+v, %v; want a miss", e, err)
	}
}

// Signed storage URLs expire (about 10 minutes on github.com). The stand-in's Azurite
// enforces the SAS expiry itself with a 403, as Azure does; Azure's code is
// AuthenticationFailed ("Signed expiry time ... has to be after the current time"),
// Azurite 3's is AuthorizationFailure. The client reloads the URL on any 401/403.
func TestAnExpiredSignedURLIsRefusedByTheStorage(t *testing.T) {
	t.Parallel() // waits on real time (SAS expiry, Retry-After): overlap them
	srv := cachetest.StartV2(t, cachetest.V2Options{URLLifetime: time.Second})
	c := newClient(t, srv.Getenv)
	if _, err := srv.Seed(context.Background(), cachetest.SeedEntry{Key: "pip-expiring", Version: version}, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	u := mustRestore(t, c, "pip-expiring").Source().URL
	time.Sleep(2 * time.Second) // the SAS se= is whole seconds
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("x-ms-version", "2024-11-04")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code := resp.Header.Get("x-ms-error-code"); resp.StatusCode != http.StatusForbidden || (code != "AuthenticationFailed" && code != "AuthorizationFailure") {
		t.Errorf("GET with an expired SAS: HTTP %d %q, want 403 AuthenticationFailed (Azure) or AuthorizationFailure (Azurite)", resp.StatusCode, code)
	}
}

// A download that outlives its signed URL asks the service for a fresh one when the
// storage refuses it (as BuildKit's gha cache does), once for all the ranges refused.
func TestADownloadThatOutlivesItsURLGetsAFreshOne(t *testing.T) {
	t.Parallel() // waits on real time (SAS expiry, Retry-After): overlap them
	srv := cachetest.StartV2(t, cachetest.V2Options{URLLifetime: 2 * time.Second, ProxyBlobs: true})
	var mu sync.Mutex
	masked := map[string]bool{}
	c := newClient(t, srv.Getenv, cacheservice.WithMask(func(s string) { mu.Lock(); masked[s] = true; mu.Unlock() }))
	data := randomBytes(9, 5*(256<<10)+77)
	// Seeded: an upload cannot outlive a two-second URL either.
	if _, err := srv.Seed(context.Background(), cachetest.SeedEntry{Key: "pip-outlived", Version: version}, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	e := mustRestore(t, c, "pip-outlived")
	first := e.Source().URL
	lookups := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL))
	time.Sleep(3 * time.Second) // the SAS se= is whole seconds
	if got := download(t, e); !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes that differ from the %d saved", len(got), len(data))
	}
	refused := 0
	for _, call := range srv.CallsTo(cachetest.GetBlob) {
		if call.Status == http.StatusForbidden {
			refused++
		}
	}
	if refused == 0 {
		t.Error("no GET was refused: the test did not outlive the URL")
	}
	if n := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL)) - lookups; n != 1 {
		t.Errorf("%d lookups for a fresh URL after %d refused ranges, want exactly 1", n, refused)
	}
	mu.Lock()
	defer mu.Unlock()
	if now := e.Source().URL; now == first || !masked[now] {
		t.Errorf("the fresh URL was not handed to WithMask (fresh: %v, masked: %v)", now != first, masked[now])
	}
}

// Storage that refuses connections costs the restore one set of retries: not a second
// set for the GET fallback of the probe (which is for storage that refuses HEAD), and
// none for a download that could only fail the same way.
func TestStorageThatRefusesConnectionsCostsOneSetOfRetries(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{RefuseDownloads: true})
	w := &warnings{}
	c := newClient(t, srv.Getenv, cacheservice.WithWarnf(w.warnf))
	if _, err := srv.Seed(context.Background(), cachetest.SeedEntry{Key: "pip-refused", Version: version}, strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	e := mustRestore(t, c, "pip-refused")
	if e.Unreachable() == nil {
		t.Fatalf("entry behind a refusing storage: Unreachable() = nil; warnings:\n%s", w.all())
	}
	if strings.Contains(w.all(), "GET first byte") {
		t.Errorf("the probe retried a GET after the HEAD got no answer at all:\n%s", w.all())
	}
	if n := strings.Count(w.all(), "retrying"); n != fastRetries.MaxAttempts-1 {
		t.Errorf("%d retries, want %d (one set)", n, fastRetries.MaxAttempts-1)
	}
	before := strings.Count(w.all(), "retrying")
	if _, err := e.Download(context.Background(), io.Discard); err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("download from a storage that did not answer = %v, want an error saying so", err)
	}
	if n := strings.Count(w.all(), "retrying") - before; n != 0 {
		t.Errorf("the download retried %d times more", n)
	}
}

func TestAStagedEntryIsFoundOnlyOnceCommitted(t *testing.T) {
	servers := map[string]func(string) string{
		"v2": cachetest.StartV2(t, cachetest.V2Options{}).Getenv,
		"v1": cachetest.StartV1(t).Getenv,
	}
	for name, getenv := range servers {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, getenv)
			ctx := context.Background()
			key := "record-" + name
			st, err := c.Stage(ctx, key, version, strings.NewReader("staged"))
			if err != nil || st.AlreadyExists() {
				t.Fatalf("Stage = %+v, %v; want an upload waiting for its commit", st, err)
			}
			if e, err := c.Restore(ctx, key, nil, version); err != nil || e != nil {
				t.Fatalf("Restore before the commit = %+v, %v; want a miss: a staged entry is not visible", e, err)
			}
			res, err := st.Commit(ctx)
			if err != nil || res.Size != int64(len("staged")) {
				t.Fatalf("Commit = %+v, %v; want 6 bytes saved", res, err)
			}
			if got := string(download(t, mustRestore(t, c, key))); got != "staged" {
				t.Errorf("restored %q after the commit, want %q", got, "staged")
			}
			if name == "v1" {
				return // act's cache server reserves a saved key again (the v2 service answers 409)
			}
			again, err := c.Stage(ctx, key, version, iotest.ErrReader(errors.New("the stream was read")))
			if err != nil || !again.AlreadyExists() {
				t.Fatalf("Stage of a saved key = %+v, %v; want AlreadyExists without reading", again, err)
			}
			if res, err := again.Commit(ctx); err != nil || !res.AlreadyExists {
				t.Errorf("Commit of an existing entry = %+v, %v; want its AlreadyExists, no call", res, err)
			}
		})
	}
}
