//go:build e2e

package e2e

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
)

// Item 1 of issue 19: signed storage URLs (their sig= is a credential, a write URL lets
// anyone write the blob until it expires) reached the log, the outputs and the summary
// when the storage failed. Here the storage refuses connections (the in-build helper
// finds it unreachable, the action streams, and that fails too; the save's upload fails),
// or resets them with the transfer forced through the session: the runs build, warn, and
// no signature appears anywhere a user or a later step can read, except in the
// ::add-mask:: commands that tell the runner to hide it.
func TestNoSignatureReachesTheLogOutputsOrSummaryWhenTheStorageFails(t *testing.T) {
	for _, tc := range []struct {
		name    string
		storage func(t *testing.T) string
		env     map[string]string
	}{
		{"refused, then unreachable from the build", refusedStorage, nil},
		{"reset, streamed through the session", resettingStorage, map[string]string{"WARMBUILD_MOUNT_TRANSFER": "stream"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			needStack(t)
			e := &mountCacheEnv{
				srv:      cachetest.StartV2(t, cachetest.V2Options{StorageURL: tc.storage(t)}),
				cacheRef: stackEnv["REGISTRY"] + "/" + uniqueRepo(t, "leak-layers") + ":buildcache",
			}
			dir := appContext(t)
			seedPartialHit(t, e, dir)

			res := e.runEnv(t, dir, tc.env)
			warnings := res.Outputs["cache-warnings"]
			t.Logf("cache-warnings: %s (run took %s)", warnings, res.Elapsed.Round(time.Second))
			if !strings.Contains(warnings, "download failed") || !strings.Contains(warnings, "upload to blob storage") {
				t.Errorf("cache-warnings should name the failed download and upload: %s", warnings)
			}
			if res.Outputs["mount-cache-hit"] != "miss" {
				t.Errorf("mount-cache-hit %q, want miss (the pip step ran cold)", res.Outputs["mount-cache-hit"])
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

// signatureParam is a sig= (or an encoded sig%3D) with a value that is not the redaction.
var signatureParam = regexp.MustCompile(`(?i)sig(=|%3D)([^R&\s"'<>]|R[^E])[^&\s"'<>]*`)

// seedPartialHit stores an entry under the mount's restore key, so the run finds it and
// tries to download it.
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
	if _, err := e.srv.Seed(ctx, cachetest.SeedEntry{Key: key, Version: mountcache.EntryVersion(cache)}, strings.NewReader("never read")); err != nil {
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

// refusedStorage is a port on 127.0.0.1 nothing listens on.
func refusedStorage(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

// resettingStorage accepts connections and resets them (SO_LINGER 0) once a request
// has started to arrive.
func resettingStorage(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 512)
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Read(buf)
				if tc, ok := c.(*net.TCPConn); ok {
					_ = tc.SetLinger(0)
				}
				c.Close()
			}()
		}
	}()
	return "http://" + l.Addr().String()
}
