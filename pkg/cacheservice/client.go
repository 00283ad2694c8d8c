package cacheservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Protocol is the cache service API a Client speaks.
type Protocol string

const (
	// ProtocolV1 is the REST API under ACTIONS_CACHE_URL/_apis/artifactcache/
	// (GitHub Enterprise Server, nektos/act; shut down on github.com).
	ProtocolV1 Protocol = "v1"
	// ProtocolV2 is the twirp API under ACTIONS_RESULTS_URL with Azure blobs.
	ProtocolV2 Protocol = "v2"
)

// Service is a cache service found in the environment.
type Service struct {
	Protocol Protocol
	URL      string
	Token    string
	// V1URL is ACTIONS_CACHE_URL beside a v2 service, when the runner sets it: BuildKit
	// before 0.20 reads only a gha entry's url (buildx passes it beside url_v2: docker/buildx
	// build/opt.go, addGithubToken). This package's Client does not use it.
	V1URL string
	// Reason says which variables decided the protocol, for a log line.
	Reason string
	// ByURL is set when nothing but which URL the runner set decided the protocol (the
	// usual case on github.com): Reason then only restates the URL's name.
	ByURL bool
}

// Vars are the runner variables that say which cache service to use. pkg/runnerenv reads
// them once for the run (through VarsFromEnv); the layer cache's gha entries and the mount
// caches both get their service from Vars.Detect, so they never speak different protocols.
type Vars struct {
	ResultsURL   string // ACTIONS_RESULTS_URL: the v2 (twirp) service
	CacheURL     string // ACTIONS_CACHE_URL: the v1 (REST) service
	Token        string // ACTIONS_RUNTIME_TOKEN
	ForceVersion string // ACTIONS_CACHE_API_FORCE_VERSION: v1 or v2 (BuildKit's go-actions-cache reads it too)
	ServiceV2    string // ACTIONS_CACHE_SERVICE_V2: set by the runner for node actions only
	ServerURL    string // GITHUB_SERVER_URL: tells GitHub Enterprise Server apart
	Act          bool   // ACT=true: nektos/act
}

// VarsFromEnv reads Vars through getenv, values trimmed.
func VarsFromEnv(getenv func(string) string) Vars {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	return Vars{
		ResultsURL:   get("ACTIONS_RESULTS_URL"),
		CacheURL:     get("ACTIONS_CACHE_URL"),
		Token:        get("ACTIONS_RUNTIME_TOKEN"),
		ForceVersion: get("ACTIONS_CACHE_API_FORCE_VERSION"),
		ServiceV2:    get("ACTIONS_CACHE_SERVICE_V2"),
		ServerURL:    get("GITHUB_SERVER_URL"),
		Act:          getenv("ACT") == "true",
	}
}

// Detect is VarsFromEnv(getenv).Detect(), for tests and tools that hold a getenv.
func Detect(getenv func(string) string) (Service, error) { return VarsFromEnv(getenv).Detect() }

