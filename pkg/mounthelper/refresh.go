package mounthelper

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The signed URLs handed to mount-inject expire (about 10 minutes on github.com), and
// the helper cannot ask the cache service for new ones: it has no token, by design.
// The action can. In sources mode the RUN has a second socket forwarded from the
// action's session, on which the helper asks for a fresh URL of source i when the
// storage refuses the one it has. One JSON line each way per request.

// Request.ControlSocket says where mount-inject finds that socket in the RUN; without
// it an expired URL fails the download.

// RefreshRequest asks for a fresh URL of the sources' entry number Source.
type RefreshRequest struct {
	Source int `json:"source"`
}

// RefreshAnswer is the action's answer: a URL, or why there is none.
type RefreshAnswer struct {
	URL   string `json:"url,omitempty"`
	Error string `json:"error,omitempty"`
}

// refreshTimeout bounds one request: the action answers after one service lookup.
const refreshTimeout = 2 * time.Minute

// ServeRefresh is the action's end: it answers the requests of one connection with
// fresh(i) until the helper hangs up or ctx ends. Error messages go into the build's
// log: fresh must not put a signed URL in them.
func ServeRefresh(ctx context.Context, conn net.Conn, n int, fresh func(ctx context.Context, i int) (string, error)) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc := bufio.NewScanner(conn)
	enc := json.NewEncoder(conn)
	for sc.Scan() {
		var req RefreshRequest
		var ans RefreshAnswer
		switch err := json.Unmarshal(sc.Bytes(), &req); {
		case err != nil:
			ans.Error = "malformed request"
		case req.Source < 0 || req.Source >= n:
			ans.Error = fmt.Sprintf("no source %d", req.Source)
		default:
			u, err := fresh(ctx, req.Source)
			if err != nil {
				ans.Error = err.Error()
			} else {
				ans.URL = u
			}
		}
		if err := enc.Encode(ans); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// refresher is the helper's end: one connection, opened on the first request, used
// by one request at a time (the download asks once for all the ranges it refused).
type refresher struct {
	path string
	mu   sync.Mutex
	conn net.Conn
	r    *bufio.Reader
	got  []string // every URL received, so errors quoting one are redacted
}

func (f *refresher) fresh(ctx context.Context, i int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn == nil {
		var d net.Dialer
		dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := d.DialContext(dctx, "unix", f.path)
		cancel()
		if err != nil {
			return "", fmt.Errorf("ask the action for a fresh URL: %w", err)
		}
		f.conn, f.r = conn, bufio.NewReader(conn)
	}
	fail := func(err error) (string, error) {
		f.conn.Close()
		f.conn = nil
		return "", fmt.Errorf("ask the action for a fresh URL: %w", err)
	}
	deadline := time.Now().Add(refreshTimeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = f.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = f.conn.SetDeadline(time.Now()) })
	defer stop()
	b, _ := json.Marshal(RefreshRequest{Source: i})
	if _, err := f.conn.Write(append(b, '\n')); err != nil {
		return fail(err)
	}
	line, err := f.r.ReadBytes('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fail(err)
	}
	var ans RefreshAnswer
	if err := json.Unmarshal(line, &ans); err != nil {
		return fail(fmt.Errorf("malformed answer: %w", err))
	}
	if ans.URL == "" {
		return "", fmt.Errorf("the action has no fresh URL: %s", ans.Error)
	}
	f.got = append(f.got, ans.URL)
	return ans.URL, nil
}

func (f *refresher) urls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func (f *refresher) close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.conn != nil {
		f.conn.Close()
	}
}
