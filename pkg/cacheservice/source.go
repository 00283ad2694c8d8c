package cacheservice

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// Source is what downloading an entry takes once the service has looked it up: the
// storage URL the lookup returned and what the storage supports. The URL is signed (an
// Azure SAS, or the Enterprise Server's archive location) and works without the
// runtime token, from wherever the storage is reachable: a Source can be handed to a
// process inside the build. Its signature is a credential; treat a Source as a secret.
type Source struct {
	Key       string `json:"key"`
	URL       string `json:"url"`
	Azure     bool   `json:"azure,omitempty"`
	Rangeable bool   `json:"rangeable,omitempty"`
	Size      int64  `json:"size"` // -1 when the storage did not say
}

// Source returns what downloading e takes.
func (e *Entry) Source() Source {
	return Source{Key: e.Key, URL: e.currentURL(), Azure: e.azure, Rangeable: e.rangeable, Size: e.Size}
}

// Downloader fetches Sources with the transfer settings of a Client (parallel ranges,
// retries, timeouts) but no cache service.
type Downloader struct{ c *Client }

// NewDownloader makes a Downloader; opts are the Client's transfer options.
func NewDownloader(opts ...Option) (*Downloader, error) {
	c, err := newClient(opts)
	if err != nil {
		return nil, err
	}
	return &Downloader{c: c}, nil
}

// Open streams s as Entry.Open does.
func (d *Downloader) Open(ctx context.Context, s Source) io.ReadCloser {
	e := &Entry{Key: s.Key, Size: s.Size, client: d.c, url: s.URL, azure: s.Azure, rangeable: s.Rangeable}
	return e.Open(ctx)
}

// OpenRefreshing is Open for a process that can ask for a fresh URL of s when the
// storage refuses the one it has (signed URLs expire mid-download): refresh returns
// one, e.g. by asking the action, which holds the Entry (Entry.FreshSource).
func (d *Downloader) OpenRefreshing(ctx context.Context, s Source, refresh func(ctx context.Context) (string, error)) io.ReadCloser {
	e := &Entry{Key: s.Key, Size: s.Size, client: d.c, url: s.URL, azure: s.Azure, rangeable: s.Rangeable, reload: refresh}
	return e.Open(ctx)
}

// FreshSource asks the service for a new signed URL of e, for a process downloading
// e's Source whose URL has expired. e's own downloads use the new URL too.
func (e *Entry) FreshSource(ctx context.Context) (Source, error) {
	e.mu.Lock()
	if e.reload == nil || e.refreshes >= maxRefreshes {
		e.mu.Unlock()
		return Source{}, fmt.Errorf("cache entry %s: no fresh URL to be had (asked %d times)", e.Key, e.refreshes)
	}
	e.refreshes++
	u, err := e.reload(ctx)
	if err == nil {
		e.url = u
	}
	e.mu.Unlock()
	if err != nil {
		return Source{}, err
	}
	return e.Source(), nil
}

// Reachable asks the storage for the first byte of s, once, within timeout: whether
// this process can download s at all (a build network may have no route to it).
func (d *Downloader) Reachable(ctx context.Context, s Source, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
	if err != nil {
		return redact(err)
	}
	e := &Entry{azure: s.Azure}
	req.Header = e.header()
	req.Header.Set("Range", "bytes=0-0")
	resp, err := d.c.http.Do(req)
	if err != nil {
		return redact(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		// A *StatusError: a 401/403 is an expired URL, not an unreachable storage.
		return statusErrorFrom("GET first byte of "+s.Key, resp, d.c.now())
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<10))
	return nil
}