// Detect finds the cache service a container action should use: the one rule for the
// layer cache (BuildKit's gha backend) and the mount caches. The runner does not set
// ACTIONS_CACHE_SERVICE_V2 for container actions, so the choice is made from what is there:
//  1. ACTIONS_CACHE_API_FORCE_VERSION=v1|v2 wins; another value is an error, as in
//     BuildKit's client (tonistiigi/go-actions-cache cache.go, TryEnv: "invalid
//     ACTIONS_CACHE_API_FORCE_VERSION"), which would fail the same way;
//  2. ACTIONS_CACHE_SERVICE_V2 true (what node actions get) means v2; false or anything
//     else decides nothing, as in buildx (docker/buildx build/opt.go, addGithubToken: only
//     a true ParseBool sets version 2);
//  3. GitHub Enterprise Server (see isGHES) only speaks v1;
//  4. under nektos/act (ACT=true) ACTIONS_RESULTS_URL is act's artifact server, not a
//     cache service: v1 with ACTIONS_CACHE_URL, or no service when act runs without its
//     cache server (nektos/act cmd/root.go sets ACTIONS_CACHE_URL only then);
//  5. otherwise ACTIONS_RESULTS_URL means v2, else ACTIONS_CACHE_URL means v1.
//
// v1 is only ever ACTIONS_CACHE_URL: @actions/cache falls back to ACTIONS_RESULTS_URL
// (actions/toolkit packages/cache/src/internal/config.ts, getCacheServiceURL), but that
// URL serves only v2 on github.com (v1 was shut down there on 2025-04-15) and is act's
// artifact server under act.
//
// It returns ErrNoService itself when neither URL is set, and wrapped with the reason when
// the chosen protocol's URL is not set.
func (v Vars) Detect() (Service, error) {
	resultsURL, cacheURL, token := v.ResultsURL, v.CacheURL, v.Token
	v1 := func(reason string) (Service, error) {
		if cacheURL == "" {
			return Service{}, fmt.Errorf("%s, but ACTIONS_CACHE_URL is not set: %w", reason, ErrNoService)
		}
		return Service{Protocol: ProtocolV1, URL: cacheURL, Token: token, Reason: reason}, nil
	}
	v2 := func(reason string) (Service, error) {
		if resultsURL == "" {
			return Service{}, fmt.Errorf("%s, but ACTIONS_RESULTS_URL is not set: %w", reason, ErrNoService)
		}
		if token == "" {
			return Service{}, fmt.Errorf("%s, but ACTIONS_RUNTIME_TOKEN is not set", reason)
		}
		return Service{Protocol: ProtocolV2, URL: resultsURL, Token: token, V1URL: cacheURL, Reason: reason}, nil
	}

	force := strings.ToLower(v.ForceVersion)
	if force != "" && force != "v1" && force != "v2" {
		return Service{}, fmt.Errorf("ACTIONS_CACHE_API_FORCE_VERSION=%q: want v1 or v2", v.ForceVersion)
	}
	if resultsURL == "" && cacheURL == "" {
		return Service{}, ErrNoService // whatever else is set: nothing to talk to
	}
	switch force {
	case "":
	case "v1":
		return v1("ACTIONS_CACHE_API_FORCE_VERSION=v1")
	case "v2":
		return v2("ACTIONS_CACHE_API_FORCE_VERSION=v2")
	}
	if on, err := strconv.ParseBool(v.ServiceV2); err == nil && on {
		return v2("ACTIONS_CACHE_SERVICE_V2 is set")
	}
	if isGHES(v.ServerURL) {
		return v1("GitHub Enterprise Server (" + v.ServerURL + ") only has the v1 cache service")
	}
	if v.Act {
		return v1("running under nektos/act, whose cache server speaks v1")
	}
	var svc Service
	var err error
	if resultsURL != "" {
		svc, err = v2("ACTIONS_RESULTS_URL is set")
	} else {
		svc, err = v1("only ACTIONS_CACHE_URL is set")
	}
	svc.ByURL = err == nil
	return svc, err
}

// isGHES follows @actions/cache's isGhes (actions/toolkit packages/cache/src/internal/
// config.ts; docker/actions-toolkit src/github/github.ts, isGHES, has the same): any server
// but github.com, *.ghe.com (GHE.com data residency) and *.localhost (GitHub's own
// development hosts, e.g. *.ghe.localhost) is an Enterprise Server. No GITHUB_SERVER_URL
// means github.com, as there.
func isGHES(serverURL string) bool {
	if serverURL == "" {
		return false
	}
	u, err := url.Parse(serverURL)
	if err != nil || u.Hostname() == "" {
		return false
	}
	host := strings.ToUpper(strings.TrimSpace(u.Hostname()))
	return host != "GITHUB.COM" && !strings.HasSuffix(host, ".GHE.COM") && !strings.HasSuffix(host, ".LOCALHOST")
}

