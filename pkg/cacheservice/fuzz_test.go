package cacheservice

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The service's answers are untrusted input: these targets feed arbitrary bytes to every
// decoder of them. Whatever the bytes, nothing panics, and what is decoded keeps the
// invariants the callers rely on.
//
//	go test ./pkg/cacheservice -run '^$' -fuzz '^FuzzDecodeAnswers$' -fuzztime 60s

func answer(status int, header http.Header, body []byte) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(bytes.NewReader(body))}
}

// FuzzDecodeAnswers decodes a body as each v2 twirp answer and each v1 JSON answer, and as
// an error answer (twirp, Azure XML, v1, act shapes).
func FuzzDecodeAnswers(f *testing.F) {
	f.Add([]byte(`{"ok":true,"signed_upload_url":"http://127.0.0.1/c/k?sig=x"}`))
	f.Add([]byte(`{"ok":true,"entry_id":"12"}`))
	f.Add([]byte(`{"ok":true,"entry_id":12}`))
	f.Add([]byte(`{"ok":true,"signed_download_url":"http://127.0.0.1/c/k?sig=x","matched_key":"k"}`))
	f.Add([]byte(`{"cacheKey":"k","scope":"refs/heads/main","archiveLocation":"http://127.0.0.1/a"}`))
	f.Add([]byte(`{"cacheId":7}`))
	f.Add([]byte(`{"code":"already_exists","msg":"cache entry exists"}`))
	f.Add([]byte(`{"message":"Cache already exists.","typeKey":"ArtifactCacheEntryAlreadyExistsException"}`))
	f.Add([]byte("<?xml version=\"1.0\"?><Error><Code>BlobNotFound</Code><Message>gone\nRequestId:1</Message></Error>"))
	f.Add([]byte(`{"entry_id":"9223372036854775808"}`))
	f.Add([]byte(`{"entry_id":"-1"}`))
	f.Add([]byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, body []byte) {
		outs := []any{
			&createCacheEntryResponse{},
			&finalizeCacheEntryUploadResponse{},
			&getCacheEntryDownloadURLResponse{},
			&v1CacheEntry{},
			&v1ReserveResponse{},
		}
		for _, out := range outs {
			_ = decodeJSON(answer(http.StatusOK, nil, body), out)
		}
		for _, status := range []int{http.StatusConflict, http.StatusTooManyRequests, http.StatusInternalServerError} {
			h := http.Header{}
			h.Set("Retry-After", string(body))
			e := statusErrorFrom("op", answer(status, h, body), time.Unix(1_800_000_000, 0))
			if e.StatusCode != status {
				t.Fatalf("status %d read as %d", status, e.StatusCode)
			}
			if e.RetryAfter < 0 {
				t.Fatalf("negative Retry-After %v from %q", e.RetryAfter, body)
			}
			_ = e.Error()
		}
	})
}

// FuzzRetryAfter reads a Retry-After header: never a negative wait, and a plain number of
// seconds (no sign, no spaces inside) is that many seconds when it fits a Duration.
func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	f.Add("7")
	f.Add(" 0 ")
	f.Add("-5")
	f.Add("+5")
	f.Add("9223372036854775807")
	f.Add(now.Add(90 * time.Second).Format(http.TimeFormat))
	f.Add("Mon, 02 Jan 2006 15:04:05 GMT")
	f.Add("soon")
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if d < 0 || d > maxRetryAfterValue {
			t.Fatalf("ParseRetryAfter(%q) = %v, outside 0..%v", v, d, maxRetryAfterValue)
		}
		if !ok && d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v with ok false", v, d)
		}
		s := strings.TrimSpace(v)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 && n <= int64(maxRetryAfterValue/time.Second) && strconv.FormatInt(n, 10) == s {
			if want := time.Duration(n) * time.Second; !ok || d != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, %v; want %v, true", v, d, ok, want)
			}
		}
	})
}

// FuzzContentRange reads the Content-Range of a ranged download answer.
func FuzzContentRange(f *testing.F) {
	f.Add("bytes 0-99/100")
	f.Add("bytes 100-199/*")
	f.Add("bytes -1--1/-1")
	f.Add("bytes 9223372036854775807-0/9223372036854775808")
	f.Fuzz(func(t *testing.T, v string) {
		_, _ = contentRangeStart(v)
		if n, ok := contentRangeTotal(v); ok && n < 0 {
			t.Fatalf("contentRangeTotal(%q) = %d, negative", v, n)
		}
	})
}
