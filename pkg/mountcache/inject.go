package mountcache

import (
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
)

// HelperBuild says how to run the throwaway builds that fill and read a cache mount. They
// go through the daemon's own dockerfile.v0 frontend with the user's mount flags, because
// BuildKit finds a cache directory by its LLB id and, for mounts with uid, gid or mode, by
// the exact "[internal] setting cache mount permissions" op the frontend generates for
// the build's platform (see docs in /work/shared/reference/buildkit-cache-mounts.md).
// Only a Dockerfile solved by the same frontend for the same platform reproduces both.
type HelperBuild struct {
	Client *client.Client
	// Binary is this program, statically linked: it runs inside the build on scratch.
	Binary string
	// Platform is the build's first platform; empty uses the daemon's default, as the
	// user's build does when it sets no platform.
	Platform string
	// TempDir holds the throwaway build contexts (RUNNER_TEMP on a runner).
	TempDir  string
	Progress io.Writer // BuildKit's plain progress of the helper builds; nil: discarded
}

// Flaggable says whether a cache can be reproduced in a helper build, and why not.
// Mounts seeded from another stage or image (from=) have a base the helper build cannot
// reproduce without building that stage; values with characters the Dockerfile would
// expand or split cannot be written back safely.
func Flaggable(c Cache) (ok bool, why string) {
	if c.From != "" {
		return false, fmt.Sprintf("it is seeded from %q (from=): its BuildKit directory depends on that stage, which a helper build cannot reproduce", c.From)
	}
	m := c.Mounts[0]
	for _, v := range []string{m.ID, m.Path, namespaceOf(m)} {
		if strings.ContainsAny(v, " \t\r\n\\$\"'`") {
			return false, fmt.Sprintf("its id or target %q contains characters warmbuild cannot pass through a Dockerfile", v)
		}
	}
	return true, ""
}

// namespaceOf is the BUILDKIT_CACHE_MOUNT_NS value that made m's CacheID.
func namespaceOf(m Mount) string {
	return strings.TrimSuffix(m.CacheID, "/"+m.ID)
}

