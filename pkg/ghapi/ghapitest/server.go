// Package ghapitest is an in-process stand-in for the parts of the GitHub REST
// API that warmbuild uses: the repository Actions cache endpoints.
//
// Response bodies, status codes, query parameters and pagination follow
// GitHub's REST documentation (https://docs.github.com/rest/actions/cache):
//
//	GET    /repos/{owner}/{repo}/actions/caches                 list (key prefix, ref, sort, direction, per_page, page)
//	DELETE /repos/{owner}/{repo}/actions/caches?key=&ref=       delete by exact key (+ optional ref)
//	DELETE /repos/{owner}/{repo}/actions/caches/{cache_id}      delete by id
//	GET    /repos/{owner}/{repo}/actions/cache/usage            usage
//	GET    /repos/{owner}/{repo}/actions/cache/storage-limit    limit (github.com)
//	GET    /repos/{owner}/{repo}/actions/cache/usage-policy     limit (GitHub Enterprise Server)
//
// Every request is recorded with the documented operation it matched, so
// tests can assert the exact calls a client made. Faults (403, 404, rate
// limits) can be injected per operation.
package ghapitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Documented operations, written as GitHub's docs write them. A recorded
// Request carries the one it matched; faults are keyed by them.
const (
	ListCaches        = "GET /repos/{owner}/{repo}/actions/caches"
	DeleteCachesByKey = "DELETE /repos/{owner}/{repo}/actions/caches"
	DeleteCacheByID   = "DELETE /repos/{owner}/{repo}/actions/caches/{cache_id}"
	GetCacheUsage     = "GET /repos/{owner}/{repo}/actions/cache/usage"
	GetStorageLimit   = "GET /repos/{owner}/{repo}/actions/cache/storage-limit"
	GetUsagePolicy    = "GET /repos/{owner}/{repo}/actions/cache/usage-policy"
)

// Paging limits of the list endpoint, from GitHub's docs.
const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// Cache is one Actions cache entry as the REST API describes it.
type Cache struct {
	ID             int64
	Ref            string
	Key            string
	Version        string
	LastAccessedAt time.Time
	CreatedAt      time.Time
	SizeInBytes    int64
}

// Request is one request the server received.
type Request struct {
	// Operation is the documented operation the request matched (one of the
	// constants above), or "" when it matched none.
	Operation string
	Method    string
	// Path is the URL path as sent, including any GHES prefix (/api/v3).
	Path  string
	Query url.Values
	// Authenticated is true when an Authorization header was present. The
	// token itself is not recorded.
	Authenticated bool
}

// Fault makes requests to one operation fail.
type Fault struct {
	Operation string
	Status    int
	Header    http.Header
	// Body is the JSON error body; GitHub's {"message", "documentation_url"}.
	Body map[string]string
	// Count is how many matching requests fail; 0 means all of them.
	Count int
}

// WithCount returns f failing only the next n matching requests.
func (f Fault) WithCount(n int) Fault {
	f.Count = n
	return f
}

// Forbidden is the 403 GitHub returns when the GITHUB_TOKEN lacks a permission.
func Forbidden(operation string) Fault {
	return Fault{Operation: operation, Status: http.StatusForbidden, Body: map[string]string{
		"message":           "Resource not accessible by integration",
		"documentation_url": "https://docs.github.com/rest/actions/cache",
	}}
}

// PrimaryRateLimit is the 403 GitHub returns when the hourly quota is spent
// (X-RateLimit-Remaining: 0 and the reset time in epoch seconds).
func PrimaryRateLimit(operation string, reset time.Time) Fault {
	h := http.Header{}
	h.Set("X-RateLimit-Limit", "1000")
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Used", "1000")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
	h.Set("X-RateLimit-Resource", "core")
	return Fault{Operation: operation, Status: http.StatusForbidden, Header: h, Body: map[string]string{
		"message":           "API rate limit exceeded for installation ID 1.",
		"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
	}}
}

