package cachetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
)

// Twirp methods of github.actions.results.api.v1.CacheService, and the blob
// operations the server sees when it proxies blob traffic (V2Options.ProxyBlobs).
const (
	CreateCacheEntry         = "CreateCacheEntry"
	FinalizeCacheEntryUpload = "FinalizeCacheEntryUpload"
	GetCacheEntryDownloadURL = "GetCacheEntryDownloadURL"

	PutBlob      = "PutBlob"
	PutBlock     = "PutBlock"
	PutBlockList = "PutBlockList"
	GetBlob      = "GetBlob"
	HeadBlob     = "HeadBlob"
)

const twirpPrefix = "/twirp/github.actions.results.api.v1.CacheService/"

// Entry is a cache entry the server keeps.
type Entry struct {
	ID        int64
	Key       string
	Version   string
	Scope     string // the ref it was saved from, e.g. refs/heads/main
	Size      int64
	CreatedAt time.Time
	Finalized bool // false while reserved and not yet finalized

	blobName string
}

// Call is one request the server answered.
type Call struct {
	Op string // a twirp method or a blob operation (constants above)
	// Key and Version of a twirp call; MatchedKey of a successful lookup.
	Key, Version, MatchedKey string
	Status                   int
	Code                     string // twirp error code of an error answer
	Fault                    bool   // answered by an injected fault
	At                       time.Time
	Range                    string // a blob GET's x-ms-range (or Range), "" for the whole blob
}

// Fault makes the server misbehave on the next Times requests of Op.
type Fault struct {
	Op    string
	Times int // default 1
	// Status is the HTTP status to answer with (500, 503, 429, ...) with a
	// twirp error body; RetryAfter, if set, is sent as the Retry-After header.
	Status     int
	RetryAfter string
	// Hang never answers: the request waits until the client gives up or the
	// server closes.
	Hang bool
	// Lost (twirp calls only) lets the call take effect, then answers with
	// Status instead of its result: an answer lost on the way back, which a
	// client cannot tell from a failure.
	Lost bool
	// Refuse (CreateCacheEntry) answers HTTP 200 {"ok": false, "message": Refuse}: how
	// github.com refuses a reservation it does not grant for any reason but an existing
	// key (that is 409 already_exists), e.g. WriteDenied or a quota refusal.
	Refuse string
	// Deny answers HTTP 403 twirp permission_denied with Deny as its msg: how github.com
	// answers a token without the access, e.g. ReadDenied on GetCacheEntryDownloadURL.
	Deny string
}

// The messages github.com sends when the job's cache access forbids a call
// (ACTIONS_CACHE_MODE; actions/toolkit #2429 and #2447 match their prefixes).
const (
	ReadDenied  = "cache read denied: token has no readable scopes"
	WriteDenied = "cache write denied: token has no writable scopes"
)

// V2Options configure StartV2.
type V2Options struct {
	// Token is the bearer token the server accepts (default: random). The
	// service only checks it is the one it handed out.
	Token string
	// Scopes are the refs the run may read, in search order; entries are
	// saved under the first. Default: refs/heads/main. A pull request run
	// would be {"refs/pull/1/merge", "refs/heads/main"}.
	Scopes []string
	// ProxyBlobs routes blob traffic through the server (signed URLs point at
	// it), so blob requests are recorded and faults can hit them.
	ProxyBlobs bool
	// StorageURL, when set, is the scheme://host:port the signed URLs point at
	// instead of Azurite's (the signatures stay valid): a closed port plays a
	// storage that refuses connections, a server that hangs up plays one that
	// resets them. It takes precedence over ProxyBlobs for the URLs handed out.
	StorageURL string

	// URLLifetime is how long the signed URLs it hands out are valid (the SAS
	// se=, which Azurite enforces: 403 AuthenticationFailed after it). Default
	// DefaultURLLifetime, about what github.com gives.
	URLLifetime time.Duration
	// BlobReadRate, with ProxyBlobs, slows each blob download (GET) to this many
	// bytes per second, so a download can outlive its URL. 0: full speed.
	BlobReadRate int64
	// RefuseDownloads makes the signed download URLs point at a port where
	// nothing listens: the storage refuses connections (uploads still work).
	RefuseDownloads bool
	// UploadLimit, when set, answers CreateCacheEntry calls over it with 429 and
	// Retry-After, as github.com does past 200 uploads a minute (ratelimit.go).
	UploadLimit UploadLimit
	// ListenAddr is where the server listens (default 127.0.0.1:0); its URL and, with
	// ProxyBlobs, the signed URLs name that address. A container action on Docker's bridge
	// reaches the host only at the bridge's gateway (172.17.0.1 by default), never at
	// 127.0.0.1, as it reaches github.com's service over the network.
	ListenAddr string
}

