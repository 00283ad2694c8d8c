package ghapi

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Following GitHub's advice for rate-limit responses
// (docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api):
// honour Retry-After; else, when X-RateLimit-Remaining is 0, wait until
// X-RateLimit-Reset; else wait at least a minute.
const (
	// resetSlack covers X-RateLimit-Reset's whole-second resolution and clock skew.
	resetSlack = time.Second
	// unspecifiedWait is GitHub's "at least one minute" when a rate-limit
	// response names no time.
	unspecifiedWait = time.Minute
)

// rateLimitTransport sits beneath go-github and waits out short rate limits
// by retrying the request itself. Doing it here rather than around go-github
// matters: go-github remembers a rate-limit response and refuses further
// requests by the wall clock until it lifts, so a retry above it would be
// refused even after waiting (and an injected test clock could never satisfy
// it). Long limits pass through unchanged and become a *RateLimitError.
type rateLimitTransport struct {
	base       http.RoundTripper
	now        func() time.Time
	sleep      func(context.Context, time.Duration) error
	maxWait    time.Duration
	maxRetries int
}

func (t *rateLimitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := t.base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		wait, _, limited := rateLimitWait(resp, t.now())
		replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
		if !limited || wait > t.maxWait || attempt >= t.maxRetries || !replayable {
			return resp, nil
		}
		// Error bodies are small; drain a bounded amount so the connection
		// can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

// rateLimitWait reports whether resp refuses the request for a rate limit,
// how long GitHub asks to wait, and whether the limit is a secondary one. A
// 403 naming no time is not recognised here (it is usually a missing
// permission); go-github still recognises a secondary limit from its body.
func rateLimitWait(resp *http.Response, now time.Time) (wait time.Duration, secondary, limited bool) {
	if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false, false
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true, true
		}
		if at, err := http.ParseTime(v); err == nil {
			return max(at.Sub(now), 0), true, true
		}
	}
	if resp.Header.Get("X-RateLimit-Remaining") == "0" {
		if secs, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64); err == nil {
			return max(time.Unix(secs, 0).Sub(now)+resetSlack, 0), false, true
		}
		return unspecifiedWait, false, true
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return unspecifiedWait, true, true
	}
	return 0, false, false
}
