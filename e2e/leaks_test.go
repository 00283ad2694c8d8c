//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
)

// Item 1 of issue 19: signed storage URLs (their sig= is a credential, a write URL lets
// anyone write the blob until it expires) reached the log, the outputs and the summary
// when the storage failed. Here the storage refuses HEAD (405, as act's cache server
// does) and resets every other request but a plain download: the restore's size probe
// (HEAD, then the first byte) is retried and given up, the
// in-build helper finds the storage unreachable and the entry is streamed through the
// session instead (or is streamed from the start with WARMBUILD_MOUNT_TRANSFER=stream),
// and the save's upload fails. The runs build and warn, and no signature appears where a
// user or a later step can read it, except in the ::add-mask:: commands that tell the
// runner to hide it.
//
// A storage that gives no answer at all, to HEAD too, is taken as unreachable at once and
// nothing is streamed (TestMountCacheUnreachableStorageCostsSecondsNotMinutes); its
// warnings are redacted by the same one place.
func TestNoSignatureReachesTheLogOutputsOrSummaryWhenTheStorageFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
	}{
		{"unreachable from the build, then streamed", nil},
		{"streamed through the session", map[string]string{"WARMBUILD_MOUNT_TRANSFER": "stream"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needStack(t)
			e := &mountCacheEnv{
				srv:      cachetest.StartV2(t, cachetest.V2Options{StorageURL: downloadOnlyStorage(t)}),
				cacheRef: stackEnv["REGISTRY"] + "/" + uniqueRepo(t, "leak-layers") + ":buildcache",
			}
			dir := appContext(t)
			seedPartialHit(t, e, dir)

			res := e.runEnv(t, dir, tc.env)
			warnings := res.Outputs["cache-warnings"]
			t.Logf("cache-warnings: %s (run took %s)", warnings, res.Elapsed.Round(time.Second))
			if !strings.Contains(warnings, "upload to blob storage") {
				t.Errorf("cache-warnings should name the failed upload: %s", warnings)
			}
			if !strings.Contains(res.Log, "size unknown") {
				t.Errorf("the restore's size probe should have failed and said so")
			}
			if tc.env == nil && !strings.Contains(res.Log, "streaming it through the session instead") {
				t.Errorf("the helper should have found the storage unreachable")
			}
			if res.Outputs["mount-cache-hit"] != "partial" {
				t.Errorf("mount-cache-hit %q, want partial (the entry still arrives as a stream)", res.Outputs["mount-cache-hit"])
			}

			masked := maskedSignatures(res.Log)
			if len(masked) < 2 {
				t.Errorf("want the download and the upload URL masked, the log masks %d signatures", len(masked))
			}
			var outputs strings.Builder
			for k, v := range res.Outputs {
				outputs.WriteString(k + "=" + v + "\n")
			}
			for where, text := range map[string]string{
				"the log":             logWithoutMasks(res.Log),
				"GITHUB_OUTPUT":       outputs.String(),
				"GITHUB_STEP_SUMMARY": res.Summary,
				"cache-warnings":      warnings,
			} {
				if m := signatureParam.FindString(text); m != "" {
					t.Errorf("%s holds a signature parameter %q", where, m)
				}
				for _, sig := range masked {
					if strings.Contains(text, sig) {
						t.Errorf("%s holds the signature %q", where, sig)
					}
				}
			}
			if t.Failed() {
				t.Logf("log:\n%s\nsummary:\n%s", tail(res.Log, 80), res.Summary)
			}
		})
	}
}

// downloadOnlyStorage stands between the signed URLs and Azurite: a GET without a Range
// header (a whole download) goes through; HEAD is refused with 405; every other request
// (a ranged GET, an upload) has its connection reset.
func downloadOnlyStorage(t *testing.T) string {
	az, err := url.Parse(stackEnv["AZURITE_BLOB_URL"])
	if err != nil || az.Host == "" {
		t.Fatalf("AZURITE_BLOB_URL %q: %v", stackEnv["AZURITE_BLOB_URL"], err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.Out.URL.Scheme, r.Out.URL.Host, r.Out.Host = az.Scheme, az.Host, az.Host
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.Header.Get("Range") == "" {
			proxy.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusMethodNotAllowed)
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // connection reset by peer
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// signatureParam is a sig= (or an encoded sig%3D) with a value that is not the redaction.
var signatureParam = regexp.MustCompile(`(?i)sig(=|%3D)([^R&\s"'<>]|R[^E])[^&\s"'<>]*`)

// seedPartialHit stores an entry (one small file) under the mount's restore key, so the
// run finds it and downloads it.
func seedPartialHit(t *testing.T, e *mountCacheEnv, dir string) {
	t.Helper()
	df, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := mountcache.Discover(df, mountcache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cache := mountcache.Caches(mounts)[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	key := mountcache.RestoreKey(cache.Mounts[0], "linux/"+runtime.GOARCH) + "0123456789abcdef"
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "seeded"), []byte("from an earlier run"), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := archive.Write(ctx, &buf, src); err != nil {
		t.Fatal(err)
	}
	if _, err := e.srv.Seed(ctx, cachetest.SeedEntry{Key: key, Version: mountcache.EntryVersion(cache)}, &buf); err != nil {
		t.Fatal(err)
	}
}

// maskedSignatures are the sig values of the URLs the log add-masks, raw and decoded
// (the command's data is escaped: %25 is %).
func maskedSignatures(log string) []string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(log, "\n") {
		data, ok := strings.CutPrefix(strings.TrimSpace(line), "::add-mask::")
		if !ok {
			continue
		}
		data = strings.NewReplacer("%25", "%", "%0D", "\r", "%0A", "\n").Replace(data)
		_, query, ok := strings.Cut(data, "?")
		if !ok {
			continue
		}
		for _, kv := range strings.Split(query, "&") {
			v, ok := strings.CutPrefix(kv, "sig=")
			if !ok || v == "" || seen[v] {
				continue
			}
			seen[v] = true
			out = append(out, v)
			if dec, err := url.QueryUnescape(v); err == nil && dec != v {
				out = append(out, dec)
			}
		}
	}
	return out
}

// logWithoutMasks is the log as the runner shows it, less what it hides anyway: the
// ::add-mask:: commands themselves.
func logWithoutMasks(log string) string {
	var b strings.Builder
	for _, line := range strings.Split(log, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "::add-mask::") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
