package ghaaccel

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	actionscache "github.com/tonistiigi/go-actions-cache"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// sniffer records what the client (BuildKit's go-actions-cache) receives.
type sniffer struct {
	mu     sync.Mutex
	bodies []string
}

func (s *sniffer) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || !strings.Contains(r.URL.Path, "/twirp/") {
		return resp, err
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(b))
	s.mu.Lock()
	s.bodies = append(s.bodies, string(b))
	s.mu.Unlock()
	return resp, nil
}

func startProxy(t *testing.T, srv *cachetest.V2Server, opt Options) *Proxy {
	t.Helper()
	opt.Upstream = srv.URL()
	p, err := Start("127.0.0.1:0", opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	return p
}

// closeProxy closes p as the action does after its build and returns what it counted:
// a request's bytes are counted as its handler ends, which may be just after the client
// read the last of them, and Close waits for every handler.
func closeProxy(t *testing.T, p *Proxy) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("close the accelerator: %v", err)
	}
	return p.Stats()
}

func client(t *testing.T, url, token string, rt http.RoundTripper) *actionscache.Cache {
	t.Helper()
	c, err := actionscache.New(token, url, true, actionscache.Opt{Client: &http.Client{Transport: rt}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// saveIndex writes a cache index as BuildKit's gha exporter does after its blobs
// (SaveMutable of "index-<scope>...").
func saveIndex(t *testing.T, c *actionscache.Cache) {
	t.Helper()
	err := c.SaveMutable(context.Background(), "index-buildkit-1-test", 15*time.Second, func(*actionscache.Entry) (actionscache.Blob, error) {
		return actionscache.NewBlob([]byte("{}")), nil
	})
	if err != nil {
		t.Fatalf("save the index: %v", err)
	}
}

func readAll(t *testing.T, ctx context.Context, e *actionscache.Entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := e.WriteTo(ctx, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// What BuildKit writes through the accelerator, BuildKit reads without it, and the other
// way; the client never sees a signed URL.
func TestAcceleratedBlobsAreTheServicesOwnBothWays(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, ProxyBlobs: true})
	// A link slower than any connection: big blobs come in parallel ranges.
	p := startProxy(t, srv, Options{Parallelism: 4, RangeSize: 1 << 20, StreamRate: math.MaxFloat64})
	sniff := &sniffer{}
	viaProxy := client(t, p.URL("127.0.0.1"), token, sniff)
	direct := client(t, srv.URL(), token, http.DefaultTransport)
	ctx := context.Background()

	blob := make([]byte, 5<<20+12345) // six 1 MiB blocks, the last one short
	_, _ = rand.Read(blob)
	if err := viaProxy.Save(ctx, "buildkit-blob-1-sha256:aaa", actionscache.NewBlob(blob)); err != nil {
		t.Fatalf("save through the accelerator: %v", err)
	}
	saveIndex(t, viaProxy) // as BuildKit does after its blobs: their commits are behind it
	e, err := direct.Load(ctx, "buildkit-blob-1-sha256:aaa")
	if err != nil || e == nil {
		t.Fatalf("plain load of what the accelerator saved: %v %v", e, err)
	}
	if got := readAll(t, ctx, e); !bytes.Equal(got, blob) {
		t.Fatalf("plain read: %d bytes, want the %d saved", len(got), len(blob))
	}
	if n := len(srv.CallsTo(cachetest.PutBlock)); n != 6 {
		t.Errorf("%d Put Block at the storage, want the client's 6 (same blocks)", n)
	}

	other := make([]byte, 3<<20+7)
	_, _ = rand.Read(other)
	if err := direct.Save(ctx, "buildkit-blob-1-sha256:bbb", actionscache.NewBlob(other)); err != nil {
		t.Fatal(err)
	}
	e, err = viaProxy.Load(ctx, "buildkit-blob-1-sha256:bbb")
	if err != nil || e == nil {
		t.Fatalf("load through the accelerator: %v %v", e, err)
	}
	if got := readAll(t, ctx, e); !bytes.Equal(got, other) {
		t.Fatalf("accelerated read: %d bytes differ from the %d saved", len(got), len(other))
	}
	// A read from the middle, as BuildKit's ReaderAt does after a seek.
	ra := e.Download(ctx)
	part := make([]byte, 1000)
	if _, err := ra.ReadAt(part, 2<<20+5); err != nil || !bytes.Equal(part, other[2<<20+5:2<<20+1005]) {
		t.Fatalf("ranged read through the accelerator: %v", err)
	}
	ra.Close()
	st := closeProxy(t, p)
	if gets := len(srv.CallsTo(cachetest.GetBlob)); gets < 4 {
		t.Errorf("%d GETs at the storage for a 3 MiB blob in 1 MiB ranges, want >= 4 (parallel ranges)", gets)
	}
	if st.UploadedBytes != int64(len(blob))+2 || st.DownloadedBytes < int64(len(other)) || st.BlobsUploaded != 2 {
		t.Errorf("stats %+v: want %d bytes up in 2 blobs (the layer, the index), >= %d down", st, len(blob)+2, len(other))
	}
	for _, b := range sniff.bodies {
		if strings.Contains(b, "sig=") || strings.Contains(b, cachetest.AzuriteAccount) {
			t.Errorf("an answer to the client carries the storage's signed URL: %s", b)
		}
	}
}

// A Put Block List reaches the storage only after every block landed; a block the storage
// refused once is put again from the held bytes.
func TestBlocksAreRetriedFromHeldBytesAndTheListWaitsForThem(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, ProxyBlobs: true})
	p := startProxy(t, srv, Options{Parallelism: 4})
	p.opt.sleep = func(context.Context, time.Duration) error { return nil }
	srv.Inject(cachetest.Fault{Op: cachetest.PutBlock, Status: 503, Times: 2})
	c := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport)
	blob := make([]byte, 3<<20)
	_, _ = rand.Read(blob)
	if err := c.Save(context.Background(), "k", actionscache.NewBlob(blob)); err != nil {
		t.Fatalf("save: %v", err)
	}
	var lastBlock, list time.Time
	for _, call := range srv.Calls() {
		switch {
		case call.Op == cachetest.PutBlock && call.Status == 201:
			lastBlock = call.At
		case call.Op == cachetest.PutBlockList:
			list = call.At
		}
	}
	if list.IsZero() || list.Before(lastBlock) {
		t.Errorf("Put Block List at %v, before the last block landed at %v", list, lastBlock)
	}
	e, _ := client(t, srv.URL(), token, http.DefaultTransport).Load(context.Background(), "k")
	if e == nil || !bytes.Equal(readAll(t, context.Background(), e), blob) {
		t.Fatal("the blob saved after retried blocks is not the one written")
	}
}

