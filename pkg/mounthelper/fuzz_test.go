package mounthelper

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRequest feeds arbitrary bytes to what a helper build reads from outside: its
// request (written by the action, beside the binary) and the sources file (a BuildKit
// secret, from the service's answers). Nothing panics; what is accepted is usable: a
// request passes its own validation again, and an accepted extract request, run on a
// sandboxed mount, gives a result the action accepts.
//
//	go test ./pkg/mounthelper -run '^$' -fuzz '^FuzzRequest$' -fuzztime 60s
func FuzzRequest(f *testing.F) {
	f.Add([]byte(`{"op":"mount-inject","mountDir":"/root/.cache/pip","outDir":"/out","source":"socket","archive":"/.wbsock"}`))
	f.Add([]byte(`{"op":"mount-inject","mountDir":"/c","outDir":"/out","source":"sources","archive":"/.wbsources","controlSocket":"/.wbctl"}`))
	f.Add([]byte(`{"op":"mount-extract","mountDir":"/c","outDir":"/out","maxBytes":1000,"restoredDigest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","base":{"entries":[{"path":"a","type":"f","size":1}],"files":1,"bytes":1}}`))
	f.Add([]byte(`{"op":"mount-extract","mountDir":"/c","outDir":"/c/out","maxBytes":1}`))
	f.Add([]byte(`[{"key":"k","url":"http://127.0.0.1:1/c?sig=x","azure":true,"rangeable":true,"size":10}]`))
	f.Add([]byte(`{"op":"mount-inject"} {"op":"mount-extract"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "in.json")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if srcs, err := readSources(p); err == nil {
			if len(srcs) == 0 || len(srcs) > maxSources {
				t.Fatalf("%d sources accepted", len(srcs))
			}
			for _, s := range srcs {
				if !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://") {
					t.Fatalf("source URL %q accepted", s.URL)
				}
			}
		}
		for _, op := range []Op{OpInject, OpExtract} {
			req, err := ReadRequest(p, op)
			if err != nil {
				continue
			}
			if err := req.Validate(op); err != nil {
				t.Fatalf("accepted, then not: %v", err)
			}
			again := filepath.Join(dir, string(op)+".json")
			if err := WriteRequest(again, req); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadRequest(again, op); err != nil {
				t.Fatalf("an accepted request, written again, is refused: %v", err)
			}
			if op != OpExtract {
				continue // its paths are the host's: sockets and files not to touch
			}
			mount := filepath.Join(dir, "mount")
			writeTree(t, mount, map[string]int{"a": 1, "b/c": 2})
			req.MountDir, req.OutDir = mount, filepath.Join(dir, "out")
			res, err := runRequest(context.Background(), req)
			if err != nil {
				continue
			}
			if err := res.Validate(op); err != nil {
				t.Fatalf("the helper's own result is refused: %v (%+v)", err, res.Extract)
			}
		}
	})
}

// FuzzResult feeds arbitrary bytes to what the action reads back from a helper build,
// which ran with the user's cache content. What is accepted has exactly the answer the
// action dereferences, and reasons fit one log line.
//
//	go test ./pkg/mounthelper -run '^$' -fuzz '^FuzzResult$' -fuzztime 60s
func FuzzResult(f *testing.F) {
	const digest = `"sha256:0000000000000000000000000000000000000000000000000000000000000000"`
	f.Add([]byte(`{"op":"mount-inject","inject":{"status":"injected","pathsDigest":` + digest + `,"files":1,"bytes":2}}`))
	f.Add([]byte(`{"op":"mount-inject","inject":{"status":"unreachable","files":0,"bytes":0,"reason":"dial tcp: refused"}}`))
	f.Add([]byte(`{"op":"mount-inject","refused":"corrupt archive: zstd: truncated; the cache mount was left empty"}`))
	f.Add([]byte(`{"op":"mount-inject","inject":{"status":"injected","pathsDigest":` + digest + `,"files":1,"bytes":1},"base":{"entries":[{"path":"a","type":"f","size":1}],"files":1,"bytes":1}}`))
	f.Add([]byte(`{"op":"mount-extract","extract":{"status":"delta","pathsDigest":` + digest + `,"files":2,"bytes":3,"archiveBytes":90,"deltaFiles":1,"deltaBytes":1}}`))
	f.Add([]byte(`{"op":"mount-extract","extract":{"status":"empty","pathsDigest":"","files":0,"bytes":0}}`))
	f.Add([]byte(`{"op":"mount-inject","refused":"a\nb"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(t.TempDir(), ResultName)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, op := range []Op{OpInject, OpExtract} {
			r, err := ReadResult(p, op)
			if err != nil {
				continue
			}
			switch {
			case r.Op != op:
				t.Fatalf("op %q accepted as %s", r.Op, op)
			case op == OpExtract && r.Extract == nil:
				t.Fatal("an extract result without its answer")
			case op == OpInject && (r.Inject == nil) == (r.Refused == ""):
				t.Fatalf("an inject result with report %v and refusal %q", r.Inject != nil, r.Refused)
			case len(r.Refused) > maxReasonBytes || strings.ContainsAny(r.Refused, "\r\n"):
				t.Fatalf("refusal %q accepted", r.Refused)
			case r.Inject != nil && (r.Inject.Files < 0 || r.Inject.Bytes < 0 || len(r.Inject.Reason) > maxReasonBytes):
				t.Fatalf("report %+v accepted", r.Inject)
			}
			if err := WriteResult(filepath.Dir(p), r); err != nil {
				t.Fatal(err)
			}
			if _, err := ReadResult(p, op); err != nil {
				t.Fatalf("an accepted result, written again, is refused: %v", err)
			}
		}
	})
}
