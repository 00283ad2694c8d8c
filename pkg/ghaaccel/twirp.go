package ghaaccel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// twirpCall is a twirp request as BuildKit sent it, kept to send again (a 429's retry, a
// fresh download URL).
type twirpCall struct {
	method string
	header http.Header
	body   []byte
}

// forwarded are the request headers passed to the service; others (hop-by-hop, Host)
// are the proxy's own.
var forwarded = []string{"Authorization", "Content-Type", "User-Agent", "Accept"}

func (p *Proxy) serveTwirp(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, twirpPrefix)
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read request: "+err.Error(), http.StatusBadRequest)
		return
	}
	call := &twirpCall{method: method, header: http.Header{}, body: body}
	for _, h := range forwarded {
		if v := r.Header.Values(h); len(v) > 0 {
			call.header[h] = v
		}
	}
	ref := refOf(body)
	if method == "FinalizeCacheEntryUpload" && p.finalizeBehind(w, call, ref) {
		return
	}
	if method == "GetCacheEntryDownloadURL" && p.answerPrefetched(w, r, call, ref) {
		return
	}
	if err := p.barrier(r.Context(), method, ref); err != nil {
		writeTwirpError(w, http.StatusPreconditionFailed, "failed_precondition", "layer cache accelerator: "+err.Error())
		return
	}
	status, header, answer, err := p.send(r.Context(), call)
	if err != nil {
		// The service could not be reached: a 503 lets BuildKit treat it like the service's
		// own failure (an import misses, an export warns), and says why without URLs.
		writeTwirpError(w, http.StatusServiceUnavailable, "unavailable", "layer cache accelerator: "+redacted(err))
		return
	}
	if status == http.StatusOK && method == "GetCacheEntryDownloadURL" && strings.HasPrefix(ref.Key, indexKeyPrefix) && !p.opt.StreamDownloads {
		p.startPrefetch(call, ref, answer)
	}
	if status == http.StatusOK {
		base := "http://" + r.Host
		if rewritten, ok := p.rewriteAnswer(method, answer, base, call); ok {
			answer = rewritten
		}
	}
	for _, h := range []string{"Content-Type", "Retry-After"} {
		if v := header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
	w.WriteHeader(status)
	_, _ = w.Write(answer)
}

// send posts a call to the service, waiting out 429 answers as their Retry-After says
// (never less; without one, 1 s doubling), up to MaxWait in all; after that the 429 goes
// back to BuildKit, whose go-actions-cache waits on its own (cache.go doWithRetries).
func (p *Proxy) send(ctx context.Context, call *twirpCall) (int, http.Header, []byte, error) {
	var waited time.Duration
	backoff := time.Second
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.upstream+twirpPrefix+call.method, bytes.NewReader(call.body))
		if err != nil {
			return 0, nil, nil, err
		}
		for k, v := range call.header {
			req.Header[k] = v
		}
		resp, err := p.http.Do(req)
		if err != nil {
			return 0, nil, nil, err
		}
		answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return 0, nil, nil, fmt.Errorf("read the %s answer: %w", call.method, err)
		}
		if resp.StatusCode != http.StatusTooManyRequests {
			return resp.StatusCode, resp.Header, answer, nil
		}
		wait, ok := cacheservice.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		if !ok {
			wait, backoff = backoff, min(backoff*2, time.Minute)
		}
		if waited+wait > p.opt.MaxWait {
			return resp.StatusCode, resp.Header, answer, nil
		}
		p.opt.Logf("layer cache: the cache service limits uploads (429 on %s); waiting %s as it asks", call.method, wait.Round(time.Second))
		if err := p.opt.sleep(ctx, wait); err != nil {
			return 0, nil, nil, err
		}
		waited += wait
		p.waits.Add(1)
		p.waited.Add(int64(wait))
	}
}

// rewriteAnswer replaces the signed URL of a CreateCacheEntry or GetCacheEntryDownloadURL
// answer with a local one under base. Every other field is kept as the service sent it
// (the answer is decoded as a field map, not re-marshalled from a struct). ok is false
// when there is nothing to replace (a miss, a refusal, another method) or the answer is
// not what the protocol says; then the answer goes back as it came, and it carries no
// signed URL.
func (p *Proxy) rewriteAnswer(method string, answer []byte, base string, call *twirpCall) ([]byte, bool) {
	return p.rewriteAnswerHeld(method, answer, base, call, nil)
}

// rewriteAnswerHeld is rewriteAnswer for a download whose bytes the accelerator holds
// (held, not nil: a layer fetched ahead), served from memory.
func (p *Proxy) rewriteAnswerHeld(method string, answer []byte, base string, call *twirpCall, held []byte) ([]byte, bool) {
	var field string
	switch method {
	case "CreateCacheEntry":
		field = "signed_upload_url"
	case "GetCacheEntryDownloadURL":
		field = "signed_download_url"
	default:
		return nil, false
	}
	signed, fields, err := signedURLOf(answer, field)
	if err != nil || signed == "" {
		return nil, false
	}
	s := &session{upload: field == "signed_upload_url", url: signed, held: held}
	if s.upload {
		s.ref = refOf(call.body)
	} else {
		s.lookup = call
	}
	tok := p.register(s)
	local, _ := json.Marshal(base + "/blob/" + tok)
	fields[field] = local
	out, err := json.Marshal(fields)
	if err != nil {
		return nil, false
	}
	return out, true
}

// signedURLOf decodes a twirp JSON answer into its fields and returns field's string
// value. The answer is untrusted: it must be a JSON object, and field, when present, a
// string that is an http(s) URL.
func signedURLOf(answer []byte, field string) (string, map[string]json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(answer, &fields); err != nil {
		return "", nil, err
	}
	if fields == nil {
		return "", nil, errors.New("not a JSON object")
	}
	raw, ok := fields[field]
	if !ok {
		return "", fields, nil
	}
	var u string
	if err := json.Unmarshal(raw, &u); err != nil {
		return "", nil, fmt.Errorf("%s is not a string", field)
	}
	if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return "", nil, fmt.Errorf("%s is not an http(s) URL", field)
	}
	return u, fields, nil
}

// freshURL asks the service for a download URL again, with the lookup BuildKit made.
func (p *Proxy) freshURL(ctx context.Context, s *session) error {
	status, _, answer, err := p.send(ctx, s.lookup)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("GetCacheEntryDownloadURL answered %d", status)
	}
	u, _, err := signedURLOf(answer, "signed_download_url")
	if err != nil {
		return err
	}
	if u == "" {
		return errors.New("the cache entry is gone")
	}
	s.mu.Lock()
	s.url = u
	s.mu.Unlock()
	return nil
}

func writeTwirpError(w http.ResponseWriter, status int, code, msg string) {
	data, _ := json.Marshal(map[string]string{"code": code, "msg": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data)
}