// DefaultURLLifetime is how long github.com's signed cache URLs last: about 10
// minutes (BuildKit's gha backend reloads them on 401/403 for that reason).
const DefaultURLLifetime = 10 * time.Minute

// V2Server speaks the cache service v2 twirp JSON protocol
// (POST /twirp/github.actions.results.api.v1.CacheService/<Method>) with
// github.com's rules, and hands out SAS URLs of a real Azurite container:
//   - keys: at most 512 characters, no commas; keys match without case;
//   - a key+version+scope is reserved by CreateCacheEntry: a second create
//     answers already_exists (HTTP 409), finalized or not;
//   - FinalizeCacheEntryUpload checks the blob's committed size;
//   - lookup, scope by scope: exact key, key as prefix, then each restore key
//     as prefix; newest wins; the version must match; unfinalized entries
//     are invisible.
type V2Server struct {
	az        *Azurite
	container string
	token     string
	srv       *httptest.Server
	proxied   bool
	storage   string
	lifetime  time.Duration
	readRate  int64
	refuseDL  bool
	closing   chan struct{}
	closeOnce sync.Once
	limiter   *uploadLimiter // nil: no upload limit

	mu      sync.Mutex
	scopes  []string
	entries []*Entry
	nextID  int64
	calls   []Call
	faults  []Fault
}

// StartV2 starts a v2 server on 127.0.0.1 backed by the stack's Azurite (the
// test is skipped when there is none, or fails under
// WARMBUILD_REQUIRE_STACK=1). It is closed, and its container deleted, when
// the test ends.
func StartV2(t testing.TB, opts V2Options) *V2Server {
	t.Helper()
	az := FindAzurite(t)
	s, err := NewV2(context.Background(), az, opts)
	if err != nil {
		t.Fatalf("v2 cache server: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// NewV2 starts a v2 server on 127.0.0.1 backed by az, outside a test (the local demo runs
// one). The caller closes it.
func NewV2(ctx context.Context, az *Azurite, opts V2Options) (*V2Server, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	name, err := az.NewContainer(ctx)
	if err != nil {
		return nil, err
	}
	s := &V2Server{
		az:        az,
		container: name,
		token:     opts.Token,
		proxied:   opts.ProxyBlobs,
		storage:   strings.TrimRight(opts.StorageURL, "/"),
		lifetime:  opts.URLLifetime,
		readRate:  opts.BlobReadRate,
		refuseDL:  opts.RefuseDownloads,
		closing:   make(chan struct{}),
		scopes:    append([]string(nil), opts.Scopes...),
		nextID:    1,
		limiter:   newUploadLimiter(opts.UploadLimit),
	}
	if s.token == "" {
		s.token = "cachetest-" + randomHex(8)
	}
	if len(s.scopes) == 0 {
		s.scopes = []string{"refs/heads/main"}
	}
	if s.lifetime <= 0 {
		s.lifetime = DefaultURLLifetime
	}
	mux := http.NewServeMux()
	mux.HandleFunc(twirpPrefix, s.serveTwirp)
	if s.proxied {
		target, err := url.Parse(az.URL)
		if err != nil {
			return nil, fmt.Errorf("Azurite URL: %w", err)
		}
		proxy := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.Out.URL.Scheme = target.Scheme
				r.Out.URL.Host = target.Host
				r.Out.Host = target.Host
			},
			FlushInterval: -1,
		}
		mux.Handle("/"+AzuriteAccount+"/", s.blobFaults(proxy))
	}
	s.srv = httptest.NewUnstartedServer(mux)
	if opts.ListenAddr != "" {
		ln, err := net.Listen("tcp", opts.ListenAddr)
		if err != nil {
			return nil, fmt.Errorf("v2 server listen on %s: %w", opts.ListenAddr, err)
		}
		s.srv.Listener.Close()
		s.srv.Listener = ln
	}
	s.srv.Start()
	return s, nil
}

// Close stops the server (ending hung requests first) and deletes its blobs.
func (s *V2Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closing)
		s.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = s.az.DeleteContainer(ctx, s.container)
	})
}