// RetryPolicy says how often and how patiently a request is retried. 5xx
// answers, 408, 429, network errors and timeouts are retried; other answers
// are not.
type RetryPolicy struct {
	// MaxAttempts counts every try of one request, the first included.
	MaxAttempts int
	// BaseDelay is the wait before the first retry; it doubles with each
	// retry, up to MaxDelay, and is jittered by ±50%.
	BaseDelay time.Duration
	MaxDelay  time.Duration
	// MaxRetryAfter is the longest wait for a 429/503 Retry-After this
	// client accepts: the time the step allows a throttled cache. A request is
	// never retried before its Retry-After; when that is longer than
	// MaxRetryAfter (or than the context's deadline) the request fails at once
	// with a *ThrottledError, so the cache is skipped and the build goes on.
	MaxRetryAfter time.Duration
}

// DefaultRetryPolicy is close to @actions/cache's twirp client (5 attempts,
// 3 s growing by 1.5x) but starts sooner.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:   5,
		BaseDelay:     time.Second,
		MaxDelay:      30 * time.Second,
		MaxRetryAfter: time.Minute,
	}
}

// Defaults of the transfer settings. Memory for a transfer is about
// (DefaultParallelism+1) * DefaultBlockSize.
const (
	DefaultParallelism    = 4
	DefaultBlockSize      = 8 << 20
	DefaultRequestTimeout = time.Minute
	DefaultStallTimeout   = time.Minute
	// maxBlocks is Azure's limit of blocks in one block blob.
	maxBlocks = 50000
	// minBlockSize keeps block ids and lists sane; Azure accepts far smaller.
	minBlockSize = 64 << 10
	// maxBlockSize is Azure's Put Block limit (4000 MiB); we stay far lower.
	maxBlockSize = 1 << 30
)

// Option changes a Client setting.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (its Timeout should be zero: the
// Client bounds every request itself).
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithRetryPolicy replaces DefaultRetryPolicy(); zero fields keep the default.
func WithRetryPolicy(p RetryPolicy) Option {
	return func(c *Client) {
		if p.MaxAttempts > 0 {
			c.retry.MaxAttempts = p.MaxAttempts
		}
		if p.BaseDelay > 0 {
			c.retry.BaseDelay = p.BaseDelay
		}
		if p.MaxDelay > 0 {
			c.retry.MaxDelay = p.MaxDelay
		}
		if p.MaxRetryAfter > 0 {
			c.retry.MaxRetryAfter = p.MaxRetryAfter
		}
	}
}

// WithRequestTimeout bounds each attempt of a service API call (lookup,
// reserve, commit, HEAD), from sending to reading the whole answer.
func WithRequestTimeout(d time.Duration) Option { return func(c *Client) { c.requestTimeout = d } }

// WithStallTimeout bounds each attempt of a data transfer (a block upload, a
// range download): it fails when no byte moved, and no answer came, for d.
// A slow transfer that keeps moving is not cut.
func WithStallTimeout(d time.Duration) Option { return func(c *Client) { c.stallTimeout = d } }

// WithParallelism sets how many blocks are uploaded, or ranges downloaded, at
// once (1 = sequential).
func WithParallelism(n int) Option { return func(c *Client) { c.parallelism = n } }

// WithBlockSize sets the size of an upload block and of a download range.
func WithBlockSize(n int) Option { return func(c *Client) { c.blockSize = n } }

// WithWarnf receives warnings worth a log line (a retried request, a fallback).
func WithWarnf(f func(format string, args ...any)) Option { return func(c *Client) { c.warnf = f } }

// WithMask receives the secrets of every signed storage URL the moment an
// answer hands one out (a lookup's download URL, v1's archive location, a
// reservation's upload URL), before any request to it: the URL, its query and
// its signature (see [Secrets]). Pass the reporter's add-mask, so the runner
// hides them in every later log line.
func WithMask(f func(secret string)) Option {
	return func(c *Client) {
		if f != nil {
			c.mask = f
		}
	}
}

