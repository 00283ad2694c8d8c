package ghapitest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func get(t *testing.T, method, rawURL string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s %s: decode: %v", method, rawURL, err)
		}
	}
	return resp, body
}

func seed(s *Server) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		s.AddCache(Cache{Key: fmt.Sprintf("pip-%d", i), Ref: "refs/heads/main", Version: "v",
			CreatedAt: base.Add(time.Duration(i) * time.Hour), LastAccessedAt: base.Add(time.Duration(10-i) * time.Hour),
			SizeInBytes: int64(100 * (i + 1))})
	}
	s.AddCache(Cache{Key: "pip-x", Ref: "refs/heads/dev", CreatedAt: base, SizeInBytes: 1})
	s.AddCache(Cache{Key: "npm-0", Ref: "refs/heads/main", CreatedAt: base, SizeInBytes: 1})
}

func keysOf(body map[string]any) []string {
	var keys []string
	for _, c := range body["actions_caches"].([]any) {
		keys = append(keys, c.(map[string]any)["key"].(string))
	}
	return keys
}

// The list response carries exactly the documented fields, and pages are
// linked the way GitHub links them.
func TestListHasTheDocumentedShapeAndLinkPagination(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	seed(s)
	list := s.URL + "/repos/octo-org/octo-repo/actions/caches?key=pip-&ref=refs%2Fheads%2Fmain&sort=created_at&direction=desc&per_page=2"

	resp, body := get(t, http.MethodGet, list)
	if resp.StatusCode != http.StatusOK || body["total_count"] != float64(5) {
		t.Fatalf("status %d, total_count %v; want 200 and 5 (all matches, not the page)", resp.StatusCode, body["total_count"])
	}
	entry := body["actions_caches"].([]any)[0].(map[string]any)
	var fields []string
	for k := range entry {
		fields = append(fields, k)
	}
	sort.Strings(fields)
	if got, want := strings.Join(fields, ","), "created_at,id,key,last_accessed_at,ref,size_in_bytes,version"; got != want {
		t.Errorf("entry fields %s, want %s", got, want)
	}
	if got := strings.Join(keysOf(body), ","); got != "pip-4,pip-3" {
		t.Errorf("page 1 = %s, want pip-4,pip-3", got)
	}

	links := resp.Header.Get("Link")
	if !strings.Contains(links, `page=2`) || !strings.Contains(links, `rel="next"`) || !strings.Contains(links, `rel="last"`) || strings.Contains(links, `rel="prev"`) {
		t.Errorf("page 1 Link = %s, want next (page 2) and last only", links)
	}
	next := strings.TrimPrefix(strings.Split(links, ">")[0], "<")
	u, err := url.Parse(next)
	if err != nil || u.Query().Get("key") != "pip-" || u.Query().Get("per_page") != "2" || u.Query().Get("page") != "2" {
		t.Errorf("next link %q does not repeat the query with page=2", next)
	}

	resp, body = get(t, http.MethodGet, list+"&page=3")
	if got := strings.Join(keysOf(body), ","); got != "pip-0" {
		t.Errorf("page 3 = %s, want pip-0", got)
	}
	if links := resp.Header.Get("Link"); strings.Contains(links, `rel="next"`) || !strings.Contains(links, `rel="prev"`) || !strings.Contains(links, `rel="first"`) {
		t.Errorf("last page Link = %s, want prev and first, no next", links)
	}
}

func TestListDefaultsToLastAccessedDescendingAndFiltersByExactRef(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	seed(s)

	_, body := get(t, http.MethodGet, s.URL+"/repos/octo-org/octo-repo/actions/caches?ref=refs/heads/main&key=pip")
	// last_accessed_at falls as i grows, so newest access first is pip-0.
	if got := strings.Join(keysOf(body), ","); got != "pip-0,pip-1,pip-2,pip-3,pip-4" {
		t.Errorf("default order = %s", got)
	}
	_, body = get(t, http.MethodGet, s.URL+"/repos/octo-org/octo-repo/actions/caches?ref=main")
	if body["total_count"] != float64(0) {
		t.Errorf("ref=main matched %v entries; the ref filter takes the full ref", body["total_count"])
	}
}

func TestDeleteByKeyTakesTheCompleteKeyAndDeleteByIDOneEntry(t *testing.T) {
	s := NewServer(Options{})
	defer s.Close()
	seed(s)
	caches := s.URL + "/repos/octo-org/octo-repo/actions/caches"

	if resp, _ := get(t, http.MethodDelete, caches+"?key=pip-"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("delete by a key prefix: status %d, want 404", resp.StatusCode)
	}
	resp, body := get(t, http.MethodDelete, caches+"?key=pip-1&ref=refs/heads/main")
	if resp.StatusCode != http.StatusOK || strings.Join(keysOf(body), ",") != "pip-1" {
		t.Errorf("delete by key: status %d, deleted %v", resp.StatusCode, body)
	}
	id := s.Caches()[0].ID
	if resp, _ := get(t, http.MethodDelete, fmt.Sprintf("%s/%d", caches, id)); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete by id: status %d, want 204", resp.StatusCode)
	}
	if resp, _ := get(t, http.MethodDelete, fmt.Sprintf("%s/%d", caches, id)); resp.StatusCode != http.StatusNotFound {
		t.Errorf("second delete by id: status %d, want 404", resp.StatusCode)
	}
	if n := len(s.Caches()); n != 5 {
		t.Errorf("%d entries left, want 5", n)
	}
}