// URL is the value for ACTIONS_RESULTS_URL (with the trailing slash the
// runner's value has).
func (s *V2Server) URL() string { return s.srv.URL + "/" }

// Token is the value for ACTIONS_RUNTIME_TOKEN.
func (s *V2Server) Token() string { return s.token }

// Getenv answers like a container action's environment on github.com that
// points at this server; pass it to cacheservice.FromEnv.
func (s *V2Server) Getenv(name string) string {
	switch name {
	case "ACTIONS_RESULTS_URL":
		return s.URL()
	case "ACTIONS_RUNTIME_TOKEN":
		return s.token
	case "GITHUB_SERVER_URL":
		return "https://github.com"
	}
	return ""
}

// SetScopes changes the refs the run may read (search order) and writes to
// (the first), e.g. to play a pull request after a push to main.
func (s *V2Server) SetScopes(scopes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scopes = append([]string(nil), scopes...)
}

// SetURLLifetime changes how long the signed URLs handed out from now on are valid.
func (s *V2Server) SetURLLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lifetime = d
}

// SetBlobReadRate changes the speed of proxied blob downloads (bytes per second per
// request; 0: full speed). It needs ProxyBlobs.
func (s *V2Server) SetBlobReadRate(bytesPerSecond int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readRate = bytesPerSecond
}