// SecondaryRateLimit is the 403 GitHub returns for a secondary rate limit,
// with Retry-After in seconds.
func SecondaryRateLimit(operation string, retryAfter time.Duration) Fault {
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
	return Fault{Operation: operation, Status: http.StatusForbidden, Header: h, Body: map[string]string{
		"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
		"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
	}}
}

// Options configure a Server.
type Options struct {
	// Repository is "owner/name"; requests for any other repository get 404.
	Repository string
	// PathPrefix is prepended to every route, e.g. "/api/v3" for GitHub
	// Enterprise Server.
	PathPrefix string
	// Token, when set, is required as "Bearer <Token>"; otherwise 401.
	Token string
	// StorageLimitGB answers GET .../cache/storage-limit; 0 means the
	// endpoint does not exist (404), as on GitHub Enterprise Server.
	StorageLimitGB int
	// UsagePolicyGB answers GET .../cache/usage-policy; 0 means 404, as on
	// github.com.
	UsagePolicyGB int
	// Store, when set, holds the entries the endpoints list, count and delete instead of
	// the server's own list (AddCache): e.g. V2Store, the cache service stand-in's real
	// entries, so that a deletion through the REST API is one the cache service sees.
	Store Store
}

// Store is where a Server's cache entries live.
type Store interface {
	// Caches returns the entries in the order they were created.
	Caches() []Cache
	// Delete removes the entries match selects and returns them.
	Delete(match func(Cache) bool) []Cache
}

// Server is a running fake of the cache endpoints.
type Server struct {
	// URL is the API root a client is configured with (GITHUB_API_URL),
	// including PathPrefix and without a trailing slash.
	URL string

	opts Options
	http *httptest.Server

	store Store

	mu       sync.Mutex
	caches   []Cache // the entries when Options.Store is nil
	nextID   int64
	requests []Request
	faults   []Fault
	used     int
}

// NewServer starts a server on 127.0.0.1. Close it when done.
func NewServer(opts Options) *Server {
	if opts.Repository == "" {
		opts.Repository = "octo-org/octo-repo"
	}
	opts.PathPrefix = strings.TrimSuffix(opts.PathPrefix, "/")
	s := &Server{opts: opts, nextID: 1, store: opts.Store}
	if s.store == nil {
		s.store = ownStore{s}
	}
	mux := http.NewServeMux()
	route := func(operation string, h func(http.ResponseWriter, *http.Request)) {
		method, path, _ := strings.Cut(operation, " ")
		mux.HandleFunc(method+" "+opts.PathPrefix+path, func(w http.ResponseWriter, r *http.Request) {
			s.serve(operation, w, r, h)
		})
	}
	route(ListCaches, s.listCaches)
	route(DeleteCachesByKey, s.deleteByKey)
	route(DeleteCacheByID, s.deleteByID)
	route(GetCacheUsage, s.usage)
	route(GetStorageLimit, s.storageLimit)
	route(GetUsagePolicy, s.usagePolicy)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.record("", r)
		writeError(w, http.StatusNotFound, "Not Found")
	})
	s.http = httptest.NewServer(mux)
	s.URL = s.http.URL + opts.PathPrefix
	return s
}

// Close shuts the server down.
func (s *Server) Close() { s.http.Close() }

