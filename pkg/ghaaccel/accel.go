// Package ghaaccel is the layer cache accelerator: a local stand-in for the GitHub Actions
// cache service that BuildKit's own gha backend talks to (its url_v2), so the layer cache
// keeps BuildKit's keys, versions and layout (readable by build-push-action's
// `cache-from: type=gha`) while the blobs move at the link's speed.
//
// Why: BuildKit's gha exporter (moby/buildkit cache/remotecache/gha/gha.go, Finalize)
// saves blob after blob through tonistiigi/go-actions-cache, whose uploadV2 (cache_v2.go)
// calls azblob's UploadStream with no options: 1 MiB blocks, one at a time, each a full
// round trip to the storage; its downloadV2 is one ranged GET stream per blob. Far from
// the storage that is minutes.
//
// What it does:
//   - twirp calls (CreateCacheEntry, FinalizeCacheEntryUpload, GetCacheEntryDownloadURL)
//     go to the real service unchanged, with BuildKit's own token, keys and versions;
//   - the signed storage URLs in their answers are replaced by local URLs with an
//     unguessable token (the real ones, which carry sig=, never reach the builder);
//   - a Put Block to a local URL is answered 201 as soon as its bytes are held, and a
//     bounded pool uploads the held blocks to the real URL in parallel (same block ids,
//     retried from the held bytes); the Put Block List goes to the storage only after
//     every block of that blob landed; for BuildKit's layer blobs the list and the
//     finalize are committed in the background and the index waits for them (behind.go);
//   - a GET of a local download URL is fetched from the storage in parallel ranges and
//     streamed back in order; a 401/403 from the storage (URLs live about 10 minutes)
//     asks GetCacheEntryDownloadURL again, as go-actions-cache's downloadV2 does;
//   - a 429 from the service (github.com: 200 uploads a minute per repository) is waited
//     out here as its Retry-After says (never less), then retried; the waits are counted
//     for the summary.
//
// Memory is bounded: held upload blocks and download ranges share a byte budget.
package ghaaccel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

const twirpPrefix = "/twirp/github.actions.results.api.v1.CacheService/"

// Options configure Start.
type Options struct {
	// Upstream is the real service's base URL (ACTIONS_RESULTS_URL).
	Upstream string
	// HTTP reaches the service and the storage (default: a client without a total timeout;
	// transfers are bounded by the per-attempt stall rules below).
	HTTP *http.Client
	// Parallelism is how many held blocks are put to the storage at once (default 16:
	// azblob's 1 MiB blocks each wait a round trip, and under the bench's far profile 8
	// left the link idle between them, 107-117 MB/s of its 125; 16 keep it full), and
	// RangeParallelism how many ranges of one download are fetched ahead (default 4).
	Parallelism      int
	RangeParallelism int
	// RangeSize is the size of a download range (default 8 MiB). Each range is a request
	// with a fixed cost at the storage: 8 MiB ranges took the bench's near code changed
	// from 4.01-4.23 s to 3.50-3.62 s against 4 MiB ones. The budget below, not the range
	// size, bounds what is held: the action's peak stayed at 83 MiB.
	RangeSize int64
	// Budget is the bytes held at once for uploads and downloads together (default 32 MiB):
	// with the action's 64 MiB soft memory limit it stays under 100 MB (measured: 82 MB
	// peak with 48 MiB and fresh slices for a 150 MB layer).
	Budget int64
	// MaxWait is how long one twirp call may wait for the rate limit in all before the 429
	// is passed to BuildKit (which then waits on its own; default 5 minutes).
	MaxWait time.Duration
	// CommitInRequest commits every blob in BuildKit's own Put Block List and Finalize
	// requests, as before the write-behind (behind.go): for an A/B run.
	CommitInRequest bool
	// StreamRate is the rate of one connection (bytes/s, default 200e6: twice the bench's
	// near profile's cap per connection) at or above which big blobs are read as one
	// stream instead of parallel ranges (downloadWay, download.go).
	StreamRate float64
	// StreamDownloads passes blob GETs through as one stream each (still counted) instead
	// of parallel ranges: where the link is free, ranges only add requests.
	StreamDownloads bool
	// Logf prints a line to the build log (waits, retries); nil: quiet.
	Logf func(format string, args ...any)
	// sleep waits (tests shorten it); nil: a timer.
	sleep func(ctx context.Context, d time.Duration) error
}

// Stats is what moved through the accelerator.
type Stats struct {
	UploadedBytes   int64 // bytes put to the storage (blocks and whole blobs)
	DownloadedBytes int64 // bytes read from the storage
	BlobsUploaded   int   // blobs whose block list the storage accepted
	BlobsDownloaded int   // download streams served
	RateLimitWaits  int   // 429 answers waited out
	RateLimitWait   time.Duration
	Errors          int // blocks or ranges that failed for good
	// DownloadWay is how big blobs were read ("parallel ranges", "one stream"; "" when no
	// blob was big enough to decide), ProbedRate the rate (bytes/s) that decided it.
	DownloadWay string
	ProbedRate  int64
}