// mountFlag writes the cache mount as the user's Dockerfile declares it, as one CSV
// record so ids with commas stay intact.
func mountFlag(c Cache) string {
	m := c.Mounts[0]
	fields := []string{"type=cache", "id=" + m.ID, "target=" + m.Path, "sharing=" + m.Sharing}
	if c.UID != nil {
		fields = append(fields, "uid="+strconv.FormatUint(*c.UID, 10))
	}
	if c.GID != nil {
		fields = append(fields, "gid="+strconv.FormatUint(*c.GID, 10))
	}
	if c.Mode != nil {
		fields = append(fields, "mode="+c.Mode.String())
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(fields)
	w.Flush()
	return "--mount=" + strings.TrimSpace(b.String())
}

// helperDockerfile is the throwaway build: scratch, the binary bind-mounted at /.wb,
// the user's cache mount, and the helper command in exec form (scratch has no shell).
// WARMBUILD_NONCE changes the RUN's cache key so the daemon never skips it as cached;
// no-cache is not used because it would also re-run the mount's permission op and give
// the cache mount a different base, i.e. a different directory.
func helperDockerfile(c Cache, run helperRun) string {
	cmd, _ := json.Marshal(append([]string{"/.wb/warmbuild"}, run.args...))
	mounts := "--mount=type=bind,from=wbin,target=/.wb "
	if len(run.attach) > 0 {
		mounts += "--mount=type=ssh,id=" + archiveSocketID + ",target=" + archiveSocketPath + " "
	}
	if run.sources != nil {
		mounts += "--mount=type=secret,id=" + sourcesSecretID + ",target=" + sourcesSecretPath + " "
	}
	if run.control {
		mounts += "--mount=type=ssh,id=" + controlSocketID + ",target=" + mounthelper.ControlSocketPath + " "
	}
	env := ""
	if run.certs {
		// scratch has no CA certificates; Go reads this file instead.
		env = "ENV SSL_CERT_FILE=/.wb/" + certsFileName + "\n"
	}
	return "FROM scratch\nARG WARMBUILD_NONCE\n" + env + "RUN " + mounts + mountFlag(c) + " " + string(cmd) + "\n"
}

// helperRun is one helper build: its command, how the archive reaches it, and where
// its files go.
type helperRun struct {
	args    []string
	exports []client.ExportEntry
	attach  []session.Attachable // the archive socket
	sources []byte               // JSON of the sources, handed over as a secret
	certs   bool                 // CA certificates staged next to the binary
	control bool                 // the control socket (fresh URLs) is in attach
}

// The sources secret: its id and where the helper finds it in the RUN.
const (
	sourcesSecretID   = "warmbuild-sources"
	sourcesSecretPath = "/.wbsources"
	certsFileName     = "ca-certificates.crt"
)

// InjectResult is what an injection did.
type InjectResult struct {
	Report mounthelper.InjectReport
	// Refused is true when the helper ran and refused the archive (corrupt, unsafe, too
	// large); the mount was left empty.
	Refused bool
}

// Inject unpacks archivePath into the BuildKit cache directory of c, in one throwaway
// build. The archive is streamed to the helper through a socket the session forwards
// into the RUN (an ssh mount in raw mode) and unpacked as it arrives: nothing is
// written to the daemon's disk but the cache itself, and BuildKit does not hash the
// archive as it would a build context. The named context holds only the binary, which
// the daemon keeps, so later helper builds transfer next to nothing.
func (h HelperBuild) Inject(ctx context.Context, c Cache, archivePath string, buildArgs map[string]string) (InjectResult, error) {
	f, err := os.Open(archivePath)
	if err != nil {
		return InjectResult{}, err
	}
	defer f.Close()
	return h.InjectStream(ctx, c, f, buildArgs)
}

// InjectStream is Inject reading the archive from r (a file, or a download as it
// arrives). A stream that breaks off is refused by the helper like a corrupt archive.
func (h HelperBuild) InjectStream(ctx context.Context, c Cache, r io.Reader, buildArgs map[string]string) (InjectResult, error) {
	if ok, why := Flaggable(c); !ok {
		return InjectResult{}, errors.New("cannot inject: " + why)
	}
	work, err := os.MkdirTemp(h.TempDir, "warmbuild-inject-")
	if err != nil {
		return InjectResult{}, err
	}
	defer os.RemoveAll(work)
	if err := h.stageBinary(filepath.Join(work, "wbin")); err != nil {
		return InjectResult{}, err
	}
	feed, err := serveStream(ctx, r)
	if err != nil {
		return InjectResult{}, fmt.Errorf("inject %s: %w", c.CacheID, err)
	}
	defer feed.close()
	ssh, err := sshprovider.NewSSHAgentProvider([]sshprovider.AgentConfig{{ID: archiveSocketID, Paths: []string{feed.path}, Raw: true}})
	if err != nil {
		return InjectResult{}, fmt.Errorf("inject %s: forward the archive socket: %w", c.CacheID, err)
	}
	res, err := h.solve(ctx, work, c, buildArgs, helperRun{attach: []session.Attachable{ssh}, args: []string{mounthelper.InjectCommand, "unix://" + archiveSocketPath, c.Mounts[0].Path}})
	var be *builder.BuildError
	if errors.As(err, &be) && res != nil && strings.Contains(res.Logs(func(string) bool { return true }), "warmbuild "+mounthelper.InjectCommand+":") {
		return InjectResult{Refused: true}, fmt.Errorf("the restored archive was refused: %s", helperError(res))
	}
	if err != nil {
		return InjectResult{}, fmt.Errorf("inject %s: %w", c.CacheID, err)
	}
	rep, err := mounthelper.ParseReport(res.Logs(func(string) bool { return true }))
	if err != nil {
		return InjectResult{}, fmt.Errorf("inject %s: %w", c.CacheID, err)
	}
	if rep.Status != mounthelper.InjectKept {
		if err := feed.wait(ctx); err != nil {
			return InjectResult{}, fmt.Errorf("inject %s: sending the archive: %w", c.CacheID, err)
		}
	}
	return InjectResult{Report: rep}, nil
}

// The forwarded socket: its session id and where the helper finds it in the RUN.
const (
	archiveSocketID   = "warmbuild-archive"
	archiveSocketPath = "/.wbsock"
	// controlSocketID forwards mounthelper.ControlSocketPath: fresh signed URLs.
	controlSocketID = "warmbuild-control"
)

// streamFeed serves one stream to the first connection on a unix socket.
type streamFeed struct {
	path string
	ln   net.Listener
	done chan error
	dir  string

	mu   sync.Mutex
	conn net.Conn // the helper's connection, once accepted
}

// sourceOnly marks the errors of reading the stream to send, apart from those of
// sending it.
type sourceOnly struct{ r io.Reader }

func (s sourceOnly) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = sourceError{err}
	}
	return n, err
}

