package ghaaccel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// maxHeldBlock is the largest block held for a background upload; a larger one (not what
// go-actions-cache sends: azblob's UploadStream uses 1 MiB blocks) goes through in the
// request, as a plain proxy would.
const maxHeldBlock = 8 << 20

func (p *Proxy) serveBlob(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimPrefix(r.URL.Path, "/blob/")
	s := p.lookupSession(tok)
	if s == nil {
		// An unknown token: answered like a SAS the storage does not accept.
		azureError(w, http.StatusForbidden, "AuthenticationFailed", "unknown blob URL")
		return
	}
	comp := r.URL.Query().Get("comp")
	switch {
	case r.Method == http.MethodPut && s.upload && comp == "block" && r.ContentLength >= 0 && r.ContentLength <= maxHeldBlock:
		p.putBlock(w, r, s)
	case r.Method == http.MethodPut && s.upload && comp == "blocklist" && s.ref.isBlob() && !p.opt.CommitInRequest:
		p.putBlockListBehind(w, r, s)
	case r.Method == http.MethodPut && s.upload && comp == "" && s.ref.isBlob() && !p.opt.CommitInRequest && r.ContentLength >= 0 && r.ContentLength <= maxHeldBlock:
		p.putBlobBehind(w, r, s)
	case r.Method == http.MethodPut && s.upload && comp == "blocklist":
		p.putBlockList(w, r, s)
	case r.Method == http.MethodGet && s.held != nil:
		p.serveHeld(w, r, s)
	case r.Method == http.MethodGet && !s.upload && !p.opt.StreamDownloads:
		p.download(w, r, s)
	default:
		p.passThrough(w, r, s)
	}
}

// withQuery adds the request's own query (comp=block&blockid=...) to a signed URL.
func withQuery(signed, q string) string {
	if q == "" {
		return signed
	}
	if strings.Contains(signed, "?") {
		return signed + "&" + q
	}
	return signed + "?" + q
}

// storageHeader copies a request's storage headers (x-ms-*, Content-Type) for the real
// request.
func storageHeader(r *http.Request) http.Header {
	h := http.Header{}
	for k, v := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-ms-") || lk == "content-type" || lk == "content-md5" || lk == "user-agent" {
			h[k] = v
		}
	}
	return h
}

// putBlock holds the block's bytes, answers 201 Created (what Put Block answers) at once
// and uploads the block in the background, retrying from the held bytes.
func (p *Proxy) putBlock(w http.ResponseWriter, r *http.Request, s *session) {
	data, release, ok := p.hold(w, r, "short block body")
	if !ok {
		return
	}
	target := withQuery(s.current(), r.URL.RawQuery)
	header := storageHeader(r)
	s.pending.Add(1)
	p.work.Add(1)
	go func() {
		defer p.work.Done()
		defer s.pending.Done()
		defer release()
		if err := p.putHeld(target, header, data); err != nil {
			p.failures.Add(1)
			s.mu.Lock()
			if s.failed == nil {
				s.failed = err
			}
			s.mu.Unlock()
			p.opt.Logf("layer cache: a block upload failed for good: %s", redacted(err))
		}
	}()
	answerPut(w, r)
}

// hold reads a request body of its Content-Length (at most maxHeldBlock) into a buffer
// under the byte budget; release gives both back. When the body is short it answers the
// request itself and ok is false.
func (p *Proxy) hold(w http.ResponseWriter, r *http.Request, short string) (data []byte, release func(), ok bool) {
	size := max(r.ContentLength, 1)
	if err := p.budget.Acquire(r.Context(), size); err != nil {
		return nil, nil, false // the client went away
	}
	data = p.bufs.get(int(r.ContentLength))
	release = func() {
		p.bufs.put(data)
		p.budget.Release(size)
	}
	if _, err := io.ReadFull(r.Body, data); err != nil {
		release()
		azureError(w, http.StatusBadRequest, "InvalidInput", short)
		return nil, nil, false
	}
	return data, release, true
}

// putHeld puts held bytes to target in one of the Parallelism slots, and counts them.
func (p *Proxy) putHeld(target string, header http.Header, data []byte) error {
	select {
	case p.putSlots <- struct{}{}:
		defer func() { <-p.putSlots }()
	case <-p.ctx.Done():
	}
	if err := p.putWithRetries(p.ctx, target, header, data); err != nil {
		return err
	}
	p.uploaded.Add(int64(len(data)))
	return nil
}