// Inject queues a fault.
func (s *V2Server) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Calls returns every request answered so far, in order.
func (s *V2Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the calls of one operation.
func (s *V2Server) CallsTo(op string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Entries returns the entries, oldest first.
func (s *V2Server) Entries() []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, 0, len(s.entries))
	for _, e := range s.entries {
		out = append(out, *e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out
}

// Evict deletes the entries whose key starts with prefix and returns how many, as GitHub
// evicts entries past the repository's quota (explain, issue 17: the "evicted" reason).
// Their blobs stay in Azurite until Close; no lookup finds them.
func (s *V2Server) Evict(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.entries[:0]
	n := 0
	for _, e := range s.entries {
		if strings.HasPrefix(e.Key, prefix) {
			n++
			continue
		}
		kept = append(kept, e)
	}
	s.entries = kept
	return n
}

// SeedEntry describes an entry to put in place without the protocol.
type SeedEntry struct {
	Key, Version string
	Scope        string    // default: the write scope
	CreatedAt    time.Time // default: now
}

// Seed stores a finalized entry with content (uploaded to Azurite), as if an
// earlier run had saved it.
func (s *V2Server) Seed(ctx context.Context, se SeedEntry, content io.Reader) (Entry, error) {
	s.mu.Lock()
	e := &Entry{ID: s.nextID, Key: se.Key, Version: se.Version, Scope: se.Scope, CreatedAt: se.CreatedAt}
	s.nextID++
	if e.Scope == "" {
		e.Scope = s.scopes[0]
	}
	if e.CreatedAt.IsZero() {
		e.CreatedAt = time.Now()
	}
	e.blobName = fmt.Sprintf("entry-%d", e.ID)
	s.mu.Unlock()

	if err := s.az.PutBlob(ctx, s.container, e.blobName, content); err != nil {
		return Entry{}, fmt.Errorf("seed %s: %w", se.Key, err)
	}
	size, err := s.az.BlobSize(ctx, s.container, e.blobName)
	if err != nil {
		return Entry{}, fmt.Errorf("seed %s: %w", se.Key, err)
	}
	e.Size = size
	e.Finalized = true
	s.mu.Lock()
	s.entries = append(s.entries, e)
	s.mu.Unlock()
	return *e, nil
}

// peekFault returns the next fault for op, if any, leaving it queued.
func (s *V2Server) peekFault(op string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.faults {
		if f.Op == op {
			return f, true
		}
	}
	return Fault{}, false
}

// takeFault pops the next fault for op, if any.
func (s *V2Server) takeFault(op string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.Op != op {
			continue
		}
		out := *f
		f.Times--
		if f.Times == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return out, true
	}
	return Fault{}, false
}

// applyFault answers with an injected fault; it reports whether it did.
func (s *V2Server) applyFault(w http.ResponseWriter, r *http.Request, op string) bool {
	f, ok := s.takeFault(op)
	if !ok {
		return false
	}
	if f.Hang {
		s.record(Call{Op: op, Fault: true})
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return true
	}
	if f.Refuse != "" {
		s.record(Call{Op: op, Status: http.StatusOK, Fault: true})
		writeJSON(w, http.StatusOK, map[string]any{"ok": false, "signed_upload_url": "", "message": f.Refuse})
		return true
	}
	if f.Deny != "" {
		s.record(Call{Op: op, Status: http.StatusForbidden, Code: "permission_denied", Fault: true})
		writeJSON(w, http.StatusForbidden, map[string]string{"code": "permission_denied", "msg": f.Deny})
		return true
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	code := twirpCodeFor(f.Status)
	s.record(Call{Op: op, Status: f.Status, Code: code, Fault: true})
	writeJSON(w, f.Status, map[string]string{"code": code, "msg": "injected fault"})
	return true
}

func (s *V2Server) record(c Call) {
	c.At = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, c)
}

// blobFaults records proxied blob requests and applies faults to them.
func (s *V2Server) blobFaults(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := blobOp(r)
		if s.applyFault(w, r, op) {
			return
		}
		// The call is recorded as its answer's head is written, before the client can
		// read it: a test counting calls once the client returned sees this one.
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK,
			onHead: func(status int) { s.record(Call{Op: op, Status: status, Range: blobRange(r)}) }}
		s.mu.Lock()
		if op == GetBlob {
			rec.rate = s.readRate
		}
		s.mu.Unlock()
		next.ServeHTTP(rec, r)
		rec.head(rec.status)
	})
}

func blobRange(r *http.Request) string {
	if v := r.Header.Get("x-ms-range"); v != "" {
		return v
	}
	return r.Header.Get("Range")
}

func blobOp(r *http.Request) string {
	comp := r.URL.Query().Get("comp")
	switch {
	case r.Method == http.MethodPut && comp == "block":
		return PutBlock
	case r.Method == http.MethodPut && comp == "blocklist":
		return PutBlockList
	case r.Method == http.MethodPut:
		return PutBlob
	case r.Method == http.MethodHead:
		return HeadBlob
	case r.Method == http.MethodGet:
		return GetBlob
	}
	return r.Method + " blob"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	rate   int64 // bytes per second of the body; 0: unlimited
	onHead func(status int)
	headed bool
}

// head calls onHead once, before the answer's head can reach the client.
func (r *statusRecorder) head(status int) {
	if r.headed {
		return
	}
	r.headed = true
	if r.onHead != nil {
		r.onHead(status)
	}
}

