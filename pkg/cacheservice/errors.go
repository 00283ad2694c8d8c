package cacheservice

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ErrNoService is returned by [Detect] and [FromEnv] when the environment
// names no cache service (no ACTIONS_RESULTS_URL nor ACTIONS_CACHE_URL).
var ErrNoService = errors.New("no GitHub Actions cache service in the environment (ACTIONS_RESULTS_URL and ACTIONS_CACHE_URL are unset)")

// KeyError is a cache key the service would refuse.
type KeyError struct {
	Key     string
	Problem string
}

func (e *KeyError) Error() string {
	return fmt.Sprintf("cache key %q: %s", e.Key, e.Problem)
}

// TimeoutError says that the service did not answer, or stopped sending or
// receiving data, within the configured time.
type TimeoutError struct {
	Op    string
	After time.Duration
	// Stalled is true when the transfer had started and then made no progress
	// for After (the stall timeout); false when the whole request took too long.
	Stalled bool
}

func (e *TimeoutError) Error() string {
	if e.Stalled {
		return fmt.Sprintf("%s: timed out: no data moved for %s", e.Op, e.After)
	}
	return fmt.Sprintf("%s: timed out: no answer within %s", e.Op, e.After)
}

// Timeout reports true, like net.Error timeouts.
func (e *TimeoutError) Timeout() bool { return true }

// StatusError is an answer of the cache service or blob storage with an
// unexpected HTTP status.
type StatusError struct {
	Op         string
	StatusCode int
	// Code is the service's error code when it sent one: a twirp code
	// ("already_exists", "resource_exhausted", ...) or an Azure Storage code
	// ("AuthenticationFailed", ...).
	Code    string
	Message string
	// RetryAfter is the wait the server asked for (429 and 503 with a
	// Retry-After header); HasRetryAfter says it sent one (a wait of 0 included).
	RetryAfter    time.Duration
	HasRetryAfter bool
}

func (e *StatusError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: HTTP %d", e.Op, e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// permanentError marks an error that a retry cannot fix (a malformed answer,
// a range the server ignored).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return &permanentError{err: err} }

// maxErrorBody bounds how much of an error answer is read for its message.
const maxErrorBody = 64 << 10

// statusErrorFrom reads an unsuccessful response into a StatusError, picking
// the message out of the error shapes the services use: twirp
// {"code","msg"}, Azure Storage <Error><Code/><Message/></Error>, v1
// {"message","typeKey"}, act {"error"}; otherwise the start of the body.
func statusErrorFrom(op string, resp *http.Response, now time.Time) *StatusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &StatusError{Op: op, StatusCode: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if wait, ok := ParseRetryAfter(resp.Header.Get("Retry-After"), now); ok {
			e.RetryAfter, e.HasRetryAfter = wait, true
		}
	}
	// Azure puts its error code in a header too; HEAD answers have no body.
	e.Code = resp.Header.Get("x-ms-error-code")

	var tw struct {
		Code    string `json:"code"`
		Msg     string `json:"msg"`
		Message string `json:"message"`
		TypeKey string `json:"typeKey"`
		Error   string `json:"error"`
	}
	var az struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	text := strings.TrimSpace(string(body))
	switch {
	case json.Unmarshal(body, &tw) == nil && (tw.Code != "" || tw.Msg != "" || tw.Message != "" || tw.Error != ""):
		if tw.Code != "" {
			e.Code = tw.Code
		} else if tw.TypeKey != "" {
			e.Code = tw.TypeKey
		}
		e.Message = firstNonEmpty(tw.Msg, tw.Message, tw.Error)
	case strings.HasPrefix(text, "<") && xml.Unmarshal(body, &az) == nil && az.Code != "":
		e.Code = az.Code
		e.Message = strings.TrimSpace(az.Message)
		// Azure's message carries "RequestId:... Time:..." lines: keep the first.
		e.Message, _, _ = strings.Cut(e.Message, "\n")
	default:
		e.Message = truncate(text, 300)
	}
	// An answer may quote the signed URL it was asked for.
	e.Message = Redact(e.Message)
	return e
}

// ParseRetryAfter reads a Retry-After header (RFC 9110 10.2.3): delay-seconds or an
// HTTP date, relative to now. ok is false when the header is absent or unreadable; a
// date in the past or "0" is a wait of 0 that the server did ask for. The header is
// untrusted: the wait is never negative and never past maxRetryAfterValue, whatever the
// number (fuzzed: FuzzRetryAfter). The one reader of it, for the cache client and the
// layer cache accelerator alike.
func ParseRetryAfter(v string, now time.Time) (wait time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		secs, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange {
				return maxRetryAfterValue, true // absurdly far: longer than any budget
			}
			return 0, false
		}
		if secs > uint64(maxRetryAfterValue/time.Second) {
			return maxRetryAfterValue, true
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		return 0, true
	}
	return min(d, maxRetryAfterValue), true
}

// maxRetryAfterValue bounds what ParseRetryAfter returns, far beyond any wait a
// client accepts, so the arithmetic on it cannot overflow.
const maxRetryAfterValue = 365 * 24 * time.Hour

// ThrottledError says the service or the storage asked, with a 429 or 503 and a
// Retry-After, not to be called again before Until, and that is later than this
// client may wait (its RetryPolicy.MaxRetryAfter, or the context's deadline). The
// request was not retried: the cache is skipped, and GitHub's rule that clients
// never come back before Retry-After is kept.
type ThrottledError struct {
	Op      string
	Status  int
	Wait    time.Duration // what the server asked for
	Until   time.Time
	MaxWait time.Duration // the longest wait this client was allowed

	err error // the throttled answer, when there was one in this request
}

// Unwrap gives the throttled answer (a *StatusError), if any.
func (e *ThrottledError) Unwrap() error { return e.err }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("%s: throttled (HTTP %d): the service asks not to retry for %s, longer than the %s this step can wait; giving up on this cache",
		e.Op, e.Status, e.Wait.Round(time.Second), e.MaxWait.Round(time.Second))
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