func TestUnknownRepositoryAndFaultsAnswerLikeGitHub(t *testing.T) {
	s := NewServer(Options{PathPrefix: "/api/v3"})
	defer s.Close()
	if resp, body := get(t, http.MethodGet, s.URL+"/repos/octo-org/other/actions/cache/usage"); resp.StatusCode != http.StatusNotFound || body["message"] != "Not Found" {
		t.Errorf("unknown repository: %d %v", resp.StatusCode, body)
	}
	s.Fail(PrimaryRateLimit(GetCacheUsage, time.Unix(1_900_000_000, 0)).WithCount(1))
	resp, _ := get(t, http.MethodGet, s.URL+"/repos/octo-org/octo-repo/actions/cache/usage")
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-RateLimit-Remaining") != "0" || resp.Header.Get("X-RateLimit-Reset") != "1900000000" {
		t.Errorf("rate limit fault: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body := get(t, http.MethodGet, s.URL+"/repos/octo-org/octo-repo/actions/cache/usage")
	if resp.StatusCode != http.StatusOK || body["full_name"] != "octo-org/octo-repo" || body["active_caches_count"] != float64(0) || body["active_caches_size_in_bytes"] != float64(0) {
		t.Errorf("usage after the one-shot fault: %d %v", resp.StatusCode, body)
	}
	reqs := s.Requests()
	if len(reqs) != 3 || reqs[0].Operation != GetCacheUsage || reqs[1].Operation != GetCacheUsage || reqs[0].Path != "/api/v3/repos/octo-org/other/actions/cache/usage" {
		t.Errorf("recorded %+v", reqs)
	}
}

// sharedStore is entries another stand-in holds (the cache service's, in e2e: V2Store).
type sharedStore struct {
	mu     sync.Mutex
	caches []Cache
}

func (st *sharedStore) Caches() []Cache {
	st.mu.Lock()
	defer st.mu.Unlock()
	return append([]Cache(nil), st.caches...)
}

func (st *sharedStore) Delete(match func(Cache) bool) []Cache {
	st.mu.Lock()
	defer st.mu.Unlock()
	var kept, deleted []Cache
	for _, c := range st.caches {
		if match(c) {
			deleted = append(deleted, c)
		} else {
			kept = append(kept, c)
		}
	}
	st.caches = kept
	return deleted
}

// With a Store, the endpoints list, count and delete that store's entries: a deletion
// through the REST API is one its owner sees.
func TestAStoreHoldsTheEntriesTheEndpointsListAndDelete(t *testing.T) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	st := &sharedStore{caches: []Cache{
		{ID: 7, Key: "buildkit-blob-1-sha256:aa", Ref: "refs/heads/main", CreatedAt: base, LastAccessedAt: base, SizeInBytes: 10},
		{ID: 8, Key: "warmbuild-buildrecord-app-main/0123", Ref: "refs/heads/main", CreatedAt: base.Add(time.Minute), LastAccessedAt: base.Add(time.Minute), SizeInBytes: 2},
		{ID: 9, Key: "buildkit-blob-1-sha256:aa", Ref: "refs/heads/dev", CreatedAt: base, LastAccessedAt: base, SizeInBytes: 10},
	}}
	s := NewServer(Options{Store: st})
	defer s.Close()
	caches := s.URL + "/repos/octo-org/octo-repo/actions/caches"

	if _, body := get(t, http.MethodGet, caches+"?ref=refs/heads/main&sort=created_at&direction=asc"); strings.Join(keysOf(body), ",") != "buildkit-blob-1-sha256:aa,warmbuild-buildrecord-app-main/0123" {
		t.Errorf("list = %v, want the store's two main entries", keysOf(body))
	}
	if _, body := get(t, http.MethodGet, s.URL+"/repos/octo-org/octo-repo/actions/cache/usage"); body["active_caches_count"] != float64(3) || body["active_caches_size_in_bytes"] != float64(22) {
		t.Errorf("usage = %v, want the store's 3 entries, 22 bytes", body)
	}
	resp, body := get(t, http.MethodDelete, caches+"?key=buildkit-blob-1-sha256:aa&ref=refs/heads/main")
	if resp.StatusCode != http.StatusOK || body["total_count"] != float64(1) {
		t.Errorf("delete by key and ref: %d %v", resp.StatusCode, body)
	}
	if resp, _ := get(t, http.MethodDelete, caches+"/8"); resp.StatusCode != http.StatusNoContent {
		t.Errorf("delete by id: status %d, want 204", resp.StatusCode)
	}
	if left := st.Caches(); len(left) != 1 || left[0].ID != 9 {
		t.Errorf("the store holds %+v, want only dev's entry (id 9)", left)
	}
}
