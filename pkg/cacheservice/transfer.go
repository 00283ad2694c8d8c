package cacheservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// putBlockFunc uploads block number index, which starts at offset in the
// stream. It is called concurrently for different blocks and must not keep
// data after it returns.
type putBlockFunc func(ctx context.Context, index int, offset int64, data []byte) error

// uploadBlocks reads r in blocks of c.blockSize and uploads them with put, up
// to c.parallelism at once, while the next block is read. Memory: at most
// parallelism+1 blocks, allocated as needed. When the whole stream fits in
// the first block and single is not nil, single uploads it instead (one
// request). It returns the stream's size and the number of blocks put.
func (c *Client) uploadBlocks(ctx context.Context, r io.Reader, put putBlockFunc, single func(ctx context.Context, data []byte) error) (int64, int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	free := make(chan []byte, c.parallelism+1)
	for range cap(free) {
		free <- nil // allocated on first use, so small streams stay small
	}
	slots := make(chan struct{}, c.parallelism)
	var wg sync.WaitGroup
	var size int64
	blocks := 0
	var readErr error
	// carry holds the byte read past a full block to learn whether the
	// stream goes on; it starts the next block.
	var carry [1]byte
	carried := false

	for index := 0; ; index++ {
		if index >= maxBlocks {
			readErr = fmt.Errorf("stream is larger than %d blocks of %d bytes; raise the block size", maxBlocks, c.blockSize)
			break
		}
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		if buf == nil {
			buf = make([]byte, c.blockSize)
		}
		n, last, err := readBlock(r, buf, carry[:], carried)
		if err != nil {
			readErr = fmt.Errorf("read the stream to save: %w", err)
			break
		}
		carried = !last
		if index == 0 && last && single != nil {
			if err := single(ctx, buf[:n]); err != nil {
				return 0, 0, err
			}
			return int64(n), 0, nil
		}
		if n == 0 {
			break
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func(index int, offset int64, data []byte) {
			defer wg.Done()
			if err := put(ctx, index, offset, data); err != nil {
				cancel(err)
			}
			<-slots
			free <- data[:cap(data)]
		}(index, size, buf[:n])
		size += int64(n)
		blocks++
		if last {
			break
		}
	}
	wg.Wait()
	if readErr != nil {
		return size, blocks, readErr
	}
	if err := context.Cause(ctx); err != nil {
		return size, blocks, err
	}
	return size, blocks, nil
}

// readBlock fills buf from r, starting with the carried byte when there is
// one. When buf is full it reads one byte more into carry to tell whether the
// stream ends here (last), so a stream of exactly one block is known to be
// one block.
func readBlock(r io.Reader, buf, carry []byte, carried bool) (n int, last bool, err error) {
	if carried {
		buf[0] = carry[0]
		n = 1
	}
	m, err := io.ReadFull(r, buf[n:])
	n += m
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return n, true, nil
	}
	if err != nil {
		return n, false, err
	}
	for range 100 { // as io.ReadFull would, give up on a reader that never moves
		m, err := r.Read(carry)
		if m == 1 {
			return n, false, nil
		}
		if errors.Is(err, io.EOF) {
			return n, true, nil
		}
		if err != nil {
			return n, false, err
		}
	}
	return n, false, io.ErrNoProgress
}

// downloadRanges fetches e as ranges of c.blockSize, up to c.parallelism at
// once, and writes them to w in order. A range that fails is retried on its
// own. Memory: at most parallelism+1 ranges.
func (c *Client) downloadRanges(ctx context.Context, w io.Writer, e *Entry) (int64, error) {
	if e.Size == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	chunk := int64(c.blockSize)
	parts := (e.Size + chunk - 1) / chunk
	type part struct {
		buf  []byte
		done chan error
	}
	free := make(chan []byte, c.parallelism+1)
	for range cap(free) {
		free <- nil
	}
	slots := make(chan struct{}, c.parallelism)
	queue := make(chan *part, cap(free))

	go func() {
		defer close(queue)
		for i := range parts {
			var buf []byte
			select {
			case buf = <-free:
			case <-ctx.Done():
				return
			}
			if buf == nil {
				buf = make([]byte, chunk)
			}
			offset := i * chunk
			p := &part{buf: buf[:min(chunk, e.Size-offset)], done: make(chan error, 1)}
			queue <- p // never blocks: queue holds as many parts as there are buffers
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				p.done <- context.Cause(ctx)
				return
			}
			go func() {
				p.done <- c.fetchRange(ctx, e, offset, p.buf)
				<-slots
			}()
		}
	}()

	var written int64
	var failure error
	for p := range queue {
		if failure != nil {
			<-p.done // wait for the fetches still running before returning
			continue
		}
		if err := <-p.done; err != nil {
			failure = err
			cancel(err)
			continue
		}
		n, err := w.Write(p.buf)
		written += int64(n)
		if err != nil {
			failure = fmt.Errorf("write: %w", err)
			cancel(failure)
			continue
		}
		free <- p.buf[:cap(p.buf)]
	}
	if failure != nil {
		return written, failure
	}
	return written, context.Cause(ctx)
}