// Proxy is a running accelerator.
type Proxy struct {
	opt      Options
	upstream string
	http     *http.Client
	budget   *semaphore.Weighted
	putSlots chan struct{} // Parallelism: block puts in flight
	bufs     bufferPool
	ln       net.Listener
	srv      *http.Server
	ctx      context.Context // background uploads; cancelled by Close
	cancel   context.CancelFunc
	work     sync.WaitGroup

	stopped chan struct{} // closed once the server stopped: no request comes any more
	closing atomic.Bool
	unused  unusedConns

	mu       sync.Mutex
	sessions map[string]*session
	behind   map[entryRef]*behindCommit // blob commits in the background (behind.go)
	prefetch map[entryRef]*prefetched   // small layers fetched ahead (prefetch.go)

	uploaded, downloaded         atomic.Int64
	blobsUp, blobsDown, failures atomic.Int64
	waits                        atomic.Int64
	way                          atomic.Int32 // downloadWay, decided by the first big blob
	probedRate                   atomic.Int64 // bytes/s of that blob's first RangeSize
	waited                       atomic.Int64 // nanoseconds
}

// Start listens on addr (e.g. "127.0.0.1:0", or the action container's bridge address)
// and serves until Close.
func Start(addr string, opt Options) (*Proxy, error) {
	if opt.Upstream == "" {
		return nil, errors.New("layer cache accelerator: no upstream cache service URL")
	}
	if opt.HTTP == nil {
		opt.HTTP = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 32, ResponseHeaderTimeout: 2 * time.Minute}}
	}
	if opt.Parallelism <= 0 {
		opt.Parallelism = 16
	}
	if opt.RangeParallelism <= 0 {
		opt.RangeParallelism = 4
	}
	if opt.RangeSize <= 0 {
		opt.RangeSize = 8 << 20
	}
	if opt.StreamRate <= 0 {
		opt.StreamRate = 200e6
	}
	if opt.Budget <= 0 {
		opt.Budget = 32 << 20
	}
	if opt.MaxWait <= 0 {
		opt.MaxWait = 5 * time.Minute
	}
	if opt.Logf == nil {
		opt.Logf = func(string, ...any) {}
	}
	if opt.sleep == nil {
		opt.sleep = sleepCtx
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("layer cache accelerator: listen on %s: %w", addr, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		opt: opt, upstream: strings.TrimRight(opt.Upstream, "/"), http: opt.HTTP,
		budget: semaphore.NewWeighted(opt.Budget), putSlots: make(chan struct{}, opt.Parallelism),
		ln: ln, ctx: ctx, cancel: cancel,
		sessions: map[string]*session{}, behind: map[entryRef]*behindCommit{}, prefetch: map[entryRef]*prefetched{},
		stopped: make(chan struct{}),
	}
	p.bufs.largeSize = int(opt.RangeSize)
	mux := http.NewServeMux()
	mux.HandleFunc(twirpPrefix, p.serveTwirp)
	mux.HandleFunc("/blob/", p.serveBlob)
	p.unused.conns = map[net.Conn]struct{}{}
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second, ConnState: p.unused.track}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Addr is the address it listens on (host:port).
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is the url_v2 for a builder that reaches the accelerator at host (the listening
// port is added), e.g. "http://127.0.0.1:41234/".
func (p *Proxy) URL(host string) string {
	_, port, _ := net.SplitHostPort(p.Addr())
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// Close stops serving and waits (at most until ctx ends) for uploads in flight. Once it
// returned, every request was answered whole and Stats counts it all. A second Close
// returns nil at once.
func (p *Proxy) Close(ctx context.Context) error {
	if !p.closing.CompareAndSwap(false, true) {
		return nil
	}
	p.unused.closeAll()
	err := p.srv.Shutdown(ctx)
	close(p.stopped)
	done := make(chan struct{})
	go func() { p.work.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	p.cancel()
	return err
}

// unusedConns are the connections that have not sent a request yet. Go's HTTP client
// dials one for a request that an idle connection then serves, and keeps it; Shutdown
// waits for such a connection until it is 5 s old (closeIdleConns, net/http server.go),
// which the action would spend after its build. Closing them loses nothing: no request
// was read on them, and Close runs once the build is over.
type unusedConns struct {
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closing bool
}

func (u *unusedConns) track(c net.Conn, state http.ConnState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if state != http.StateNew {
		delete(u.conns, c)
		return
	}
	if u.closing {
		_ = c.Close()
		return
	}
	u.conns[c] = struct{}{}
}

func (u *unusedConns) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.closing = true
	for c := range u.conns {
		_ = c.Close()
	}
	clear(u.conns)
}

// Stats returns what moved so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		UploadedBytes: p.uploaded.Load(), DownloadedBytes: p.downloaded.Load(),
		BlobsUploaded: int(p.blobsUp.Load()), BlobsDownloaded: int(p.blobsDown.Load()),
		RateLimitWaits: int(p.waits.Load()), RateLimitWait: time.Duration(p.waited.Load()),
		Errors:      int(p.failures.Load()),
		DownloadWay: downloadWay(p.way.Load()).String(), ProbedRate: p.probedRate.Load(),
	}
}

// session is one signed URL handed out, under its local token.
type session struct {
	upload bool
	ref    entryRef // the reservation's key and version (uploads)
	mu     sync.Mutex
	url    string // the real signed URL
	// uploads: the blocks in flight and the first block that failed for good.
	pending sync.WaitGroup
	failed  error
	// downloads: how to ask for a fresh URL (the lookup as BuildKit sent it).
	lookup *twirpCall
	// held is a layer fetched ahead (prefetch.go), served from here; nil otherwise.
	held []byte
}

func (s *session) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

func (p *Proxy) register(s *session) string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	p.mu.Lock()
	p.sessions[tok] = s
	p.mu.Unlock()
	return tok
}

func (p *Proxy) lookupSession(tok string) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sessions[tok]
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// redacted is an error's text without signed URL queries.
func redacted(err error) string { return cacheservice.Redact(err.Error()) }

// drain reads and closes a body so the connection can be reused.
func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	rc.Close()
}