// AddCache stores an entry; an ID of 0 is replaced by the next free one.
// It returns the stored entry. With Options.Store the entries are that store's: add them
// there.
func (s *Server) AddCache(c Cache) Cache {
	if s.opts.Store != nil {
		panic("ghapitest: AddCache on a server with Options.Store; add the entry to the store")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID == 0 {
		c.ID = s.nextID
	}
	if c.ID >= s.nextID {
		s.nextID = c.ID + 1
	}
	if c.LastAccessedAt.IsZero() {
		c.LastAccessedAt = c.CreatedAt
	}
	s.caches = append(s.caches, c)
	return c
}

// Caches returns the stored entries in insertion order.
func (s *Server) Caches() []Cache { return s.store.Caches() }

// ownStore is the server's own list of entries.
type ownStore struct{ s *Server }

func (o ownStore) Caches() []Cache {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	return append([]Cache(nil), o.s.caches...)
}

func (o ownStore) Delete(match func(Cache) bool) []Cache {
	o.s.mu.Lock()
	defer o.s.mu.Unlock()
	var kept, deleted []Cache
	for _, c := range o.s.caches {
		if match(c) {
			deleted = append(deleted, c)
			continue
		}
		kept = append(kept, c)
	}
	o.s.caches = kept
	return deleted
}

// Requests returns the requests received so far, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Fail injects a fault; faults are consulted in the order they were added.
func (s *Server) Fail(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

func (s *Server) record(operation string, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, Request{
		Operation:     operation,
		Method:        r.Method,
		Path:          r.URL.Path,
		Query:         r.URL.Query(),
		Authenticated: r.Header.Get("Authorization") != "",
	})
}

// serve applies what every endpoint shares: recording, authentication, the
// repository check, injected faults and rate-limit headers.
func (s *Server) serve(operation string, w http.ResponseWriter, r *http.Request, h func(http.ResponseWriter, *http.Request)) {
	s.record(operation, r)
	if s.opts.Token != "" {
		switch auth := r.Header.Get("Authorization"); {
		case auth == "":
			writeError(w, http.StatusUnauthorized, "Requires authentication")
			return
		case auth != "Bearer "+s.opts.Token:
			writeError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
	}
	// GitHub treats owner and repo case-insensitively.
	if !strings.EqualFold(r.PathValue("owner")+"/"+r.PathValue("repo"), s.opts.Repository) {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	if f, ok := s.takeFault(operation); ok {
		for k, v := range f.Header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(f.Status)
		_ = json.NewEncoder(w).Encode(f.Body)
		return
	}
	s.mu.Lock()
	s.used++
	used := s.used
	s.mu.Unlock()
	w.Header().Set("X-RateLimit-Limit", "1000")
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(1000-used, 1)))
	w.Header().Set("X-RateLimit-Used", strconv.Itoa(used))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
	w.Header().Set("X-RateLimit-Resource", "core")
	h(w, r)
}

func (s *Server) takeFault(operation string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Operation != operation {
			continue
		}
		if f.Count > 0 {
			if f.Count == 1 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			} else {
				s.faults[i].Count--
			}
		}
		return f, true
	}
	return Fault{}, false
}

// cacheJSON is the documented shape of one entry of "actions_caches".
type cacheJSON struct {
	ID             int64  `json:"id"`
	Ref            string `json:"ref"`
	Key            string `json:"key"`
	Version        string `json:"version"`
	LastAccessedAt string `json:"last_accessed_at"`
	CreatedAt      string `json:"created_at"`
	SizeInBytes    int64  `json:"size_in_bytes"`
}

type cacheListJSON struct {
	TotalCount    int         `json:"total_count"`
	ActionsCaches []cacheJSON `json:"actions_caches"`
}

func toJSON(c Cache) cacheJSON {
	return cacheJSON{
		ID: c.ID, Ref: c.Ref, Key: c.Key, Version: c.Version,
		LastAccessedAt: c.LastAccessedAt.UTC().Format(time.RFC3339Nano),
		CreatedAt:      c.CreatedAt.UTC().Format(time.RFC3339Nano),
		SizeInBytes:    c.SizeInBytes,
	}
}