// putWithRetries puts data to target: up to 5 tries on connection errors, 5xx, 408 and 429
// (waiting Retry-After when the storage gives one). A 4xx is final: an expired upload URL
// cannot be renewed (the service hands out one per reservation).
func (p *Proxy) putWithRetries(ctx context.Context, target string, header http.Header, data []byte) error {
	var last error
	for attempt := range 5 {
		if attempt > 0 {
			wait := time.Duration(1<<(attempt-1)) * 500 * time.Millisecond
			var se *statusError
			if errors.As(last, &se) && se.retryAfter > wait {
				wait = se.retryAfter
			}
			if err := p.opt.sleep(ctx, wait); err != nil {
				return err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, target, bytes.NewReader(data))
		if err != nil {
			return err
		}
		for k, v := range header {
			req.Header[k] = v
		}
		req.ContentLength = int64(len(data))
		resp, err := p.http.Do(req)
		if err != nil {
			last = err
			continue
		}
		drain(resp.Body)
		if resp.StatusCode/100 == 2 {
			return nil
		}
		wait, _ := cacheservice.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		last = &statusError{status: resp.StatusCode, code: resp.Header.Get("x-ms-error-code"), retryAfter: wait}
		if !retryable(resp.StatusCode) {
			return last
		}
	}
	return last
}

func retryable(status int) bool {
	return status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

type statusError struct {
	status     int
	code       string
	retryAfter time.Duration
}

func (e *statusError) Error() string {
	return fmt.Sprintf("storage answered %d %s", e.status, e.code)
}

// putBlockList waits for every block of the blob, then commits the list at the storage.
// A block that failed for good makes the list fail as Azure answers a list naming a block
// it lacks (400 InvalidBlockList): not retried by azblob, so BuildKit reports the blob
// not written at once instead of retrying for minutes.
func (p *Proxy) putBlockList(w http.ResponseWriter, r *http.Request, s *session) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		azureError(w, http.StatusBadRequest, "InvalidInput", "read block list")
		return
	}
	s.pending.Wait()
	s.mu.Lock()
	failed := s.failed
	s.mu.Unlock()
	if failed != nil {
		azureError(w, http.StatusBadRequest, "InvalidBlockList", "a block of this blob could not be uploaded: "+redacted(failed))
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, withQuery(s.current(), r.URL.RawQuery), bytes.NewReader(body))
	if err != nil {
		azureError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	req.Header = storageHeader(r)
	req.ContentLength = int64(len(body))
	resp, err := p.http.Do(req)
	if err != nil {
		azureError(w, http.StatusBadGateway, "ServerBusy", "layer cache accelerator: "+redacted(err))
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		p.blobsUp.Add(1)
	}
	relay(w, resp)
}

// passThrough sends any other request to the real URL as it came, streamed.
func (p *Proxy) passThrough(w http.ResponseWriter, r *http.Request, s *session) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, withQuery(s.current(), r.URL.RawQuery), r.Body)
	if err != nil {
		azureError(w, http.StatusInternalServerError, "InternalError", err.Error())
		return
	}
	req.Header = storageHeader(r)
	for _, h := range []string{"Range"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	req.ContentLength = r.ContentLength
	resp, err := p.http.Do(req)
	if err != nil {
		azureError(w, http.StatusBadGateway, "ServerBusy", "layer cache accelerator: "+redacted(err))
		return
	}
	defer resp.Body.Close()
	if r.Method == http.MethodPut && resp.StatusCode/100 == 2 && r.ContentLength > 0 {
		p.uploaded.Add(r.ContentLength)
		if r.URL.Query().Get("comp") == "" {
			p.blobsUp.Add(1) // a whole blob in one Put Blob
		}
	}
	n := relay(w, resp)
	if r.Method == http.MethodGet {
		p.downloaded.Add(n)
	}
}

// relay copies a storage answer back.
func relay(w http.ResponseWriter, resp *http.Response) int64 {
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	n, _ := io.Copy(w, resp.Body)
	return n
}

// azureError answers as Azure Storage does: x-ms-error-code and an XML body.
func azureError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("x-ms-error-code", code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>%s</Code><Message>%s</Message></Error>", code, xmlEscape(msg))
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