// A 429 on CreateCacheEntry is waited out as Retry-After says, not passed back.
func TestCreateOverTheUploadLimitWaitsRetryAfterAndCountsIt(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token})
	var waits []time.Duration
	p := startProxy(t, srv, Options{})
	p.opt.sleep = func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	srv.Inject(cachetest.Fault{Op: cachetest.CreateCacheEntry, Status: 429, RetryAfter: "7", Times: 2})
	c := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport)
	if err := c.Save(context.Background(), "k", actionscache.NewBlob([]byte("x"))); err != nil {
		t.Fatalf("save under 429: %v", err)
	}
	if len(waits) != 2 || waits[0] != 7*time.Second || waits[1] != 7*time.Second {
		t.Errorf("waits %v, want two of 7s (Retry-After, never less)", waits)
	}
	if st := p.Stats(); st.RateLimitWaits != 2 || st.RateLimitWait != 14*time.Second {
		t.Errorf("stats %+v, want 2 waits of 14s in all", st)
	}
}

// Retry-After is the service's word, not trusted: a number past any budget (one that
// overflowed into a negative wait when the accelerator parsed it on its own) hands the 429
// back to BuildKit at once instead of retrying in a tight loop.
func TestAnAbsurdRetryAfterIsHandedBackNotSpunOn(t *testing.T) {
	var calls int
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		calls++
		w.Header().Set("Retry-After", "99999999999999999")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, `{"code":"resource_exhausted","msg":"slow down"}`)
	}))
	t.Cleanup(upstream.Close)
	p, err := Start("127.0.0.1:0", Options{Upstream: upstream.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close(context.Background()) })
	var slept []time.Duration
	p.opt.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	status, _, _, err := p.send(context.Background(), &twirpCall{method: "CreateCacheEntry", header: http.Header{}, body: []byte(`{}`)})
	if err != nil || status != http.StatusTooManyRequests {
		t.Fatalf("status %d, %v: want the 429 handed back", status, err)
	}
	if calls != 1 || len(slept) != 0 {
		t.Errorf("%d calls, slept %v: want one call and no wait (the asked wait is past MaxWait)", calls, slept)
	}
}

