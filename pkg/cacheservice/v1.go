package cacheservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The v1 REST API (GitHub Enterprise Server, act), as @actions/cache's
// cacheHttpClient.ts and go-actions-cache call it.
const (
	v1Path   = "/_apis/artifactcache/"
	v1Accept = "application/json;api-version=6.0-preview.1"
)

type v1CacheEntry struct {
	CacheKey        string `json:"cacheKey"`
	Scope           string `json:"scope"`
	ArchiveLocation string `json:"archiveLocation"`
}

type v1ReserveRequest struct {
	Key     string `json:"key"`
	Version string `json:"version"`
	// cacheSize is optional; a stream's size is not known before it ends.
	CacheSize int64 `json:"cacheSize,omitempty"`
}

type v1ReserveResponse struct {
	CacheID int64 `json:"cacheId"`
}

type v1CommitRequest struct {
	Size int64 `json:"size"`
}

func (c *Client) v1Header() http.Header {
	h := http.Header{}
	h.Set("Accept", v1Accept)
	if c.token != "" {
		h.Set("Authorization", "Bearer "+c.token)
	}
	return h
}

func (c *Client) lookupV1(ctx context.Context, key string, restoreKeys []string, version string) (*Entry, error) {
	q := url.Values{}
	q.Set("keys", strings.Join(append([]string{key}, restoreKeys...), ","))
	q.Set("version", version)
	var out v1CacheEntry
	found := false
	err := c.do(ctx, &request{
		op:     "GET cache",
		method: http.MethodGet,
		url:    c.baseURL + v1Path + "cache?" + q.Encode(),
		header: c.v1Header(),
		accept: func(resp *http.Response) error {
			if resp.StatusCode == http.StatusNoContent {
				return nil // a miss
			}
			found = true
			return decodeJSON(resp, &out)
		},
	})
	if err != nil {
		return nil, err
	}
	if !found || out.ArchiveLocation == "" {
		return nil, nil
	}
	c.maskURL(out.ArchiveLocation)
	return &Entry{Key: out.CacheKey, url: out.ArchiveLocation}, nil
}

func (c *Client) stageV1(ctx context.Context, key, version string, r io.Reader) (*Staged, error) {
	var reserved v1ReserveResponse
	err := c.postJSONV1(ctx, "reserve cache", c.baseURL+v1Path+"caches", v1ReserveRequest{Key: key, Version: version}, &reserved)
	var se *StatusError
	switch {
	case errors.As(err, &se) && se.StatusCode == http.StatusConflict:
		return &Staged{result: SaveResult{AlreadyExists: true, Reason: se.Message}}, nil
	case err != nil:
		return nil, err
	case reserved.CacheID == 0:
		// Only 409 says the key exists; an answer without an id reserved nothing and says
		// no more. (A denied write comes as a 403 with "cache write denied: ..." and is
		// an error above: actions/toolkit #2429, packages/cache src/cache.ts saveCacheV1.)
		return nil, &RefusedError{Op: "reserve cache", Message: "the answer has no cacheId"}
	}
	cacheURL := fmt.Sprintf("%s%scaches/%d", c.baseURL, v1Path, reserved.CacheID)

	put := func(ctx context.Context, index int, offset int64, data []byte) error {
		h := c.v1Header()
		h.Set("Content-Type", "application/octet-stream")
		end := offset + int64(len(data)) - 1
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/*", offset, end))
		return c.do(ctx, &request{
			op:       fmt.Sprintf("upload chunk %d (bytes %d-%d)", index, offset, end),
			method:   http.MethodPatch,
			url:      cacheURL,
			header:   h,
			body:     data,
			transfer: true,
		})
	}
	size, _, err := c.uploadBlocks(ctx, r, put, nil)
	if err != nil {
		return nil, fmt.Errorf("upload: %w", err)
	}
	return &Staged{commit: func(ctx context.Context) (SaveResult, error) {
		if err := c.postJSONV1(ctx, "commit cache", cacheURL, v1CommitRequest{Size: size}, nil); err != nil {
			// As in v2: a commit whose answer was lost took effect; its retry fails.
			if e, lerr := c.lookupV1(ctx, key, nil, version); lerr == nil && e != nil && strings.EqualFold(e.Key, key) {
				return SaveResult{Size: size, EntryID: reserved.CacheID}, nil
			}
			return SaveResult{}, err
		}
		return SaveResult{Size: size, EntryID: reserved.CacheID}, nil
	}}, nil
}

func (c *Client) postJSONV1(ctx context.Context, op, u string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	h := c.v1Header()
	h.Set("Content-Type", "application/json")
	return c.do(ctx, &request{
		op:     op,
		method: http.MethodPost,
		url:    u,
		header: h,
		body:   body,
		accept: func(resp *http.Response) error {
			if out == nil {
				return nil
			}
			return decodeJSON(resp, out)
		},
	})
}