type sourceError struct{ err error }

func (e sourceError) Error() string { return e.err.Error() }
func (e sourceError) Unwrap() error { return e.err }

func serveStream(ctx context.Context, r io.Reader) (*streamFeed, error) {
	// A short path of its own: unix socket paths are limited to about 100 bytes, and
	// RUNNER_TEMP can be long.
	dir, err := os.MkdirTemp("", "warmbuild-sock-")
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", p)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	f := &streamFeed{path: p, ln: ln, done: make(chan error, 1), dir: dir}
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			f.done <- err
			return
		}
		f.mu.Lock()
		f.conn = conn
		f.mu.Unlock()
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		defer stop()
		cw := mounthelper.NewChunkWriter(conn)
		_, err = io.CopyBuffer(cw, sourceOnly{r}, make([]byte, mounthelper.MaxChunk))
		var se sourceError
		switch {
		case errors.As(err, &se):
			// Our side failed (the download broke): tell the helper at once, or it
			// waits on a stream that never moves again. The reason is ours to
			// report; the build's log gets none of it (it could quote a URL).
			_ = cw.Abort("the download of the cache entry failed")
		case err == nil:
			err = cw.Close()
		}
		if cerr := conn.Close(); err == nil {
			err = cerr
		}
		f.done <- err
	}()
	return f, nil
}

// wait returns how sending ended. The helper only finishes after reading the stream to
// its end, which the sender's close marks, so the answer is there or about to be.
func (f *streamFeed) wait(ctx context.Context) error {
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case err := <-f.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("the helper finished without reading the whole archive")
	}
}

// close stops sending: the helper build is over, whatever it read.
func (f *streamFeed) close() {
	f.ln.Close()
	f.mu.Lock()
	if f.conn != nil {
		f.conn.Close()
	}
	f.mu.Unlock()
	os.RemoveAll(f.dir)
}

// Extract reads the cache directory of c back: the helper prunes it to maxBytes and,
// when its manifest differs from restoredDigest, archives it. The result (and the archive,
// when written) land in outDir through the local exporter, which streams files to the
// client.
//
// With base (the manifest of the restored entry's base archive), the archive holds only
// what changed since, when that pays (mounthelper.ExtractDelta).
func (h HelperBuild) Extract(ctx context.Context, c Cache, restoredDigest string, base *archive.Manifest, maxBytes int64, buildArgs map[string]string, outDir string) (mounthelper.ExtractResult, error) {
	if ok, why := Flaggable(c); !ok {
		return mounthelper.ExtractResult{}, errors.New("cannot extract: " + why)
	}
	work, err := os.MkdirTemp(h.TempDir, "warmbuild-extract-")
	if err != nil {
		return mounthelper.ExtractResult{}, err
	}
	defer os.RemoveAll(work)
	if err := h.stageBinary(filepath.Join(work, "wbin")); err != nil {
		return mounthelper.ExtractResult{}, err
	}
	if restoredDigest == "" {
		restoredDigest = "-"
	}
	baseArg := "-"
	if base != nil {
		b, err := json.Marshal(base)
		if err != nil {
			return mounthelper.ExtractResult{}, err
		}
		// Next to the helper binary, which the RUN mounts at /.wb.
		if err := os.WriteFile(filepath.Join(work, "wbin", "base.json"), b, 0o644); err != nil {
			return mounthelper.ExtractResult{}, err
		}
		baseArg = "/.wb/base.json"
	}
	// The helper writes to /out in the RUN's root filesystem, which is what the local
	// exporter exports (the mount points it leaves are empty directories).
	exports := []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: outDir}}
	if _, err := h.solve(ctx, work, c, buildArgs, helperRun{exports: exports, args: []string{mounthelper.ExtractCommand, c.Mounts[0].Path, "/out", restoredDigest, strconv.FormatInt(maxBytes, 10), baseArg}}); err != nil {
		return mounthelper.ExtractResult{}, fmt.Errorf("extract %s: %w", c.CacheID, err)
	}
	b, err := os.ReadFile(filepath.Join(outDir, "out", mounthelper.ExtractResultName))
	if err != nil {
		return mounthelper.ExtractResult{}, fmt.Errorf("extract %s: no result from the helper: %w", c.CacheID, err)
	}
	var res mounthelper.ExtractResult
	if err := json.Unmarshal(b, &res); err != nil {
		return mounthelper.ExtractResult{}, fmt.Errorf("extract %s: helper result: %w", c.CacheID, err)
	}
	return res, nil
}