// A download URL that expired (the storage answers 403) is asked for again with BuildKit's
// own lookup, as go-actions-cache's downloadV2 does, and the download goes on.
func TestAnExpiredDownloadURLIsAskedForAgain(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token})
	p := startProxy(t, srv, Options{RangeSize: 1 << 20})
	ctx := context.Background()
	blob := make([]byte, 2<<20+3)
	_, _ = rand.Read(blob)
	if err := client(t, srv.URL(), token, http.DefaultTransport).Save(ctx, "k", actionscache.NewBlob(blob)); err != nil {
		t.Fatal(err)
	}
	srv.SetURLLifetime(time.Second)
	e, err := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport).Load(ctx, "k")
	if err != nil || e == nil {
		t.Fatalf("load: %v", err)
	}
	srv.SetURLLifetime(time.Hour)
	time.Sleep(2100 * time.Millisecond) // the handed-out URL is past its se=
	// A plain GET of the local URL: no client-side reload (go-actions-cache would reload
	// on the 403 itself), so only the accelerator's own refresh can make it succeed.
	resp, err := http.Get(e.URL)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, blob) {
		t.Fatalf("GET after expiry: %d, %d bytes, want 200 with the %d saved", resp.StatusCode, len(got), len(blob))
	}
	if n := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL)); n != 2 {
		t.Errorf("%d lookups, want 2: BuildKit's and the accelerator's refresh", n)
	}
}

// A block that cannot be uploaded makes the blob's Put Block List fail at once (400
// InvalidBlockList, which azblob does not retry): BuildKit says the blob was not written,
// and nothing is finalized with missing blocks.
func TestABlockThatFailsForGoodFailsTheBlobNotTheProcess(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, ProxyBlobs: true})
	p := startProxy(t, srv, Options{})
	p.opt.sleep = func(context.Context, time.Duration) error { return nil }
	srv.Inject(cachetest.Fault{Op: cachetest.PutBlock, Status: 500, Times: 100})
	blob := make([]byte, 2<<20)
	start := time.Now()
	err := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport).Save(context.Background(), "k", actionscache.NewBlob(blob))
	if err == nil {
		t.Fatal("saved a blob whose blocks all failed")
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("took %s to fail: the block list answer was retried", time.Since(start))
	}
	if strings.Contains(err.Error(), "sig=") {
		t.Errorf("the error leaks a signed URL: %v", err)
	}
	for _, e := range srv.Entries() {
		if e.Finalized {
			t.Errorf("entry %s finalized without its blocks", e.Key)
		}
	}
	if p.Stats().Errors == 0 {
		t.Error("the failed blocks were not counted")
	}
}

// StreamDownloads: a GET goes to the storage as one stream, still counted.
func TestStreamedDownloadsAreOneRequestAndCounted(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, ProxyBlobs: true})
	p := startProxy(t, srv, Options{RangeSize: 1 << 20, StreamDownloads: true})
	ctx := context.Background()
	blob := make([]byte, 3<<20+1)
	_, _ = rand.Read(blob)
	if err := client(t, srv.URL(), token, http.DefaultTransport).Save(ctx, "k", actionscache.NewBlob(blob)); err != nil {
		t.Fatal(err)
	}
	e, _ := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport).Load(ctx, "k")
	if got := readAll(t, ctx, e); !bytes.Equal(got, blob) {
		t.Fatal("streamed download differs")
	}
	st := closeProxy(t, p)
	if gets := len(srv.CallsTo(cachetest.GetBlob)); gets != 1 {
		t.Errorf("%d GETs, want 1 stream", gets)
	}
	if st.DownloadedBytes != int64(len(blob)) {
		t.Errorf("downloaded %d, want %d", st.DownloadedBytes, len(blob))
	}
}

