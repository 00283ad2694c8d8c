package cacheservice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// request is one HTTP exchange. Its body is a byte slice so every attempt
// can send it again.
type request struct {
	op     string // names the exchange in errors and warnings
	method string
	url    string
	// entry, for a storage request, replaces url: the entry's current URL,
	// renewed when the storage refuses it with 401/403 (an expired signature).
	entry  *Entry
	header http.Header
	body   []byte // nil: no body
	// transfer selects the stall timeout (data moves) instead of the request
	// timeout (a small API call).
	transfer bool
	// accept reads a 2xx answer. Its error fails the attempt; the attempt is
	// retried unless the error is permanent.
	accept func(resp *http.Response) error
}

// do runs r with retries.
func (c *Client) do(ctx context.Context, r *request) error {
	return c.withRetries(ctx, func(ctx context.Context) error { return c.once(ctx, r) })
}

// once runs one attempt of r under its own deadline. Every error of an HTTP
// exchange leaves through here (or Downloader.Reachable) redacted: Go's
// client quotes the request's URL, signature included.
func (c *Client) once(ctx context.Context, r *request) error {
	return redact(c.exchange(ctx, r))
}

// exchange is one attempt: to the entry's current storage URL, or to r.url.
func (c *Client) exchange(ctx context.Context, r *request) error {
	if r.entry != nil {
		return c.storageOnce(ctx, r)
	}
	return c.send(ctx, r, r.url)
}

// storageOnce is one attempt of a request for r.entry's blob. A 401 or 403 from
// the storage is what an expired signed URL gets (Azure: 403 AuthenticationFailed):
// the entry then asks the service for a fresh URL, and the attempt is retried at
// once with it.
func (c *Client) storageOnce(ctx context.Context, r *request) error {
	u := r.entry.currentURL()
	err := c.send(ctx, r, u)
	var se *StatusError
	if !errors.As(err, &se) || (se.StatusCode != http.StatusUnauthorized && se.StatusCode != http.StatusForbidden) {
		return err
	}
	ok, rerr := r.entry.refresh(ctx, u)
	if rerr != nil {
		return permanent(fmt.Errorf("%w; asking the service for a fresh URL failed: %w", err, rerr))
	}
	if !ok {
		return err
	}
	return &refreshedError{err: err}
}

// send runs one attempt of r, to target.
func (c *Client) send(ctx context.Context, r *request, target string) error {
	// A server that said Retry-After is not called again before that time, by
	// this request or any other of the client (GitHub's rule for its rate limits).
	if u, err := url.Parse(target); err == nil {
		if err := c.waitThrottle(ctx, r.op, u.Host); err != nil {
			return err
		}
	}
	actx, kick, stop := c.attemptContext(ctx, r.op, r.transfer)
	defer stop()

	var body io.Reader
	if r.body != nil {
		body = http.NoBody
		if len(r.body) > 0 {
			body = &progressReader{r: bytes.NewReader(r.body), kick: kick}
		}
	}
	req, err := http.NewRequestWithContext(actx, r.method, target, body)
	if err != nil {
		return permanent(fmt.Errorf("%s: %w", r.op, err))
	}
	if r.body != nil {
		req.ContentLength = int64(len(r.body))
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		return attemptError(ctx, actx, fmt.Errorf("%s: %w", r.op, err))
	}
	defer resp.Body.Close()
	kick()
	resp.Body = &progressReadCloser{ReadCloser: resp.Body, kick: kick}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := statusErrorFrom(r.op, resp, c.now())
		if se.HasRetryAfter && se.RetryAfter > 0 {
			c.throttle(req.URL.Host, c.now().Add(se.RetryAfter))
		}
		if cause := context.Cause(actx); cause != nil && ctx.Err() == nil {
			return cause // the deadline struck while reading the error body
		}
		return se
	}
	if r.accept != nil {
		if err := r.accept(resp); err != nil {
			return attemptError(ctx, actx, fmt.Errorf("%s: %w", r.op, err))
		}
	}
	// Let the connection be reused when the answer has a short tail.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	return nil
}

// attemptContext gives one attempt its deadline: the request timeout for API
// calls, or the stall timeout for transfers, which kick() pushes back each
// time data moves.
func (c *Client) attemptContext(ctx context.Context, op string, transfer bool) (actx context.Context, kick, stop func()) {
	d := c.requestTimeout
	if transfer {
		d = c.stallTimeout
	}
	actx, cancel := context.WithCancelCause(ctx)
	timeout := &TimeoutError{Op: op, After: d, Stalled: transfer}
	timer := time.AfterFunc(d, func() { cancel(timeout) })
	kick = func() {}
	if transfer {
		kick = func() { timer.Reset(d) }
	}
	stop = func() {
		timer.Stop()
		cancel(nil)
	}
	return actx, kick, stop
}