// Write sends the body at most rate bytes per second, in slices of a tenth of that.
func (r *statusRecorder) Write(b []byte) (int, error) {
	r.head(r.status)
	if r.rate <= 0 {
		return r.ResponseWriter.Write(b)
	}
	written := 0
	slice := max(int(r.rate/10), 1)
	for len(b) > 0 {
		n := min(len(b), slice)
		m, err := r.ResponseWriter.Write(b[:n])
		written += m
		if err != nil {
			return written, err
		}
		r.Flush()
		b = b[n:]
		time.Sleep(time.Duration(int64(n) * int64(time.Second) / r.rate))
	}
	return written, nil
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	if code >= 200 { // 1xx answers are not the final head
		r.head(code)
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	r.head(r.status)
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// twirpError is a twirp error answer.
type twirpError struct {
	code string
	msg  string
}

func (s *V2Server) serveTwirp(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, twirpPrefix)
	if f, ok := s.peekFault(method); ok && f.Lost {
		s.takeFault(method)
		// Serve the call for its effect, then answer with the fault.
		s.serveTwirpCall(httptest.NewRecorder(), r, method)
		code := twirpCodeFor(f.Status)
		s.record(Call{Op: method, Status: f.Status, Code: code, Fault: true})
		writeJSON(w, f.Status, map[string]string{"code": code, "msg": "injected fault: the call took effect, its answer was lost"})
		return
	}
	if s.applyFault(w, r, method) {
		return
	}
	if s.rateLimited(w, method) {
		return
	}
	s.serveTwirpCall(w, r, method)
}

// serveTwirpCall checks, decodes and serves one twirp call.
func (s *V2Server) serveTwirpCall(w http.ResponseWriter, r *http.Request, method string) {
	call := Call{Op: method}
	fail := func(e twirpError) {
		call.Code = e.code
		call.Status = twirpStatus(e.code)
		s.record(call)
		writeJSON(w, call.Status, map[string]string{"code": e.code, "msg": e.msg})
	}
	if r.Method != http.MethodPost {
		fail(twirpError{"bad_route", "unsupported method " + r.Method + " (only POST is allowed)"})
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		fail(twirpError{"unauthenticated", "missing or wrong bearer token"})
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		fail(twirpError{"bad_route", "unexpected Content-Type: " + ct})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		fail(twirpError{"malformed", "read body: " + err.Error()})
		return
	}

	var (
		out  any
		terr *twirpError
	)
	switch method {
	case CreateCacheEntry:
		var in struct {
			Metadata *cacheMetadata `json:"metadata"`
			Key      string         `json:"key"`
			Version  string         `json:"version"`
		}
		if terr = decodeStrict(body, &in); terr == nil {
			call.Key, call.Version = in.Key, in.Version
			out, terr = s.create(in.Key, in.Version)
		}
	case FinalizeCacheEntryUpload:
		var in struct {
			Metadata  *cacheMetadata  `json:"metadata"`
			Key       string          `json:"key"`
			SizeBytes json.RawMessage `json:"size_bytes"`
			Version   string          `json:"version"`
		}
		if terr = decodeStrict(body, &in); terr == nil {
			call.Key, call.Version = in.Key, in.Version
			var size int64
			if size, terr = int64String("size_bytes", in.SizeBytes); terr == nil {
				out, terr = s.finalize(r.Context(), in.Key, in.Version, size)
			}
		}
	case GetCacheEntryDownloadURL:
		var in struct {
			Metadata    *cacheMetadata `json:"metadata"`
			Key         string         `json:"key"`
			RestoreKeys []string       `json:"restore_keys"`
			Version     string         `json:"version"`
		}
		if terr = decodeStrict(body, &in); terr == nil {
			call.Key, call.Version = in.Key, in.Version
			var matched string
			out, matched, terr = s.lookup(in.Key, in.RestoreKeys, in.Version)
			call.MatchedKey = matched
		}
	default:
		terr = &twirpError{"bad_route", "no such method: " + method}
	}
	if terr != nil {
		fail(*terr)
		return
	}
	call.Status = http.StatusOK
	s.record(call)
	writeJSON(w, http.StatusOK, out)
}

// cacheMetadata is github.actions.results.entities.v1.CacheMetadata; the
// server accepts it and, like the real service for user calls, ignores it.
type cacheMetadata struct {
	RepositoryID json.RawMessage `json:"repository_id"`
	Scope        []struct {
		Scope      string          `json:"scope"`
		Permission json.RawMessage `json:"permission"`
	} `json:"scope"`
}

// decodeStrict refuses unknown fields, so a client sending "sizeBytes" or
// "restoreKeys" instead of the proto field names fails here.
func decodeStrict(body []byte, v any) *twirpError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &twirpError{"malformed", "the json request could not be decoded: " + err.Error()}
	}
	return nil
}

