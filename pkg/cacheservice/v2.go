package cacheservice

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// twirpService is the path of the cache service's twirp methods. @actions/cache
// resolves "/twirp/..." against ACTIONS_RESULTS_URL (dropping any path it
// has); BuildKit's gha backend appends it to the URL. The two agree for the
// URLs the runner hands out (no path); appending also works behind a proxy
// prefix.
const twirpService = "/twirp/github.actions.results.api.v1.CacheService/"

// azureAPIVersion is the Azure Storage REST version sent with blob requests
// (the one azblob v1.5.0 speaks).
const azureAPIVersion = "2024-11-04"

// Request and answer bodies of the v2 service, in the proto JSON mapping:
// snake_case field names, int64 as strings (results/api/v1/cache.proto in
// actions/toolkit). The optional "metadata" field is left out, as
// @actions/cache leaves it out.
type createCacheEntryRequest struct {
	Key     string `json:"key"`
	Version string `json:"version"`
}

type createCacheEntryResponse struct {
	OK              bool   `json:"ok"`
	SignedUploadURL string `json:"signed_upload_url"`
	Message         string `json:"message"`
}

type finalizeCacheEntryUploadRequest struct {
	Key       string `json:"key"`
	SizeBytes string `json:"size_bytes"` // int64
	Version   string `json:"version"`
}

type finalizeCacheEntryUploadResponse struct {
	OK      bool      `json:"ok"`
	EntryID jsonInt64 `json:"entry_id"`
	Message string    `json:"message"`
}

type getCacheEntryDownloadURLRequest struct {
	Key         string   `json:"key"`
	RestoreKeys []string `json:"restore_keys"`
	Version     string   `json:"version"`
}

type getCacheEntryDownloadURLResponse struct {
	OK                bool   `json:"ok"`
	SignedDownloadURL string `json:"signed_download_url"`
	MatchedKey        string `json:"matched_key"`
}

// jsonInt64 reads an int64 sent as a JSON string (the proto mapping) or, to
// be lenient, as a number.
type jsonInt64 int64

func (v *jsonInt64) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*v = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("int64 %s: %w", b, err)
	}
	*v = jsonInt64(n)
	return nil
}

// twirp calls a CacheService method with JSON in and out.
func (c *Client) twirp(ctx context.Context, method string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	h.Set("Authorization", "Bearer "+c.token)
	return c.do(ctx, &request{
		op:     method,
		method: http.MethodPost,
		url:    c.baseURL + twirpService + method,
		header: h,
		body:   body,
		accept: func(resp *http.Response) error { return decodeJSON(resp, out) },
	})
}

func (c *Client) lookupV2(ctx context.Context, key string, restoreKeys []string, version string) (*Entry, error) {
	var out getCacheEntryDownloadURLResponse
	in := getCacheEntryDownloadURLRequest{Key: key, RestoreKeys: restoreKeys, Version: version}
	if in.RestoreKeys == nil {
		in.RestoreKeys = []string{}
	}
	if err := c.twirp(ctx, "GetCacheEntryDownloadURL", in, &out); err != nil {
		return nil, err
	}
	if !out.OK || out.SignedDownloadURL == "" {
		return nil, nil
	}
	c.maskURL(out.SignedDownloadURL)
	return &Entry{Key: out.MatchedKey, url: out.SignedDownloadURL, azure: true}, nil
}

func (c *Client) stageV2(ctx context.Context, key, version string, r io.Reader) (*Staged, error) {
	var created createCacheEntryResponse
	err := c.twirp(ctx, "CreateCacheEntry", createCacheEntryRequest{Key: key, Version: version}, &created)
	if created.SignedUploadURL != "" {
		c.maskURL(created.SignedUploadURL)
	}
	var se *StatusError
	switch {
	case errors.As(err, &se) && (se.Code == "already_exists" || se.StatusCode == http.StatusConflict):
		return &Staged{result: SaveResult{AlreadyExists: true, Reason: se.Message}}, nil
	case err != nil:
		return nil, err
	case !created.OK:
		// Not a race: github.com answers an existing key with 409 already_exists (above),
		// and ok: false with a message such as "cache write denied: token has no writable
		// scopes" or a quota refusal (actions/toolkit #2429, packages/cache src/cache.ts).
		return nil, &RefusedError{Op: "CreateCacheEntry", Message: firstNonEmpty(created.Message, "ok: false, without a message")}
	case created.SignedUploadURL == "":
		return nil, errors.New("CreateCacheEntry: answer has no signed_upload_url")
	}

	size, err := c.uploadBlob(ctx, created.SignedUploadURL, r)
	if err != nil {
		return nil, fmt.Errorf("upload to blob storage: %w", err)
	}
	return &Staged{commit: func(ctx context.Context) (SaveResult, error) {
		return c.finalizeV2(ctx, key, version, size)
	}}, nil
}