// attemptError replaces the transport's "context canceled" by the reason the
// attempt was cut: our own timeout, unless the caller's context ended.
func attemptError(ctx, actx context.Context, err error) error {
	if ctx.Err() != nil {
		return err
	}
	var te *TimeoutError
	if cause := context.Cause(actx); errors.As(cause, &te) {
		return te
	}
	return err
}

// withRetries runs try until it succeeds, fails for good, or the attempts
// run out, sleeping between attempts.
func (c *Client) withRetries(ctx context.Context, try func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		err := try(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return err
		}
		wait, ok := c.retryDelay(err, attempt)
		if !ok {
			return err
		}
		if attempt >= c.retry.MaxAttempts {
			if attempt > 1 {
				return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
			}
			return err
		}
		var se *StatusError
		if errors.As(err, &se) && se.HasRetryAfter && se.RetryAfter > 0 {
			// Never before Retry-After; and when that is past what this step may
			// wait, give up now rather than sleep and fail anyway.
			if te := c.tooLongToWait(ctx, se.Op, se.StatusCode, wait, err); te != nil {
				return te
			}
		}
		c.warnf("%v; retrying in %s (attempt %d of %d)", err, wait.Round(time.Millisecond), attempt+1, c.retry.MaxAttempts)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (stopped before retrying: %w)", err, context.Cause(ctx))
		case <-t.C:
		}
	}
}

// retryDelay says whether err is worth another attempt, and after how long. A
// Retry-After is waited in full: never less, whatever the backoff would say.
func (c *Client) retryDelay(err error, attempt int) (time.Duration, bool) {
	var pe *permanentError
	if errors.As(err, &pe) {
		return 0, false
	}
	var te *ThrottledError
	if errors.As(err, &te) {
		return 0, false
	}
	var re *refreshedError
	if errors.As(err, &re) {
		return 0, true // a fresh URL: no reason to wait
	}
	var se *StatusError
	if errors.As(err, &se) {
		switch {
		case se.HasRetryAfter && se.RetryAfter > 0:
			return se.RetryAfter, true
		case se.StatusCode == http.StatusTooManyRequests, se.StatusCode == http.StatusRequestTimeout, se.StatusCode >= 500:
			return c.backoff(attempt), true
		}
		return 0, false
	}
	// Network errors, timeouts and cut bodies.
	return c.backoff(attempt), true
}

// tooLongToWait returns a ThrottledError when waiting wait is more than this
// client may: longer than RetryPolicy.MaxRetryAfter, or past ctx's deadline.
func (c *Client) tooLongToWait(ctx context.Context, op string, status int, wait time.Duration, cause error) *ThrottledError {
	budget := c.retry.MaxRetryAfter
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, dl.Sub(c.now()))
	}
	if wait <= budget {
		return nil
	}
	return &ThrottledError{Op: op, Status: status, Wait: wait, Until: c.now().Add(wait), MaxWait: max(budget, 0), err: cause}
}

// throttle records that host asked not to be called before until.
func (c *Client) throttle(host string, until time.Time) {
	c.throttleMu.Lock()
	defer c.throttleMu.Unlock()
	if c.notBefore == nil {
		c.notBefore = map[string]time.Time{}
	}
	if until.After(c.notBefore[host]) {
		c.notBefore[host] = until
	}
}

// waitThrottle holds a request to host until the time the host's last
// Retry-After named, or fails it at once when that is further than this client
// may wait.
func (c *Client) waitThrottle(ctx context.Context, op, host string) error {
	c.throttleMu.Lock()
	until := c.notBefore[host]
	c.throttleMu.Unlock()
	wait := until.Sub(c.now())
	if wait <= 0 {
		return nil
	}
	if te := c.tooLongToWait(ctx, op, http.StatusTooManyRequests, wait, nil); te != nil {
		return te
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("%s: stopped while waiting for the server's Retry-After: %w", op, context.Cause(ctx))
	case <-t.C:
		return nil
	}
}

// backoff is BaseDelay doubled per past attempt, capped, with ±50% jitter so
// parallel blocks do not retry in lockstep.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.retry.BaseDelay
	for i := 1; i < attempt && d < c.retry.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, c.retry.MaxDelay)
	return d/2 + rand.N(d+1)
}

// maxJSONAnswer bounds a service API answer.
const maxJSONAnswer = 1 << 20

// decodeJSON reads a JSON answer into out. A body cut short is a network
// error (retried); a complete body that does not parse is permanent.
func decodeJSON(resp *http.Response, out any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONAnswer))
	if err != nil {
		return fmt.Errorf("read answer: %w", err)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return permanent(fmt.Errorf("answer is not the expected JSON (%w): %s", err, truncate(Redact(string(data)), 200)))
	}
	return nil
}

// progressReader pushes the stall deadline back on every read.
type progressReader struct {
	r    io.Reader
	kick func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.kick()
	}
	return n, err
}

type progressReadCloser struct {
	io.ReadCloser
	kick func()
}

func (p *progressReadCloser) Read(b []byte) (int, error) {
	n, err := p.ReadCloser.Read(b)
	if n > 0 {
		p.kick()
	}
	return n, err
}