// fetchRange reads len(buf) bytes at offset of e, with retries.
func (c *Client) fetchRange(ctx context.Context, e *Entry, offset int64, buf []byte) error {
	last := offset + int64(len(buf)) - 1
	h := e.header()
	h.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, last))
	return c.do(ctx, &request{
		op:       fmt.Sprintf("GET bytes %d-%d", offset, last),
		method:   http.MethodGet,
		entry:    e,
		header:   h,
		transfer: true,
		accept: func(resp *http.Response) error {
			if resp.StatusCode != http.StatusPartialContent {
				return permanent(fmt.Errorf("storage ignored the Range request (HTTP %d)", resp.StatusCode))
			}
			if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != offset {
				return permanent(fmt.Errorf("storage answered range %q, asked for bytes %d-%d", resp.Header.Get("Content-Range"), offset, last))
			}
			// After a fresh URL, make sure it is still the same blob.
			if total, ok := contentRangeTotal(resp.Header.Get("Content-Range")); ok && total != e.Size {
				return permanent(fmt.Errorf("storage answered a blob of %d bytes, the entry has %d", total, e.Size))
			}
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				return fmt.Errorf("read range: %w", err)
			}
			return nil
		},
	})
}

// refreshedError is a storage refusal after which the entry got a fresh URL: the
// request is tried again at once.
type refreshedError struct{ err error }

func (e *refreshedError) Error() string {
	return e.err.Error() + " (the signed URL has expired; got a fresh one from the cache service)"
}
func (e *refreshedError) Unwrap() error { return e.err }

// downloadStream copies e to w as one GET. When the connection breaks, it
// resumes from the last byte written with a Range request (if the storage
// allows ranges), counting that as a retry.
func (c *Client) downloadStream(ctx context.Context, w io.Writer, e *Entry) (int64, error) {
	var written int64
	err := c.withRetries(ctx, func(ctx context.Context) error {
		h := e.header()
		if written > 0 {
			h.Set("Range", fmt.Sprintf("bytes=%d-", written))
		}
		return c.once(ctx, &request{
			op:       "GET " + e.Key,
			method:   http.MethodGet,
			entry:    e,
			header:   h,
			transfer: true,
			accept: func(resp *http.Response) error {
				if written > 0 {
					if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); resp.StatusCode != http.StatusPartialContent || !ok || start != written {
						return permanent(fmt.Errorf("cannot resume at byte %d: storage answered HTTP %d %q", written, resp.StatusCode, resp.Header.Get("Content-Range")))
					}
				}
				n, err := io.Copy(writerOnly{w: w}, resp.Body)
				written += n
				return err
			},
		})
	})
	return written, err
}

// writerOnly marks the destination's errors permanent: retrying the download
// cannot fix a full disk.
type writerOnly struct{ w io.Writer }

func (wo writerOnly) Write(p []byte) (int, error) {
	n, err := wo.w.Write(p)
	if err != nil {
		err = permanent(fmt.Errorf("write: %w", err))
	}
	return n, err
}

// probe learns the entry's size and whether the storage serves ranges: a
// HEAD, or when that is refused (act's server allows only GET; some signed
// URLs are valid for GET only) a GET of the first byte. When both fail the
// entry stays "size unknown" and is downloaded as one stream.
func (c *Client) probe(ctx context.Context, e *Entry) error {
	headErr := c.do(ctx, &request{
		op:     "HEAD " + e.Key,
		method: http.MethodHead,
		entry:  e,
		header: e.header(),
		accept: func(resp *http.Response) error {
			if resp.ContentLength < 0 {
				return permanent(errors.New("no Content-Length"))
			}
			e.Size = resp.ContentLength
			e.rangeable = e.azure || strings.EqualFold(resp.Header.Get("Accept-Ranges"), "bytes")
			return nil
		},
	})
	if headErr == nil || ctx.Err() != nil {
		return headErr
	}
	var headStatus *StatusError
	if !errors.As(headErr, &headStatus) {
		// No answer at all after the retries (refused, reset, timed out): a GET
		// would get none either, and a download neither. Say so once, here,
		// rather than have each later transfer spend its retries on it.
		e.unreachable = headErr
		return headErr
	}
	h := e.header()
	h.Set("Range", "bytes=0-0")
	getErr := c.do(ctx, &request{
		op:     "GET first byte of " + e.Key,
		method: http.MethodGet,
		entry:  e,
		header: h,
		accept: func(resp *http.Response) error {
			total, ok := contentRangeTotal(resp.Header.Get("Content-Range"))
			if resp.StatusCode != http.StatusPartialContent || !ok {
				// The storage sent the whole entry: no ranges. Do not read it.
				return permanent(fmt.Errorf("no ranges (HTTP %d)", resp.StatusCode))
			}
			e.Size, e.rangeable = total, true
			return nil
		},
	})
	var se *StatusError
	if errors.As(getErr, &se) && se.StatusCode == http.StatusRequestedRangeNotSatisfiable {
		e.Size, e.rangeable = 0, true // only an empty entry has no byte 0
		return nil
	}
	if getErr != nil {
		return fmt.Errorf("%w; %w", headErr, getErr)
	}
	return nil
}

// header is what every storage request for e carries: Azure wants its API
// version; other storage (v1 archive URLs) gets nothing, in particular not
// the runtime token.
func (e *Entry) header() http.Header {
	h := http.Header{}
	if e.azure {
		h.Set("x-ms-version", azureAPIVersion)
	}
	return h
}

// contentRangeStart reads the first byte of "bytes a-b/total".
func contentRangeStart(v string) (int64, bool) {
	v, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(v, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil
}

// contentRangeTotal reads the total of "bytes a-b/total".
func contentRangeTotal(v string) (int64, bool) {
	_, total, ok := strings.Cut(v, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	return n, err == nil && n >= 0
}