func (c *Client) finalizeV2(ctx context.Context, key, version string, size int64) (SaveResult, error) {
	var final finalizeCacheEntryUploadResponse
	err := c.twirp(ctx, "FinalizeCacheEntryUpload", finalizeCacheEntryUploadRequest{
		Key: key, SizeBytes: strconv.FormatInt(size, 10), Version: version,
	}, &final)
	if err == nil && !final.OK {
		err = fmt.Errorf("FinalizeCacheEntryUpload refused: %s", firstNonEmpty(final.Message, "ok=false"))
	}
	if err != nil {
		// A finalize whose answer was lost took effect all the same, and its
		// retry then fails (the reservation is gone): ask whether the entry is
		// there before calling the save failed.
		if e, lerr := c.lookupV2(ctx, key, nil, version); lerr == nil && e != nil && strings.EqualFold(e.Key, key) {
			return SaveResult{Size: size}, nil
		}
		return SaveResult{}, err
	}
	return SaveResult{Size: size, EntryID: int64(final.EntryID)}, nil
}

// uploadBlob writes the stream to an Azure block blob through its SAS URL,
// as @azure/storage-blob's uploadStream does: Put Block for each block
// (?comp=block&blockid=<base64>, ids of equal length), then Put Block List
// (?comp=blocklist) naming them in order. A stream that fits in one block
// is sent as a single Put Blob (x-ms-blob-type: BlockBlob).
func (c *Client) uploadBlob(ctx context.Context, sasURL string, r io.Reader) (int64, error) {
	if _, err := url.Parse(sasURL); err != nil {
		return 0, fmt.Errorf("signed upload URL: %w", err)
	}
	// A per-upload prefix keeps our ids apart from blocks an earlier,
	// failed upload to the same blob may have left uncommitted.
	var nonce [8]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return 0, err
	}
	prefix := hex.EncodeToString(nonce[:])
	blockID := func(i int) string {
		return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%08d", prefix, i))
	}

	put := func(ctx context.Context, index int, offset int64, data []byte) error {
		return c.do(ctx, &request{
			op:       fmt.Sprintf("Put Block %d (bytes %d-%d)", index, offset, offset+int64(len(data))-1),
			method:   http.MethodPut,
			url:      withQuery(sasURL, "comp=block&blockid="+url.QueryEscape(blockID(index))),
			header:   azureHeader(),
			body:     data,
			transfer: true,
		})
	}
	single := func(ctx context.Context, data []byte) error {
		h := azureHeader()
		h.Set("x-ms-blob-type", "BlockBlob")
		h.Set("Content-Type", "application/octet-stream")
		return c.do(ctx, &request{
			op:       fmt.Sprintf("Put Blob (%d bytes)", len(data)),
			method:   http.MethodPut,
			url:      sasURL,
			header:   h,
			body:     data,
			transfer: true,
		})
	}
	size, blocks, err := c.uploadBlocks(ctx, r, put, single)
	if err != nil || blocks == 0 {
		return size, err
	}

	var list bytes.Buffer
	list.WriteString(`<?xml version="1.0" encoding="utf-8"?><BlockList>`)
	for i := range blocks {
		list.WriteString("<Latest>" + blockID(i) + "</Latest>")
	}
	list.WriteString("</BlockList>")
	h := azureHeader()
	h.Set("Content-Type", "application/xml; charset=utf-8")
	err = c.do(ctx, &request{
		op:     fmt.Sprintf("Put Block List (%d blocks)", blocks),
		method: http.MethodPut,
		url:    withQuery(sasURL, "comp=blocklist"),
		header: h,
		body:   list.Bytes(),
	})
	return size, err
}

func azureHeader() http.Header {
	h := http.Header{}
	h.Set("x-ms-version", azureAPIVersion)
	return h
}

// withQuery appends raw query parameters without re-encoding the SAS
// signature that is already in the URL.
func withQuery(u, q string) string {
	if strings.Contains(u, "?") {
		return u + "&" + q
	}
	return u + "?" + q
}
