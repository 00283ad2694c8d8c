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