// int64String reads an int64 field. The proto JSON mapping writes int64 as a string
// (@actions/cache sends "123"), and the service's protojson parser also accepts a plain
// number, which is what BuildKit's gha backend (go-actions-cache) sends.
func int64String(field string, raw json.RawMessage) (int64, *twirpError) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		var n json.Number
		if err := json.Unmarshal(raw, &n); err != nil {
			return 0, &twirpError{"malformed", field + " must be an int64 (a JSON string or number), got " + string(raw)}
		}
		s = n.String()
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &twirpError{"malformed", field + ": " + err.Error()}
	}
	return n, nil
}

func checkKey(key string) *twirpError {
	switch {
	case key == "":
		return &twirpError{"invalid_argument", "key is required"}
	case len(utf16.Encode([]rune(key))) > 512:
		return &twirpError{"invalid_argument", "key cannot be longer than 512 characters"}
	case strings.Contains(key, ","):
		return &twirpError{"invalid_argument", "key cannot contain commas"}
	}
	return nil
}

func (s *V2Server) create(key, version string) (any, *twirpError) {
	if e := checkKey(key); e != nil {
		return nil, e
	}
	if version == "" {
		return nil, &twirpError{"invalid_argument", "version is required"}
	}
	s.mu.Lock()
	scope := s.scopes[0]
	for _, e := range s.entries {
		if strings.EqualFold(e.Key, key) && e.Version == version && e.Scope == scope {
			s.mu.Unlock()
			return nil, &twirpError{"already_exists", "cache entry with the same key, version, and scope already exists"}
		}
	}
	e := &Entry{ID: s.nextID, Key: key, Version: version, Scope: scope, CreatedAt: time.Now()}
	s.nextID++
	e.blobName = fmt.Sprintf("entry-%d", e.ID)
	s.entries = append(s.entries, e)
	s.mu.Unlock()

	u, err := s.signedURL(e.blobName, "cw")
	if err != nil {
		return nil, &twirpError{"internal", err.Error()}
	}
	return map[string]any{"ok": true, "signed_upload_url": u, "message": ""}, nil
}

func (s *V2Server) finalize(ctx context.Context, key, version string, size int64) (any, *twirpError) {
	if e := checkKey(key); e != nil {
		return nil, e
	}
	s.mu.Lock()
	var entry *Entry
	for _, e := range s.entries {
		if strings.EqualFold(e.Key, key) && e.Version == version && e.Scope == s.scopes[0] {
			entry = e
		}
	}
	s.mu.Unlock()
	if entry == nil {
		return nil, &twirpError{"not_found", "no reserved cache entry for this key and version"}
	}
	if entry.Finalized {
		return nil, &twirpError{"already_exists", "cache entry is already finalized"}
	}
	got, err := s.az.BlobSize(ctx, s.container, entry.blobName)
	if err != nil {
		return nil, &twirpError{"failed_precondition", "no committed blob for the entry: " + err.Error()}
	}
	if got != size {
		return nil, &twirpError{"invalid_argument", fmt.Sprintf("size_bytes %d does not match the uploaded blob's %d bytes", size, got)}
	}
	s.mu.Lock()
	entry.Size = size
	entry.Finalized = true
	s.mu.Unlock()
	return map[string]any{"ok": true, "entry_id": strconv.FormatInt(entry.ID, 10), "message": ""}, nil
}