// rangedGets are the storage GETs of a range of at most max bytes (x-ms-range bytes=a-b).
func rangedGets(srv *cachetest.V2Server, max int64) (n int) {
	for _, c := range srv.CallsTo(cachetest.GetBlob) {
		var a, b int64
		if _, err := fmt.Sscanf(c.Range, "bytes=%d-%d", &a, &b); err == nil && b-a+1 <= max {
			n++
		}
	}
	return n
}

// The first big blob decides how every blob is read: where one connection is slower than
// StreamRate (a capped link), the rest of it and the blobs after it come in parallel
// ranges; where it is faster (the storage on the same machine), one stream each.
func TestTheFirstBigBlobsRateDecidesRangesOrOneStream(t *testing.T) {
	for _, tc := range []struct {
		name     string
		readRate int64 // the storage's bytes/s per GET, 0: as fast as it goes
		rate     float64
		way      string
		getsEach int // storage GETs per 3 MiB blob
	}{
		{"a capped link: ranges", 20 << 20, 200e6, "parallel ranges", 3},
		{"a link as fast as the machine: one stream", 0, 1e3, "one stream", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := cachetest.RuntimeToken("refs/heads/main")
			srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, ProxyBlobs: true})
			p := startProxy(t, srv, Options{RangeSize: 1 << 20, StreamRate: tc.rate})
			ctx := context.Background()
			direct := client(t, srv.URL(), token, http.DefaultTransport)
			viaProxy := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport)
			blobs := map[string][]byte{}
			for _, k := range []string{"buildkit-blob-1-sha256:one", "buildkit-blob-1-sha256:two"} {
				blobs[k] = make([]byte, 3<<20)
				_, _ = rand.Read(blobs[k])
				if err := direct.Save(ctx, k, actionscache.NewBlob(blobs[k])); err != nil {
					t.Fatal(err)
				}
			}
			srv.SetBlobReadRate(tc.readRate)
			before := len(srv.CallsTo(cachetest.GetBlob))
			for _, k := range []string{"buildkit-blob-1-sha256:one", "buildkit-blob-1-sha256:two"} {
				e, err := viaProxy.Load(ctx, k)
				if err != nil || e == nil {
					t.Fatalf("load %s: %v %v", k, e, err)
				}
				if got := readAll(t, ctx, e); !bytes.Equal(got, blobs[k]) {
					t.Fatalf("%s read differs", k)
				}
			}
			st := closeProxy(t, p)
			if st.DownloadWay != tc.way {
				t.Errorf("download way %q (probed %d B/s), want %q", st.DownloadWay, st.ProbedRate, tc.way)
			}
			if gets := len(srv.CallsTo(cachetest.GetBlob)) - before; gets != 2*tc.getsEach {
				t.Errorf("%d storage GETs for two 3 MiB blobs, want %d", gets, 2*tc.getsEach)
			}
			if tc.getsEach > 1 && rangedGets(srv, 1<<20) != 2*tc.getsEach-1 {
				// The first blob's probe asks for all of it; every other GET is one range.
				t.Errorf("%d GETs of one 1 MiB range, want %d", rangedGets(srv, 1<<20), 2*tc.getsEach-1)
			}
			if st.DownloadedBytes != 6<<20 {
				t.Errorf("downloaded %d, want %d", st.DownloadedBytes, 6<<20)
			}
		})
	}
}

// slowLists delays every Put Block List and Put Blob the accelerator sends to the
// storage, as a storage 30 ms and more away does.
type slowLists struct{ delay time.Duration }