// ExtractedArchive is where Extract leaves the archive inside outDir.
func ExtractedArchive(outDir string) string {
	return filepath.Join(outDir, "out", mounthelper.ExtractArchiveName)
}

func (h HelperBuild) solve(ctx context.Context, work string, c Cache, buildArgs map[string]string, run helperRun) (*builder.Result, error) {
	ctxDir := filepath.Join(work, "ctx")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return nil, err
	}
	dockerfile := filepath.Join(ctxDir, "Dockerfile")
	if err := os.WriteFile(dockerfile, []byte(helperDockerfile(c, run)), 0o644); err != nil {
		return nil, err
	}
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	req := builder.Request{
		ContextDir:    ctxDir,
		Dockerfile:    dockerfile,
		BuildArgs:     map[string]string{"WARMBUILD_NONCE": hex.EncodeToString(nonce)},
		BuildContexts: map[string]string{"wbin": filepath.Join(work, "wbin")},
		Exports:       run.exports,
	}
	if run.sources != nil {
		req.Secrets = []builder.Secret{{ID: sourcesSecretID, Value: run.sources}}
	}
	if ns := namespaceOf(c.Mounts[0]); ns != "" {
		req.BuildArgs[CacheNamespaceArg] = ns
	}
	// Build arguments the frontend itself reads (BUILDKIT_*) can change how it converts
	// the mount; pass the user's through.
	for k, v := range buildArgs {
		if strings.HasPrefix(k, "BUILDKIT_") && k != "BUILDKIT_SYNTAX" {
			req.BuildArgs[k] = v
		}
	}
	if h.Platform != "" {
		req.Platforms = []string{h.Platform}
	}
	progress := h.Progress
	if progress == nil {
		progress = io.Discard
	}
	return builder.Solve(ctx, h.Client, req, builder.WithProgress(progress), builder.WithSession(run.attach...))
}

// stageBinary puts this program into dir as "warmbuild": a hard link when possible
// (no copy), else a copy. It refuses a dynamically linked binary, which cannot run on
// scratch.
func (h HelperBuild) stageBinary(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := checkStatic(h.Binary); err != nil {
		return err
	}
	if err := linkOrCopy(h.Binary, filepath.Join(dir, "warmbuild")); err != nil {
		return fmt.Errorf("stage the helper binary: %w", err)
	}
	return os.Chmod(filepath.Join(dir, "warmbuild"), 0o755)
}

func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("helper binary %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("helper binary %s is dynamically linked; build it with CGO_ENABLED=0 so it runs inside BuildKit on scratch", path)
		}
	}
	return nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// helperError is the helper's own error line from a failed helper build.
func helperError(res *builder.Result) string {
	for _, line := range strings.Split(res.Logs(func(string) bool { return true }), "\n") {
		if i := strings.Index(line, "warmbuild "+mounthelper.InjectCommand+": "); i >= 0 {
			return strings.TrimSpace(line[i+len("warmbuild "+mounthelper.InjectCommand+": "):])
		}
	}
	return "unknown error"
}

// ErrUnreachable says the helper could not reach the storage from inside the build;
// nothing was written to the mount, and the caller should stream the entry instead.
var ErrUnreachable = errors.New("the cache storage cannot be reached from inside the build")