// WithUserAgent sets the User-Agent of the service calls.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// Client saves and restores cache entries. It is safe for concurrent use.
type Client struct {
	protocol Protocol
	baseURL  string
	token    string

	http           *http.Client
	retry          RetryPolicy
	requestTimeout time.Duration
	stallTimeout   time.Duration
	parallelism    int
	blockSize      int
	warnf          func(string, ...any)
	mask           func(string)
	userAgent      string
	now            func() time.Time

	// notBefore is, per host, the time its last Retry-After named.
	throttleMu sync.Mutex
	notBefore  map[string]time.Time
}

// New makes a client of the service at serviceURL (ACTIONS_RESULTS_URL for
// v2, ACTIONS_CACHE_URL for v1). token is ACTIONS_RUNTIME_TOKEN; v1 servers
// such as act's accept an empty one.
func New(protocol Protocol, serviceURL, token string, opts ...Option) (*Client, error) {
	if protocol != ProtocolV1 && protocol != ProtocolV2 {
		return nil, fmt.Errorf("cache service protocol %q: want v1 or v2", protocol)
	}
	u, err := url.Parse(serviceURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("cache service URL %q: want an absolute http(s) URL", serviceURL)
	}
	if protocol == ProtocolV2 && token == "" {
		return nil, errors.New("cache service v2 needs a token (ACTIONS_RUNTIME_TOKEN)")
	}
	c, err := newClient(opts)
	if err != nil {
		return nil, err
	}
	c.protocol, c.baseURL, c.token = protocol, strings.TrimRight(serviceURL, "/"), token
	return c, nil
}

