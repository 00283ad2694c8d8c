package ghaaccel

import (
	"strings"
	"testing"
)

// The service's answers are untrusted: whatever comes back, rewriting never panics and
// never hands the real signed URL on.
func FuzzRewriteAnswer(f *testing.F) {
	f.Add([]byte(`{"ok":true,"signed_upload_url":"https://acct.blob.core.windows.net/c/b?sig=SECRET&se=1","message":""}`), true)
	f.Add([]byte(`{"ok":true,"signed_download_url":"http://127.0.0.1:10000/a/b?sv=1&sig=SECRET","matched_key":"k"}`), false)
	f.Add([]byte(`{"ok":false,"signed_download_url":"","matched_key":""}`), false)
	f.Add([]byte(`{"signed_upload_url":7}`), true)
	f.Add([]byte(`null`), true)
	f.Add([]byte(`[]`), false)
	f.Fuzz(func(t *testing.T, answer []byte, upload bool) {
		p := &Proxy{sessions: map[string]*session{}}
		method, field := "GetCacheEntryDownloadURL", "signed_download_url"
		if upload {
			method, field = "CreateCacheEntry", "signed_upload_url"
		}
		out, ok := p.rewriteAnswer(method, answer, "http://127.0.0.1:1", &twirpCall{})
		if !ok {
			return
		}
		signed, _, err := signedURLOf(answer, field)
		if err != nil || signed == "" {
			t.Fatalf("rewrote an answer without a URL to replace: %q", answer)
		}
		if _, q, _ := strings.Cut(signed, "?"); len(q) > 3 && strings.Contains(string(out), q) {
			t.Fatalf("the rewritten answer still carries the signed URL: %s", out)
		}
		got, _, err := signedURLOf(out, field)
		if err != nil || !strings.HasPrefix(got, "http://127.0.0.1:1/blob/") {
			t.Fatalf("rewritten URL %q (%v)", got, err)
		}
	})
}

// The cache index is the storage's bytes: smallLayers never panics, and every digest it
// returns is a canonical sha256 named once, within the prefetch's limits.
func FuzzSmallLayers(f *testing.F) {
	d := "sha256:" + strings.Repeat("ab", 32)
	f.Add([]byte(`{"layers":[{"blob":"` + d + `","annotations":{"size":96}}]}`))
	f.Add([]byte(`{"layers":[{"blob":"sha256:AB","annotations":{"size":1}},{"blob":null}]}`))
	f.Add([]byte(`{"layers":{}}`))
	f.Fuzz(func(t *testing.T, index []byte) {
		got := smallLayers(index)
		if len(got) > prefetchMaxBlobs {
			t.Fatalf("%d layers, more than %d", len(got), prefetchMaxBlobs)
		}
		seen := map[string]bool{}
		for _, g := range got {
			if !isSHA256(g) || seen[g] {
				t.Fatalf("layer %q: not a canonical sha256, or twice", g)
			}
			seen[g] = true
		}
	})
}
