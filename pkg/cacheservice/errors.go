package cacheservice

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
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
	// Retry-After header); zero when it did not say.
	RetryAfter time.Duration
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
		e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
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
	return e
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
// It returns 0 when the header is absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		if secs < 0 {
			return 0
		}
		// A wait too long for a Duration is the longest one (the caller caps it anyway);
		// multiplying would wrap it negative and read as "no wait asked".
		if secs > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
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