func (s slowLists) RoundTrip(r *http.Request) (*http.Response, error) {
	if comp := r.URL.Query().Get("comp"); r.Method == http.MethodPut && (comp == "blocklist" || comp == "") {
		time.Sleep(s.delay)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// BuildKit saves its layer blobs one after another; the accelerator commits each in the
// background, so the next layer's reservation does not wait for the last one's commit,
// while the index is reserved only after every blob was finalized at the service.
func TestBlobCommitsOverlapTheNextLayerAndTheIndexWaitsForThem(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, ProxyBlobs: true})
	p := startProxy(t, srv, Options{HTTP: &http.Client{Transport: slowLists{300 * time.Millisecond}}})
	c := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport)
	ctx := context.Background()
	blobs := map[string][]byte{}
	// aaa and bbb go in 1 MiB blocks, ccc (smaller than a block) as one Put Blob.
	layers := []struct {
		key  string
		size int
	}{{"buildkit-blob-1-sha256:aaa", 2<<20 + 99}, {"buildkit-blob-1-sha256:ccc", 5000}, {"buildkit-blob-1-sha256:bbb", 2<<20 + 99}}
	for _, l := range layers {
		b := make([]byte, l.size)
		_, _ = rand.Read(b)
		blobs[l.key] = b
		if err := c.Save(ctx, l.key, actionscache.NewBlob(b)); err != nil {
			t.Fatalf("save %s: %v", l.key, err)
		}
	}
	saveIndex(t, c)
	at := map[string]time.Time{}
	for _, call := range srv.Calls() {
		if call.Op == cachetest.CreateCacheEntry || call.Op == cachetest.FinalizeCacheEntryUpload {
			at[call.Op+" "+call.Key] = call.At
		}
	}
	for i := 0; i+1 < len(layers); i++ {
		next, fin := at["CreateCacheEntry "+layers[i+1].key], at["FinalizeCacheEntryUpload "+layers[i].key]
		if !next.Before(fin) {
			t.Errorf("%s reserved at %v, after %s was finalized at %v: the commits did not overlap", layers[i+1].key, next, layers[i].key, fin)
		}
	}
	index := at["CreateCacheEntry index-buildkit-1-test#1"]
	for k := range blobs {
		if f := at["FinalizeCacheEntryUpload "+k]; f.IsZero() || index.Before(f) {
			t.Errorf("index reserved at %v, before %s was finalized at %v", index, k, f)
		}
	}
	direct := client(t, srv.URL(), token, http.DefaultTransport)
	for k, b := range blobs {
		e, err := direct.Load(ctx, k)
		if err != nil || e == nil || !bytes.Equal(readAll(t, ctx, e), b) {
			t.Errorf("%s: not the blob saved (%v)", k, err)
		}
	}
}

// A blob whose blocks cannot be uploaded was already answered as saved; the index after
// it is then refused, so the cache never names a blob the storage lacks, and the export
// fails as it would have for the blob.
func TestAFailedBlobCommitRefusesTheIndex(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, ProxyBlobs: true})
	var logMu sync.Mutex
	var log strings.Builder
	p := startProxy(t, srv, Options{Logf: func(f string, a ...any) {
		logMu.Lock()
		defer logMu.Unlock()
		fmt.Fprintf(&log, f+"\n", a...)
	}})
	p.opt.sleep = func(context.Context, time.Duration) error { return nil }
	srv.Inject(cachetest.Fault{Op: cachetest.PutBlock, Status: 500, Times: 100})
	c := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport)
	ctx := context.Background()
	_ = c.Save(ctx, "buildkit-blob-1-sha256:aaa", actionscache.NewBlob(make([]byte, 2<<20)))
	err := c.SaveMutable(ctx, "index-buildkit-1-test", 15*time.Second, func(*actionscache.Entry) (actionscache.Blob, error) {
		return actionscache.NewBlob([]byte("{}")), nil
	})
	if err == nil {
		t.Fatal("the index was saved after a blob of the export failed")
	}
	// go-actions-cache shows a twirp error by its code alone; the build log says which blob.
	logMu.Lock()
	if !strings.Contains(log.String(), "blob buildkit-blob-1-sha256:aaa not saved") {
		t.Errorf("log:\n%s\nwant the failed blob named", log.String())
	}
	logMu.Unlock()
	for _, e := range srv.Entries() {
		if e.Finalized {
			t.Errorf("entry %s finalized, though a blob of this export failed", e.Key)
		}
	}
	if p.Stats().Errors == 0 {
		t.Error("the failed blob was not counted")
	}
}

// A connection BuildKit's HTTP client opened and never used (Go's transport dials one
// for a request an idle connection then served) does not hold the accelerator's Close:
// net/http's Shutdown waits for such a connection until it is 5 s old, and the action
// would spend that after every build.
func TestCloseDoesNotWaitForAConnectionThatSentNoRequest(t *testing.T) {
	p, err := Start("127.0.0.1:0", Options{Upstream: "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server has accepted it once a request on another connection is answered.
	resp, err := http.Get("http://" + p.Addr() + "/blob/none")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("Close waited for the unused connection: %v", err)
	}
}