// InjectSources is Inject with the helper downloading the entry itself, from the signed
// storage URLs of srcs (a full entry, then its delta if any), handed to it as a build
// secret. Inside the build the download goes straight from the storage into the cache
// directory, instead of through this process and the daemon's session. base is the
// manifest of the full entry's archive, listed on the way (nil when it could not be).
// When the storage cannot be reached from the build, the error is ErrUnreachable.
//
// Signed URLs expire (about 10 minutes on github.com): when fresh is not nil, the
// helper can ask for a new URL of source i over a socket the session forwards into
// the RUN (mounthelper.ControlSocketPath), and fresh gets it from the service.
func (h HelperBuild) InjectSources(ctx context.Context, c Cache, srcs []cacheservice.Source, fresh func(ctx context.Context, i int) (string, error), buildArgs map[string]string) (InjectResult, *archive.Manifest, error) {
	if ok, why := Flaggable(c); !ok {
		return InjectResult{}, nil, errors.New("cannot inject: " + why)
	}
	work, err := os.MkdirTemp(h.TempDir, "warmbuild-inject-")
	if err != nil {
		return InjectResult{}, nil, err
	}
	defer os.RemoveAll(work)
	wbin := filepath.Join(work, "wbin")
	if err := h.stageBinary(wbin); err != nil {
		return InjectResult{}, nil, err
	}
	sources, err := json.Marshal(srcs)
	if err != nil {
		return InjectResult{}, nil, err
	}
	outDir := filepath.Join(work, "out")
	run := helperRun{
		args:    []string{mounthelper.InjectCommand, mounthelper.SourcesPrefix + sourcesSecretPath, c.Mounts[0].Path, "/out"},
		sources: sources,
		certs:   stageCerts(wbin),
		exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: outDir}},
	}
	if fresh != nil {
		ctl, err := serveControl(ctx, len(srcs), fresh)
		if err != nil {
			return InjectResult{}, nil, fmt.Errorf("inject %s: %w", c.CacheID, err)
		}
		defer ctl.close()
		ssh, err := sshprovider.NewSSHAgentProvider([]sshprovider.AgentConfig{{ID: controlSocketID, Paths: []string{ctl.path}, Raw: true}})
		if err != nil {
			return InjectResult{}, nil, fmt.Errorf("inject %s: forward the control socket: %w", c.CacheID, err)
		}
		run.attach, run.control = []session.Attachable{ssh}, true
	}
	res, err := h.solve(ctx, work, c, buildArgs, run)
	var be *builder.BuildError
	if errors.As(err, &be) && res != nil && strings.Contains(res.Logs(func(string) bool { return true }), "warmbuild "+mounthelper.InjectCommand+":") {
		return InjectResult{Refused: true}, nil, fmt.Errorf("the restored archive was refused: %s", helperError(res))
	}
	if err != nil {
		return InjectResult{}, nil, fmt.Errorf("inject %s: %w", c.CacheID, err)
	}
	rep, err := mounthelper.ParseReport(res.Logs(func(string) bool { return true }))
	if err != nil {
		return InjectResult{}, nil, fmt.Errorf("inject %s: %w", c.CacheID, err)
	}
	if rep.Status == mounthelper.InjectUnreachable {
		return InjectResult{Report: rep}, nil, fmt.Errorf("%w: %s", ErrUnreachable, rep.Reason)
	}
	var base *archive.Manifest
	if b, err := os.ReadFile(filepath.Join(outDir, "out", mounthelper.BaseManifestName)); err == nil {
		var m archive.Manifest
		if json.Unmarshal(b, &m) == nil {
			base = &m
		}
	}
	return InjectResult{Report: rep}, base, nil
}

// controlServer answers the helper's requests for fresh URLs on a unix socket, which
// the session forwards into the RUN (each connection of the helper is one here).
type controlServer struct {
	path   string
	dir    string
	ln     net.Listener
	cancel context.CancelFunc
}

func serveControl(ctx context.Context, n int, fresh func(ctx context.Context, i int) (string, error)) (*controlServer, error) {
	dir, err := os.MkdirTemp("", "warmbuild-ctl-") // short: unix socket paths are limited
	if err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "s")
	ln, err := net.Listen("unix", p)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = mounthelper.ServeRefresh(ctx, conn, n, fresh)
			}()
		}
	}()
	return &controlServer{path: p, dir: dir, ln: ln, cancel: cancel}, nil
}

func (s *controlServer) close() {
	s.cancel()
	s.ln.Close()
	os.RemoveAll(s.dir)
}

// stageCerts copies this machine's CA certificates next to the helper binary, for the
// helper's HTTPS downloads on scratch; false when there are none to copy (the helper's
// download then fails its reachability check and the caller streams instead).
func stageCerts(dir string) bool {
	candidates := []string{os.Getenv("SSL_CERT_FILE"), "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem", "/etc/ssl/ca-bundle.pem"}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			continue
		}
		return os.WriteFile(filepath.Join(dir, certsFileName), b, 0o644) == nil
	}
	return false
}
