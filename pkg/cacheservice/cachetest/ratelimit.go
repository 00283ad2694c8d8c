package cachetest

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// UploadLimit is github.com's limit on cache uploads: at most Uploads cache entries
// created (CreateCacheEntry) per repository in any Window. github.com allows 200 a minute
// per repository and answers a call over it with HTTP 429 and a Retry-After header, before
// which clients must not retry (docs/shared reference actions-runtime.md, "Cache access
// rules"; tonistiigi/go-actions-cache cache.go doWithRetries sleeps Retry-After on a 429
// and retries, which is what BuildKit's gha backend does under the limit).
//
// The answer is a twirp error as a twirp server sends one for 429: code resource_exhausted
// (twirp spec's code/status table: resource_exhausted is 429), a JSON body
// {"code","msg"} and Retry-After in whole seconds.
type UploadLimit struct {
	Uploads int           // entries per window; 0: no limit
	Window  time.Duration // default one minute
}

// GitHubUploadLimit is github.com's limit.
var GitHubUploadLimit = UploadLimit{Uploads: 200, Window: time.Minute}

// uploadLimiter is a sliding window over the accepted uploads' times.
type uploadLimiter struct {
	limit UploadLimit
	now   func() time.Time

	mu       sync.Mutex
	accepted []time.Time // times of the uploads in the current window, oldest first
	limited  int         // calls answered 429
}

func newUploadLimiter(l UploadLimit) *uploadLimiter {
	if l.Uploads <= 0 {
		return nil
	}
	if l.Window <= 0 {
		l.Window = time.Minute
	}
	return &uploadLimiter{limit: l, now: time.Now}
}

// admit counts one upload, or tells how long until the window has room for it.
func (l *uploadLimiter) admit() (wait time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	cut := 0
	for cut < len(l.accepted) && now.Sub(l.accepted[cut]) >= l.limit.Window {
		cut++
	}
	l.accepted = l.accepted[cut:]
	if len(l.accepted) < l.limit.Uploads {
		l.accepted = append(l.accepted, now)
		return 0, true
	}
	l.limited++
	return l.accepted[0].Add(l.limit.Window).Sub(now), false
}

// retryAfterSeconds rounds a wait up to whole seconds, as Retry-After carries them, and
// never below one: a client that waits what it is told is then never early.
func retryAfterSeconds(wait time.Duration) int {
	s := int((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}

// rateLimited answers a CreateCacheEntry over the upload limit with 429 and reports
// whether it did. Other calls (lookups, finalize) and storage requests are not counted:
// the limit is on uploads, i.e. entries created.
func (s *V2Server) rateLimited(w http.ResponseWriter, method string) bool {
	if s.limiter == nil || method != CreateCacheEntry {
		return false
	}
	wait, ok := s.limiter.admit()
	if ok {
		return false
	}
	secs := retryAfterSeconds(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	s.record(Call{Op: method, Status: http.StatusTooManyRequests, Code: "resource_exhausted"})
	writeJSON(w, http.StatusTooManyRequests, map[string]string{
		"code": "resource_exhausted",
		"msg":  fmt.Sprintf("rate limit exceeded: at most %d cache uploads per %s; retry after %d s", s.limiter.limit.Uploads, s.limiter.limit.Window, secs),
	})
	return true
}

// RateLimited is how many CreateCacheEntry calls were answered 429 so far.
func (s *V2Server) RateLimited() int {
	if s.limiter == nil {
		return 0
	}
	s.limiter.mu.Lock()
	defer s.limiter.mu.Unlock()
	return s.limiter.limited
}
