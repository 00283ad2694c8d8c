package ghaaccel

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// requestedRange reads the range of a blob GET: x-ms-range (azblob's DownloadStream sends
// it) or Range, "bytes=N-" or "bytes=N-M". end is -1 for an open range; ranged is false
// without one (the whole blob). ok is false for anything else (several ranges, suffix
// ranges), which goes to the storage as it came.
func requestedRange(r *http.Request) (start, end int64, ranged, ok bool) {
	v := r.Header.Get("x-ms-range")
	if v == "" {
		v = r.Header.Get("Range")
	}
	if v == "" {
		return 0, -1, false, true
	}
	spec, found := strings.CutPrefix(v, "bytes=")
	if !found || strings.Contains(spec, ",") {
		return 0, 0, false, false
	}
	a, b, found := strings.Cut(spec, "-")
	if !found || a == "" {
		return 0, 0, false, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false, false
	}
	end = -1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return 0, 0, false, false
		}
	}
	return start, end, true, true
}

// contentRangeTotal reads the total of "bytes a-b/total".
func contentRangeTotal(v string) (int64, bool) {
	_, total, ok := strings.Cut(v, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}

// rangeGet GETs bytes [off, off+n) of the session's blob (n < 0: from off to its end),
// asking for a fresh URL once on 401/403 (an expired SAS, as go-actions-cache's
// downloadV2 does) and retrying connection errors and 5xx three times. The caller closes
// the answer's body.
func (p *Proxy) rangeGet(ctx context.Context, s *session, off, n int64) (*http.Response, error) {
	refreshed := false
	var last error
	for attempt := 0; attempt < 4; attempt++ {
		if attempt > 0 && last != nil {
			if err := p.opt.sleep(ctx, time.Duration(attempt)*500*time.Millisecond); err != nil {
				return nil, err
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.current(), nil)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			req.Header.Set("x-ms-range", fmt.Sprintf("bytes=%d-", off))
		} else {
			req.Header.Set("x-ms-range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
		}
		req.Header.Set("x-ms-version", "2025-01-05")
		resp, err := p.http.Do(req)
		if err != nil {
			last = err
			continue
		}
		if (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized) && !refreshed && s.lookup != nil {
			drain(resp.Body)
			refreshed = true
			if err := p.freshURL(ctx, s); err != nil {
				return nil, fmt.Errorf("the download URL expired and a fresh one could not be had: %s", redacted(err))
			}
			last = nil
			attempt-- // the refresh is not a failed try
			continue
		}
		if resp.StatusCode >= 500 {
			drain(resp.Body)
			last = &statusError{status: resp.StatusCode, code: resp.Header.Get("x-ms-error-code")}
			continue
		}
		return resp, nil
	}
	return nil, last
}

// fetchRange reads bytes [off, off+len(buf)) into buf.
func (p *Proxy) fetchRange(ctx context.Context, s *session, off int64, buf []byte) error {
	for attempt := 0; ; attempt++ {
		resp, err := p.rangeGet(ctx, s, off, int64(len(buf)))
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusPartialContent {
			drain(resp.Body)
			return &statusError{status: resp.StatusCode, code: resp.Header.Get("x-ms-error-code")}
		}
		_, err = io.ReadFull(resp.Body, buf)
		resp.Body.Close()
		if err == nil {
			p.downloaded.Add(int64(len(buf)))
			return nil
		}
		if ctx.Err() != nil || attempt == 2 {
			return fmt.Errorf("read range at %d: %w", off, err)
		}
	}
}

type rangeResult struct {
	buf []byte
	err error
}

// downloadWay is how the accelerator reads big blobs. Parallel ranges pay where one
// connection gets less than the link: GitHub's storage seen from a runner, capped per
// connection, or far away. Where one connection already runs at the machine's speed (the
// storage on the same host or LAN) they only add requests and CPU: BenchmarkAccelLayerDownload
// on loopback read 330 MiB at 690-700 MB/s in ranges against 1040-1060 as one stream, with
// 1.6 times Azurite's CPU, and the heavy code-changed scenario took 1.31 x plain with
// ranges, 1.03 with one stream (bench/cacheservice/README.md). So the first big blob is
// read as one stream and timed over its first RangeSize bytes; that decides for every
// blob after it.
type downloadWay int32

const (
	wayUndecided downloadWay = iota
	wayRanges                // one connection is slower than StreamRate: parallel ranges
	wayStream                // one connection carries StreamRate or more: one stream
)

func (w downloadWay) String() string {
	switch w {
	case wayRanges:
		return "parallel ranges"
	case wayStream:
		return "one stream"
	}
	return ""
}

// decide records the first measured rate (bytes/s) and the way it chooses; a later
// measurement does not change it. It returns the way for this rate.
func (p *Proxy) decide(rate float64) downloadWay {
	way := wayRanges
	if rate >= p.opt.StreamRate {
		way = wayStream
	}
	if p.way.CompareAndSwap(int32(wayUndecided), int32(way)) {
		p.probedRate.Store(int64(rate))
	}
	return way
}

// download serves a blob GET from parallel ranges, in order, or as one stream (downloadWay).
func (p *Proxy) download(w http.ResponseWriter, r *http.Request, s *session) {
	start, end, ranged, ok := requestedRange(r)
	if !ok {
		p.passThrough(w, r, s)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	way := downloadWay(p.way.Load())
	first := int64(-1) // to the end: undecided or one stream
	if end >= 0 {
		first = end - start + 1
	}
	if way == wayRanges {
		first = p.opt.RangeSize
		if end >= 0 {
			first = min(first, end-start+1)
		}
	}
	resp, err := p.rangeGet(ctx, s, start, first)
	if err != nil {
		azureError(w, http.StatusBadGateway, "ServerBusy", "layer cache accelerator: "+redacted(err))
		return
	}
	if resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		// Not a range answer (an empty blob answers 416; a miss 404): the storage answers
		// the request as it came.
		p.passThrough(w, r, s)
		return
	}
	total, ok := contentRangeTotal(resp.Header.Get("Content-Range"))
	if !ok {
		resp.Body.Close()
		p.passThrough(w, r, s)
		return
	}
	if end < 0 || end > total-1 {
		end = total - 1
	}
	p.blobsDown.Add(1)
	for k, v := range resp.Header {
		switch strings.ToLower(k) {
		case "content-length", "content-range", "content-md5", "x-ms-content-crc64":
		default:
			w.Header()[k] = v
		}
	}
	writeRangeHead(w, start, end, total, ranged)
	size := end - start + 1
	// The first RangeSize bytes (all of them when one stream is the way) stream through;
	// with ranges the next ones are fetched meanwhile.
	firstLen := min(p.opt.RangeSize, size)
	if way == wayStream {
		firstLen = size
	}
	var queue <-chan chan rangeResult
	if way == wayRanges {
		queue = p.launch(ctx, s, start+firstLen, end)
	}
	began := time.Now()
	n, err := io.Copy(w, io.LimitReader(resp.Body, firstLen))
	p.downloaded.Add(n)
	failed := err != nil || n != firstLen
	if !failed && way == wayUndecided && firstLen < size {
		// Timed from the answer's head: the rate of the link, not the storage's first byte.
		if way = p.decide(float64(firstLen) / time.Since(began).Seconds()); way == wayStream {
			n, err = io.Copy(w, io.LimitReader(resp.Body, size-firstLen))
			p.downloaded.Add(n)
			failed = err != nil || n != size-firstLen
		} else {
			queue = p.launch(ctx, s, start+firstLen, end)
		}
	}
	resp.Body.Close()
	if queue != nil {
		failed = p.writeRanges(w, queue, failed, cancel)
	}
	if failed {
		// A short body: the client sees the stream break, as it would from the storage.
		panic(http.ErrAbortHandler)
	}
}

// writeRanges writes the launched ranges in order; after a failure it drains and frees
// the rest. It returns whether the answer failed.
func (p *Proxy) writeRanges(w io.Writer, queue <-chan chan rangeResult, failed bool, cancel context.CancelFunc) bool {
	for ch := range queue {
		res := <-ch
		if !failed && res.err == nil {
			if _, err := w.Write(res.buf); err != nil {
				failed = true
			}
		} else if res.err != nil && !failed {
			failed = true
			p.failures.Add(1)
			p.opt.Logf("layer cache: a download range failed: %s", redacted(res.err))
		}
		if failed {
			cancel()
		}
		p.budget.Release(int64(len(res.buf)))
		p.bufs.put(res.buf)
	}
	return failed
}

// launch fetches [from, end] in RangeSize ranges, at most RangeParallelism ahead of the
// writer, each holding its bytes from the budget; the channels come in order.
func (p *Proxy) launch(ctx context.Context, s *session, from, end int64) <-chan chan rangeResult {
	queue := make(chan chan rangeResult, p.opt.RangeParallelism)
	go func() {
		defer close(queue)
		for off := from; off <= end; off += p.opt.RangeSize {
			n := min(p.opt.RangeSize, end-off+1)
			ch := make(chan rangeResult, 1)
			if err := p.budget.Acquire(ctx, n); err != nil {
				return // cancelled: the writer stops too
			}
			select {
			case queue <- ch: // blocks while RangeParallelism ranges are ahead of the writer
			case <-ctx.Done():
				p.budget.Release(n)
				return
			}
			go func(off, n int64) {
				buf := p.bufs.get(int(n))
				ch <- rangeResult{buf: buf, err: p.fetchRange(ctx, s, off, buf)}
			}(off, n)
		}
	}()
	return queue
}

// writeRangeHead answers bytes [start, end] of a blob of total bytes as the storage does:
// 206 with Content-Range for a ranged GET, else 200.
func writeRangeHead(w http.ResponseWriter, start, end, total int64, ranged bool) {
	w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	if ranged {
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, total))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
}
