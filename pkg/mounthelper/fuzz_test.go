package mounthelper

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRequest feeds arbitrary bytes to what a helper build reads from outside: the
// sources file (a BuildKit secret the action writes, from the service's answers), the
// base manifest mount-extract is given, its MAXBYTES argument, and the report line the
// action reads back from the build log. Nothing panics; what is accepted is usable.
//
//	go test ./pkg/mounthelper -run '^$' -fuzz '^FuzzRequest$' -fuzztime 60s
func FuzzRequest(f *testing.F) {
	f.Add([]byte(`[{"key":"k","url":"http://127.0.0.1:1/c?sig=x","azure":true,"rangeable":true,"size":10}]`), "1048576", ReportPrefix+`{"status":"injected","files":1}`)
	f.Add([]byte(`[]`), "0", "no report")
	f.Add([]byte(`null`), "-1", ReportPrefix+`{`)
	f.Add([]byte(`{"entries":[{"path":"a","type":"f","size":-1}],"digest":"x"}`), "9223372036854775808", ReportPrefix+"\x00")
	f.Fuzz(func(t *testing.T, data []byte, maxBytes, log string) {
		dir := t.TempDir()
		p := filepath.Join(dir, "in.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if srcs, err := readSources(p); err == nil && len(srcs) == 0 {
			t.Fatal("no sources accepted")
		}
		_, _ = readManifest(p)
		_, _ = ParseReport(log)

		mount := filepath.Join(dir, "mount")
		if err := os.Mkdir(mount, 0o755); err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		code, handled := RunHelper(context.Background(), []string{ExtractCommand, mount, filepath.Join(dir, "out"), "-", maxBytes, p}, io.Discard, &stderr)
		if !handled {
			t.Fatal("mount-extract not handled")
		}
		if code != 0 && stderr.Len() == 0 {
			t.Fatalf("exit %d without a message", code)
		}
	})
}