func (s *V2Server) lookup(key string, restoreKeys []string, version string) (any, string, *twirpError) {
	if e := checkKey(key); e != nil {
		return nil, "", e
	}
	for _, k := range restoreKeys {
		if e := checkKey(k); e != nil {
			return nil, "", e
		}
	}
	if version == "" {
		return nil, "", &twirpError{"invalid_argument", "version is required"}
	}
	miss := map[string]any{"ok": false, "signed_download_url": "", "matched_key": ""}

	s.mu.Lock()
	var found *Entry
	newest := func(match func(k string) bool, scope string) *Entry {
		var best *Entry
		for _, e := range s.entries {
			if e.Finalized && e.Version == version && e.Scope == scope && match(strings.ToLower(e.Key)) &&
				(best == nil || e.CreatedAt.After(best.CreatedAt)) {
				best = e
			}
		}
		return best
	}
	lk := strings.ToLower(key)
search:
	for _, scope := range s.scopes {
		if found = newest(func(k string) bool { return k == lk }, scope); found != nil {
			break
		}
		if found = newest(func(k string) bool { return strings.HasPrefix(k, lk) }, scope); found != nil {
			break
		}
		for _, rk := range restoreKeys {
			lrk := strings.ToLower(rk)
			if found = newest(func(k string) bool { return strings.HasPrefix(k, lrk) }, scope); found != nil {
				break search
			}
		}
	}
	var blobName, matched string
	if found != nil {
		blobName, matched = found.blobName, found.Key
	}
	s.mu.Unlock()

	if found == nil {
		return miss, "", nil
	}
	u, err := s.signedURL(blobName, "r")
	if err != nil {
		return nil, "", &twirpError{"internal", err.Error()}
	}
	return map[string]any{"ok": true, "signed_download_url": u, "matched_key": matched}, matched, nil
}

// signedURL signs a SAS for the blob, pointing at the proxy when blobs are
// proxied (the signature covers the resource path, not the host).
func (s *V2Server) signedURL(blobName, perms string) (string, error) {
	s.mu.Lock()
	lifetime := s.lifetime
	s.mu.Unlock()
	u, err := s.az.SignedURL(s.container, blobName, perms, lifetime)
	if err != nil {
		return u, err
	}
	if s.storage != "" {
		return strings.Replace(u, s.az.URL, s.storage+"/"+AzuriteAccount, 1), nil
	}
	if s.refuseDL && perms == "r" {
		// Port 1 on the loopback: nothing listens, connections are refused.
		return strings.Replace(u, s.az.URL, "http://127.0.0.1:1/"+AzuriteAccount, 1), nil
	}
	if !s.proxied {
		return u, nil
	}
	return strings.Replace(u, s.az.URL, s.srv.URL+"/"+AzuriteAccount, 1), nil
}

// twirpStatus maps twirp error codes to HTTP statuses (twirp spec).
func twirpStatus(code string) int {
	switch code {
	case "canceled":
		return 408
	case "invalid_argument", "malformed", "out_of_range":
		return 400
	case "deadline_exceeded":
		return 408
	case "not_found", "bad_route":
		return 404
	case "already_exists", "aborted":
		return 409
	case "permission_denied":
		return 403
	case "unauthenticated":
		return 401
	case "resource_exhausted":
		return 429
	case "failed_precondition":
		return 412
	case "unimplemented":
		return 501
	case "unavailable":
		return 503
	}
	return 500
}

// twirpCodeFor names an injected status the way twirp would.
func twirpCodeFor(status int) string {
	switch status {
	case 429:
		return "resource_exhausted"
	case 503:
		return "unavailable"
	case 409:
		return "already_exists"
	case 404:
		return "not_found"
	case 400:
		return "invalid_argument"
	}
	return "internal"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
