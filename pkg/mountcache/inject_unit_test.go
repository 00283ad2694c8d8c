package mountcache

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
)

// The helper builds without a daemon: what their Dockerfile asks of BuildKit, and how a
// helper's result becomes the InjectResult the engine acts on.

func pipCache(t *testing.T) Cache {
	t.Helper()
	mounts, err := Discover([]byte("FROM python:3.11-slim\nRUN --mount=type=cache,target=/root/.cache/pip pip install x\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Caches(mounts)[0]
}

// The RUN gets the subcommand and its request's path and nothing else on its command
// line; the archive socket, the sources secret and the control socket only when the
// request needs them.
func TestTheHelperRunIsTheSubcommandOnItsRequest(t *testing.T) {
	c := pipCache(t)
	for _, tc := range []struct {
		name      string
		run       helperRun
		want, not []string
	}{
		{"extract", helperRun{req: mounthelper.Request{Op: mounthelper.OpExtract}},
			[]string{`["/.wb/warmbuild","mount-extract","/.wb/request.json"]`, "--mount=type=bind,from=wbin,target=/.wb ", "target=/root/.cache/pip"},
			[]string{"type=ssh", "type=secret", "SSL_CERT_FILE"}},
		{"streamed inject", helperRun{req: mounthelper.Request{Op: mounthelper.OpInject}, sockets: []forward{{id: archiveSocketID, path: "/tmp/s", target: archiveSocketPath}}},
			[]string{`["/.wb/warmbuild","mount-inject","/.wb/request.json"]`, "--mount=type=ssh,id=warmbuild-archive,target=/.wbsock "},
			[]string{"type=secret", "/tmp/s"}},
		{"downloading inject", helperRun{req: mounthelper.Request{Op: mounthelper.OpInject}, sources: []byte("[]"), certs: true, sockets: []forward{{id: controlSocketID, path: "/tmp/c", target: controlSocketPath}}},
			[]string{"--mount=type=secret,id=warmbuild-sources,target=/.wbsources ", "--mount=type=ssh,id=warmbuild-control,target=/.wbctl ", "ENV SSL_CERT_FILE=/.wb/ca-certificates.crt"},
			[]string{"warmbuild-archive", "[]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			df := helperDockerfile(c, tc.run)
			for _, w := range tc.want {
				if !strings.Contains(df, w) {
					t.Errorf("Dockerfile lacks %q:\n%s", w, df)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(df, n) {
					t.Errorf("Dockerfile has %q:\n%s", n, df)
				}
			}
		})
	}
}

// A refusal keeps its contract: Refused, the mount empty, and an error that quotes the
// helper's own reason (cache-warnings say "corrupt archive" or "unsafe archive" from it).
// A storage the build cannot reach is ErrUnreachable; a report and a base pass through.
func TestAHelperResultBecomesTheInjectResult(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	base := &archive.Manifest{Files: 1, Bytes: 3, Entries: []archive.Entry{{Path: "a", Type: archive.TypeFile, Size: 3}}}

	res, m, err := injectOutcome(mounthelper.Result{Op: mounthelper.OpInject, Refused: "corrupt archive: zstd: unexpected EOF; the cache mount was left empty"})
	if !res.Refused || m != nil || err == nil || err.Error() != "the restored archive was refused: corrupt archive: zstd: unexpected EOF; the cache mount was left empty" {
		t.Errorf("refusal: %+v, %v, %v", res, m, err)
	}
	if errors.Is(err, ErrUnreachable) {
		t.Error("a refusal is not an unreachable storage")
	}

	res, _, err = injectOutcome(mounthelper.Result{Op: mounthelper.OpInject, Inject: &mounthelper.InjectReport{Status: mounthelper.InjectUnreachable, Reason: "dial tcp 10.0.0.1:443: i/o timeout"}})
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "i/o timeout") || res.Refused {
		t.Errorf("unreachable: %+v, %v", res, err)
	}

	rep := mounthelper.InjectReport{Status: mounthelper.InjectInjected, PathsDigest: digest, Files: 1, Bytes: 3, StreamBytes: 90}
	res, m, err = injectOutcome(mounthelper.Result{Op: mounthelper.OpInject, Inject: &rep, Base: base})
	if err != nil || res.Refused || res.Report != rep || m != base {
		t.Errorf("injected: %+v, %v, %v", res, m, err)
	}
}

// The request the action writes is one the helper accepts, for each kind of build.
func TestTheActionsRequestsAreOnesTheHelperAccepts(t *testing.T) {
	c := pipCache(t)
	base := &archive.Manifest{Files: 1, Bytes: 3, Entries: []archive.Entry{{Path: "a", Type: archive.TypeFile, Size: 3}}}
	for _, req := range []mounthelper.Request{
		{Op: mounthelper.OpInject, Source: mounthelper.SourceSocket, Archive: archiveSocketPath},
		{Op: mounthelper.OpInject, Source: mounthelper.SourceSources, Archive: sourcesSecretPath, ControlSocket: controlSocketPath},
		{Op: mounthelper.OpExtract, MaxBytes: 1 << 30, Base: base},
	} {
		req.MountDir, req.OutDir = c.Mounts[0].Path, helperOutDir
		b, err := json.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		p := t.TempDir() + "/" + mounthelper.RequestName
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := mounthelper.ReadRequest(p, req.Op); err != nil {
			t.Errorf("%s request refused: %v", req.Op, err)
		}
	}
}

// The sockets forwarded into helper builds listen on a short path of their own (unix
// socket paths are limited to about 100 bytes) that is gone once closed.
func TestAForwardedSocketHasAShortPathRemovedOnClose(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	s, err := listenUnix()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.path) > 100 {
		t.Errorf("socket path of %d bytes: %s", len(s.path), s.path)
	}
	if fi, err := os.Stat(s.path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("no socket at %s: %v", s.path, err)
	}
	s.Close()
	if _, err := os.Stat(s.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("socket directory left behind: %v", err)
	}
}