// newClient applies opts to the defaults: the transfer settings, without a service.
func newClient(opts []Option) (*Client, error) {
	c := &Client{
		retry:          DefaultRetryPolicy(),
		requestTimeout: DefaultRequestTimeout,
		stallTimeout:   DefaultStallTimeout,
		parallelism:    DefaultParallelism,
		blockSize:      DefaultBlockSize,
		warnf:          func(string, ...any) {},
		mask:           func(string) {},
		userAgent:      "warmbuild-cacheservice",
		now:            time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	if c.http == nil {
		// Our own transport: the default one keeps only 2 idle connections per
		// host, which parallel blocks would keep reopening.
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 2 * max(c.parallelism, 1)
		c.http = &http.Client{Transport: tr}
	}
	switch {
	case c.parallelism < 1:
		return nil, fmt.Errorf("cache service parallelism %d: want at least 1", c.parallelism)
	case c.blockSize < minBlockSize || c.blockSize > maxBlockSize:
		return nil, fmt.Errorf("cache service block size %d: want %d to %d bytes", c.blockSize, minBlockSize, maxBlockSize)
	case c.requestTimeout <= 0 || c.stallTimeout <= 0:
		return nil, errors.New("cache service timeouts must be positive")
	}
	return c, nil
}

// FromEnv makes a client of the service [Detect] finds through getenv. The action itself
// detects once for the run (pkg/runnerenv) and calls Open; FromEnv serves tests and tools.
func FromEnv(getenv func(string) string, opts ...Option) (*Client, error) {
	svc, err := Detect(getenv)
	if err != nil {
		return nil, err
	}
	return Open(svc, opts...)
}

// Open makes a client of a detected service.
func Open(svc Service, opts ...Option) (*Client, error) {
	return New(svc.Protocol, svc.URL, svc.Token, opts...)
}

// Protocol is the API this client speaks.
func (c *Client) Protocol() Protocol { return c.protocol }

// Entry is a cache entry that Restore found. Its bytes are read with
// Download or Open.
type Entry struct {
	// Key is the key of the entry that matched.
	Key string
	// Exact is true when Key is the primary key (compared without case, as
	// actions/cache does), false for a prefix or restore-key match.
	Exact bool
	// Size is the entry's size in bytes, or -1 when the storage did not say.
	Size int64

	client    *Client
	azure     bool // the URL is an Azure blob SAS URL
	rangeable bool // the storage answers Range requests

	// url is the signed storage URL, replaced by refresh when it has expired.
	mu  sync.Mutex
	url string
	// reload asks the service for a fresh URL of this entry (nil: cannot,
	// e.g. a Source handed to a process without the service).
	reload    func(ctx context.Context) (string, error)
	refreshes int
	// unreachable is why the storage gave no answer at all to Restore's probe.
	unreachable error
}

// Unreachable is not nil when the storage did not answer Restore at all (connections
// refused, reset or timed out, after the retries): a download from this process would
// fail the same way, so Download fails at once with it.
func (e *Entry) Unreachable() error { return e.unreachable }

// SaveResult tells what Save did.
type SaveResult struct {
	// AlreadyExists is true when the service answered that an entry with
	// this key and version exists or another job is uploading it (HTTP 409,
	// twirp already_exists): someone saved it first. The reader was not
	// read. This is not an error. Any other refusal is a *RefusedError.
	AlreadyExists bool
	// Reason is the service's message for AlreadyExists, when it sent one.
	Reason string
	// Size is the number of bytes stored.
	Size int64
	// EntryID is the service's id of the new entry (v2; 0 when unknown).
	EntryID int64
}

// Restore looks up the newest entry whose version is version and whose key is
// key, or starts with key, or starts with one of restoreKeys (in order). It
// returns nil and no error on a miss. version is usually [Version]'s result.
func (c *Client) Restore(ctx context.Context, key string, restoreKeys []string, version string) (*Entry, error) {
	if err := validateKeys(key, restoreKeys); err != nil {
		return nil, err
	}
	if version == "" {
		return nil, errors.New("restore: empty cache version")
	}
	var (
		e   *Entry
		err error
	)
	if c.protocol == ProtocolV2 {
		e, err = c.lookupV2(ctx, key, restoreKeys, version)
	} else {
		e, err = c.lookupV1(ctx, key, restoreKeys, version)
	}
	if err != nil || e == nil {
		if err != nil {
			err = fmt.Errorf("restore %s: %w", key, err)
		}
		return nil, err
	}
	e.client = c
	e.Exact = strings.EqualFold(e.Key, key)
	matched := e.Key
	e.reload = func(ctx context.Context) (string, error) { return c.freshURL(ctx, matched, version) }
	e.Size = -1
	if err := c.probe(ctx, e); err != nil && e.unreachable != nil {
		c.warnf("cache entry %s: the storage does not answer: %v", e.Key, err)
	} else if err != nil {
		// Not fatal: the entry is then downloaded as one resumable stream.
		c.warnf("cache entry %s: size unknown, downloading it as one stream: %v", e.Key, err)
	}
	return e, nil
}

// Save stores the bytes of r under key and version. It reads r to its end
// once, in blocks, uploading up to the client's parallelism blocks at a time;
// r is not read when the result says AlreadyExists. A key cannot be
// overwritten: choose a new key for new content.
func (c *Client) Save(ctx context.Context, key, version string, r io.Reader) (SaveResult, error) {
	st, err := c.Stage(ctx, key, version, r)
	if err != nil {
		return SaveResult{}, err
	}
	return st.Commit(ctx)
}

// Stage does all of a save but its last call: it reserves the entry and uploads r,
// and Commit (the finalize, or v1's commit) makes the entry visible. An entry staged
// and never committed is never found; the service drops the reservation, as it does
// any upload a job abandons. A caller uses it to upload while it does not yet know
// whether the entry should exist (the build record, while BuildKit exports).
func (c *Client) Stage(ctx context.Context, key, version string, r io.Reader) (*Staged, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if version == "" {
		return nil, errors.New("save: empty cache version")
	}
	var (
		st  *Staged
		err error
	)
	if c.protocol == ProtocolV2 {
		st, err = c.stageV2(ctx, key, version, r)
	} else {
		st, err = c.stageV1(ctx, key, version, r)
	}
	if err != nil {
		return nil, fmt.Errorf("save %s: %w", key, err)
	}
	st.key = key
	return st, nil
}

// Staged is an entry uploaded and not yet committed (see Stage).
type Staged struct {
	key    string
	result SaveResult                                    // what Commit returns (AlreadyExists: no commit)
	commit func(ctx context.Context) (SaveResult, error) // nil when there is nothing to commit
}

// AlreadyExists is true when the service answered the reservation that the entry
// exists: nothing was uploaded and Commit does nothing.
func (s *Staged) AlreadyExists() bool { return s.result.AlreadyExists }

// Commit makes the staged entry visible. It is called at most once.
func (s *Staged) Commit(ctx context.Context) (SaveResult, error) {
	if s.commit == nil {
		return s.result, nil
	}
	res, err := s.commit(ctx)
	s.commit = nil
	if err != nil {
		return SaveResult{}, fmt.Errorf("save %s: %w", s.key, err)
	}
	return res, nil
}

// Download writes the entry's bytes to w in order and returns how many it
// wrote. Large entries are fetched as parallel ranges; memory stays within
// about (parallelism+1) blocks.
func (e *Entry) Download(ctx context.Context, w io.Writer) (int64, error) {
	if e.unreachable != nil {
		return 0, fmt.Errorf("download cache entry %s: the storage did not answer: %w", e.Key, e.unreachable)
	}
	var (
		n   int64
		err error
	)
	if e.Size >= 0 && e.rangeable {
		n, err = e.client.downloadRanges(ctx, w, e)
	} else {
		n, err = e.client.downloadStream(ctx, w, e)
	}
	if err == nil && e.Size >= 0 && n != e.Size {
		err = fmt.Errorf("got %d bytes, the entry has %d", n, e.Size)
	}
	if err != nil {
		return n, fmt.Errorf("download cache entry %s: %w", e.Key, err)
	}
	return n, nil
}

// Open returns the entry's bytes as a stream (Download into a pipe). Close
// it to stop the download early.
func (e *Entry) Open(ctx context.Context) io.ReadCloser {
	ctx, cancel := context.WithCancel(ctx)
	pr, pw := io.Pipe()
	go func() {
		_, err := e.Download(ctx, pw)
		pw.CloseWithError(err)
	}()
	return &cancelReadCloser{PipeReader: pr, cancel: cancel}
}

type cancelReadCloser struct {
	*io.PipeReader
	cancel context.CancelFunc
}

func (r *cancelReadCloser) Close() error {
	r.cancel()
	return r.PipeReader.CloseWithError(errors.New("cache entry stream closed"))
}

// freshURL asks the service again for the storage URL of the entry key: signed URLs
// expire (about 10 minutes on github.com), and a download that outlives one must get
// another, as BuildKit's gha cache does (tonistiigi/go-actions-cache cache_v2.go,
// downloadV2: on 401/403 it calls the entry's reload, a new GetCacheEntryDownloadURL).
// Unlike go-actions-cache, which takes whatever the keys match then, the answer must
// be the same key: another entry's URL would splice two archives.
func (c *Client) freshURL(ctx context.Context, key, version string) (string, error) {
	var (
		e   *Entry
		err error
	)
	if c.protocol == ProtocolV2 {
		e, err = c.lookupV2(ctx, key, nil, version)
	} else {
		e, err = c.lookupV1(ctx, key, nil, version)
	}
	switch {
	case err != nil:
		return "", err
	case e == nil || !strings.EqualFold(e.Key, key):
		return "", fmt.Errorf("cache entry %s is gone from the service", key)
	}
	return e.url, nil
}

// maxRefreshes bounds how often one download asks for a fresh URL.
const maxRefreshes = 5

// currentURL is the storage URL to use now.
func (e *Entry) currentURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.url
}

// refresh replaces stale, the URL a request was refused with, by a fresh one, once
// for all the ranges refused with it. It reports false when there is no way to get
// one (or too many were needed), so the refusal stands.
func (e *Entry) refresh(ctx context.Context, stale string) (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.url != stale {
		return true, nil // another range got a fresh one already
	}
	if e.reload == nil || e.refreshes >= maxRefreshes {
		return false, nil
	}
	e.refreshes++
	u, err := e.reload(ctx)
	if err != nil {
		return false, err
	}
	e.url = u
	return true, nil
}