func (s *Server) listCaches(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	perPage, err := intParam(q, "per_page", defaultPerPage)
	if err != nil || perPage < 1 {
		writeError(w, http.StatusUnprocessableEntity, "Invalid per_page")
		return
	}
	perPage = min(perPage, maxPerPage)
	page, err := intParam(q, "page", 1)
	if err != nil || page < 1 {
		writeError(w, http.StatusUnprocessableEntity, "Invalid page")
		return
	}
	sortBy := q.Get("sort")
	if sortBy == "" {
		sortBy = "last_accessed_at"
	}
	direction := q.Get("direction")
	if direction == "" {
		direction = "desc"
	}
	less, ok := orderings[sortBy]
	if !ok || (direction != "asc" && direction != "desc") {
		writeError(w, http.StatusUnprocessableEntity, "Invalid sort or direction")
		return
	}

	var matched []Cache
	for _, c := range s.Caches() {
		// "key": an explicit key or prefix; "ref": the full Git reference.
		if k := q.Get("key"); k != "" && !strings.HasPrefix(c.Key, k) {
			continue
		}
		if ref := q.Get("ref"); ref != "" && c.Ref != ref {
			continue
		}
		matched = append(matched, c)
	}
	sort.SliceStable(matched, func(i, j int) bool {
		if direction == "asc" {
			return less(matched[i], matched[j])
		}
		return less(matched[j], matched[i])
	})

	out := cacheListJSON{TotalCount: len(matched), ActionsCaches: []cacheJSON{}}
	for i := (page - 1) * perPage; i < len(matched) && i < page*perPage; i++ {
		out.ActionsCaches = append(out.ActionsCaches, toJSON(matched[i]))
	}
	lastPage := max((len(matched)+perPage-1)/perPage, 1)
	if link := linkHeader(s.http.URL, r.URL, page, lastPage); link != "" {
		w.Header().Set("Link", link)
	}
	writeJSON(w, http.StatusOK, out)
}

var orderings = map[string]func(a, b Cache) bool{
	"created_at":       func(a, b Cache) bool { return a.CreatedAt.Before(b.CreatedAt) },
	"last_accessed_at": func(a, b Cache) bool { return a.LastAccessedAt.Before(b.LastAccessedAt) },
	"size_in_bytes":    func(a, b Cache) bool { return a.SizeInBytes < b.SizeInBytes },
}

// linkHeader builds GitHub's pagination header: absolute URLs that repeat the
// request's query with another page, in GitHub's order prev, next, last, first.
func linkHeader(base string, reqURL *url.URL, page, lastPage int) string {
	link := func(p int, rel string) string {
		q := reqURL.Query()
		q.Set("page", strconv.Itoa(p))
		return fmt.Sprintf("<%s%s?%s>; rel=%q", base, reqURL.Path, q.Encode(), rel)
	}
	var parts []string
	if page > 1 {
		parts = append(parts, link(min(page-1, lastPage), "prev"))
	}
	if page < lastPage {
		parts = append(parts, link(page+1, "next"), link(lastPage, "last"))
	}
	if page > 1 {
		parts = append(parts, link(1, "first"))
	}
	return strings.Join(parts, ", ")
}

func (s *Server) deleteByKey(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key, ref := q.Get("key"), q.Get("ref")
	if key == "" {
		writeError(w, http.StatusUnprocessableEntity, "key is required")
		return
	}
	// Deletion by key takes the complete key, not a prefix.
	deleted := []cacheJSON{}
	for _, c := range s.store.Delete(func(c Cache) bool { return c.Key == key && (ref == "" || c.Ref == ref) }) {
		deleted = append(deleted, toJSON(c))
	}
	if len(deleted) == 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, cacheListJSON{TotalCount: len(deleted), ActionsCaches: deleted})
}

func (s *Server) deleteByID(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("cache_id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	found := len(s.store.Delete(func(c Cache) bool { return c.ID == id })) > 0
	if !found {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) usage(w http.ResponseWriter, _ *http.Request) {
	var size int64
	caches := s.Caches()
	for _, c := range caches {
		size += c.SizeInBytes
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"full_name":                   s.opts.Repository,
		"active_caches_size_in_bytes": size,
		"active_caches_count":         len(caches),
	})
}

func (s *Server) storageLimit(w http.ResponseWriter, _ *http.Request) {
	if s.opts.StorageLimitGB == 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"max_cache_size_gb": s.opts.StorageLimitGB})
}

func (s *Server) usagePolicy(w http.ResponseWriter, _ *http.Request) {
	if s.opts.UsagePolicyGB == 0 {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"repo_cache_size_limit_in_gb": s.opts.UsagePolicyGB})
}

func intParam(q url.Values, name string, def int) (int, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	return strconv.Atoi(v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{
		"message":           message,
		"documentation_url": "https://docs.github.com/rest/actions/cache",
	})
}
