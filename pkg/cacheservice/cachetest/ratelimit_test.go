package cachetest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUploadLimiterAnswersWithTheWaitUntilTheOldestUploadLeavesTheWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := newUploadLimiter(UploadLimit{Uploads: 2, Window: 10 * time.Second})
	l.now = func() time.Time { return now }
	for i := range 2 {
		if _, ok := l.admit(); !ok {
			t.Fatalf("upload %d refused under the limit", i+1)
		}
		now = now.Add(3 * time.Second)
	}
	// Two uploads at t=0 and t=3; at t=6 the third must wait until t=10.
	wait, ok := l.admit()
	if ok || wait != 4*time.Second {
		t.Fatalf("third upload: ok=%v wait=%v, want refused with 4s", ok, wait)
	}
	if got := retryAfterSeconds(wait); got != 4 {
		t.Errorf("Retry-After %d, want 4", got)
	}
	if got := retryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Errorf("Retry-After of 1.5s = %d, want 2 (rounded up: never early)", got)
	}
	now = now.Add(4 * time.Second) // t=10: the first upload left the window
	if _, ok := l.admit(); !ok {
		t.Fatal("upload refused after the window moved on")
	}
	if _, ok := l.admit(); ok {
		t.Fatal("a second upload at t=10 was admitted: t=3 and t=10 already fill the window")
	}
	if l.limited != 2 {
		t.Errorf("limited = %d, want 2", l.limited)
	}
	if newUploadLimiter(UploadLimit{}) != nil {
		t.Error("the zero limit must not limit")
	}
}

func TestV2ServerAnswersUploadsOverTheLimitWith429AndRetryAfter(t *testing.T) {
	srv := StartV2(t, V2Options{UploadLimit: UploadLimit{Uploads: 2, Window: time.Minute}})
	create := func(key string) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, srv.URL()+"twirp/github.actions.results.api.v1.CacheService/CreateCacheEntry",
			strings.NewReader(`{"key":"`+key+`","version":"v1"}`))
		req.Header.Set("Authorization", "Bearer "+srv.Token())
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	for _, k := range []string{"a", "b"} {
		resp := create(k)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("create %s: %d under the limit", k, resp.StatusCode)
		}
	}
	resp := create("c")
	defer resp.Body.Close()
	var body struct{ Code, Msg string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	secs, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || body.Code != "resource_exhausted" || err != nil || secs < 59 || secs > 60 {
		t.Fatalf("over the limit: status %d code %q Retry-After %q, want 429 resource_exhausted ~60", resp.StatusCode, body.Code, resp.Header.Get("Retry-After"))
	}
	if srv.RateLimited() != 1 || len(srv.Entries()) != 2 {
		t.Errorf("RateLimited=%d entries=%d, want 1 and 2 (a refused upload creates nothing)", srv.RateLimited(), len(srv.Entries()))
	}
}
