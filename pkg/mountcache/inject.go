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
	"path"
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
	for _, m := range c.Mounts {
		if p := m.CarryProblem(); p != "" {
			return false, p
		}
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

// helperDockerfile is the throwaway build: scratch, the binary and its request
// bind-mounted at /.wb, the user's cache mount, and the helper command in exec form
// (scratch has no shell). WARMBUILD_NONCE changes the RUN's cache key so the daemon never
// skips it as cached; no-cache is not used because it would also re-run the mount's
// permission op and give the cache mount a different base, i.e. a different directory.
func helperDockerfile(c Cache, run helperRun) string {
	cmd, _ := json.Marshal([]string{"/.wb/warmbuild", string(run.req.Op), "/.wb/" + mounthelper.RequestName})
	mounts := "--mount=type=bind,from=wbin,target=/.wb "
	for _, f := range run.sockets {
		mounts += "--mount=type=ssh,id=" + f.id + ",target=" + f.target + " "
	}
	if run.sources != nil {
		mounts += "--mount=type=secret,id=" + sourcesSecretID + ",target=" + sourcesSecretPath + " "
	}
	env := ""
	if run.certs {
		// scratch has no CA certificates; Go reads this file instead.
		env = "ENV SSL_CERT_FILE=/.wb/" + certsFileName + "\n"
	}
	return "FROM scratch\nARG WARMBUILD_NONCE\n" + env + "RUN " + mounts + mountFlag(c) + " " + string(cmd) + "\n"
}

// helperRun is one helper build: its request, and what else its RUN is given.
type helperRun struct {
	req     mounthelper.Request // MountDir and OutDir are filled in by run
	sockets []forward           // unix sockets of this process, forwarded into the RUN
	sources []byte              // JSON of the sources, handed over as a secret
	certs   bool                // CA certificates staged next to the binary (set by run)
}

// forward is a unix socket of this process that the session forwards into the RUN at
// target (an ssh mount in raw mode).
type forward struct{ id, path, target string }

// The sources secret: its id and where the helper finds it in the RUN.
const (
	sourcesSecretID   = "warmbuild-sources"
	sourcesSecretPath = "/.wbsources"
	certsFileName     = "ca-certificates.crt"
)

// helperOutDir is where the helper writes in the RUN's root filesystem, which is what
// the local exporter exports (the mount points it leaves are empty directories).
const helperOutDir = "/out"

// run is the one way a helper build runs: it stages the binary and the request in the
// build context the RUN mounts at /.wb, solves the helper Dockerfile, exports the RUN's
// /out to outDir ("": a directory of its own, removed after) and returns the helper's
// Result, read and validated there: it was written inside a build that ran with the
// user's cache content. verb names the build in errors.
func (h HelperBuild) run(ctx context.Context, c Cache, buildArgs map[string]string, run helperRun, outDir string) (mounthelper.Result, error) {
	verb := strings.TrimPrefix(string(run.req.Op), "mount-")
	if ok, why := Flaggable(c); !ok {
		return mounthelper.Result{}, errors.New("cannot " + verb + ": " + why)
	}
	work, err := os.MkdirTemp(h.TempDir, "warmbuild-"+verb+"-")
	if err != nil {
		return mounthelper.Result{}, err
	}
	defer os.RemoveAll(work)
	wbin := filepath.Join(work, "wbin")
	if err := h.stageBinary(wbin); err != nil {
		return mounthelper.Result{}, err
	}
	if run.sources != nil {
		run.certs = stageCerts(wbin)
	}
	run.req.MountDir, run.req.OutDir = path.Clean(c.Mounts[0].Path), helperOutDir
	if err := mounthelper.WriteRequest(filepath.Join(wbin, mounthelper.RequestName), run.req); err != nil {
		return mounthelper.Result{}, fmt.Errorf("%s %s: write the request: %w", verb, c.CacheID, err)
	}
	if outDir == "" {
		outDir = filepath.Join(work, "out")
	}
	var attach []session.Attachable
	if len(run.sockets) > 0 {
		var cfgs []sshprovider.AgentConfig
		for _, f := range run.sockets {
			cfgs = append(cfgs, sshprovider.AgentConfig{ID: f.id, Paths: []string{f.path}, Raw: true})
		}
		ssh, err := sshprovider.NewSSHAgentProvider(cfgs)
		if err != nil {
			return mounthelper.Result{}, fmt.Errorf("%s %s: forward the sockets: %w", verb, c.CacheID, err)
		}
		attach = append(attach, ssh)
	}
	exports := []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: outDir}}
	if _, err := h.solve(ctx, work, c, buildArgs, run, exports, attach); err != nil {
		return mounthelper.Result{}, fmt.Errorf("%s %s: %w", verb, c.CacheID, err)
	}
	res, err := mounthelper.ReadResult(filepath.Join(outDir, strings.TrimPrefix(helperOutDir, "/"), mounthelper.ResultName), run.req.Op)
	if err != nil {
		return mounthelper.Result{}, fmt.Errorf("%s %s: %w", verb, c.CacheID, err)
	}
	return res, nil
}

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
// the daemon keeps, and the small request, so later helper builds transfer next to
// nothing.
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
	feed, err := serveStream(ctx, r)
	if err != nil {
		return InjectResult{}, fmt.Errorf("inject %s: %w", c.CacheID, err)
	}
	defer feed.close()
	res, _, err := h.inject(ctx, c, buildArgs, helperRun{
		req:     mounthelper.Request{Source: mounthelper.SourceSocket, Archive: archiveSocketPath},
		sockets: []forward{{id: archiveSocketID, path: feed.sock.path, target: archiveSocketPath}},
	})
	if err != nil {
		return res, err
	}
	if res.Report.Status != mounthelper.InjectKept {
		if err := feed.wait(ctx); err != nil {
			return InjectResult{}, fmt.Errorf("inject %s: sending the archive: %w", c.CacheID, err)
		}
	}
	return res, nil
}

// inject runs mount-inject with run's source and tells its result as InjectResult: a
// refusal is Refused with the helper's reason in the error; a storage the build cannot
// reach is ErrUnreachable. base is the listed manifest of the first archive (sources
// mode), or nil.
func (h HelperBuild) inject(ctx context.Context, c Cache, buildArgs map[string]string, run helperRun) (InjectResult, *archive.Manifest, error) {
	run.req.Op = mounthelper.OpInject
	res, err := h.run(ctx, c, buildArgs, run, "")
	if err != nil {
		return InjectResult{}, nil, err
	}
	return injectOutcome(res)
}

// injectOutcome tells a validated mount-inject result as InjectResult.
func injectOutcome(res mounthelper.Result) (InjectResult, *archive.Manifest, error) {
	if res.Refused != "" {
		return InjectResult{Refused: true}, nil, fmt.Errorf("the restored archive was refused: %s", res.Refused)
	}
	rep := *res.Inject
	if rep.Status == mounthelper.InjectUnreachable {
		return InjectResult{Report: rep}, nil, fmt.Errorf("%w: %s", ErrUnreachable, rep.Reason)
	}
	return InjectResult{Report: rep}, res.Base, nil
}

// The forwarded sockets: their session ids and where the helper finds them in the RUN.
const (
	archiveSocketID   = "warmbuild-archive"
	archiveSocketPath = "/.wbsock"
	// controlSocketID forwards the control socket: fresh signed URLs.
	controlSocketID   = "warmbuild-control"
	controlSocketPath = "/.wbctl"
)

// unixSocket is a listener on a short path of its own: unix socket paths are limited to
// about 100 bytes, and RUNNER_TEMP can be long.
type unixSocket struct {
	net.Listener
	path string
	dir  string
}

func listenUnix() (*unixSocket, error) {
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
	return &unixSocket{Listener: ln, path: p, dir: dir}, nil
}

// Close stops listening and removes the socket.
func (s *unixSocket) Close() error {
	err := s.Listener.Close()
	os.RemoveAll(s.dir)
	return err
}

// streamFeed serves one stream to the first connection on a unix socket.
type streamFeed struct {
	sock *unixSocket
	done chan error

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
	sock, err := listenUnix()
	if err != nil {
		return nil, err
	}
	f := &streamFeed{sock: sock, done: make(chan error, 1)}
	go func() {
		conn, err := sock.Accept()
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
	f.sock.Close()
	f.mu.Lock()
	if f.conn != nil {
		f.conn.Close()
	}
	f.mu.Unlock()
}

// Extract reads the cache directory of c back: the helper prunes it to maxBytes and,
// when its manifest differs from restoredDigest, archives it. The result (and the archive,
// when written) land in outDir through the local exporter, which streams files to the
// client.
//
// With base (the manifest of the restored entry's base archive), the archive holds only
// what changed since, when that pays (mounthelper.ExtractDelta).
func (h HelperBuild) Extract(ctx context.Context, c Cache, restoredDigest string, base *archive.Manifest, maxBytes int64, buildArgs map[string]string, outDir string) (mounthelper.ExtractResult, error) {
	req := mounthelper.Request{Op: mounthelper.OpExtract, RestoredDigest: restoredDigest, MaxBytes: maxBytes, Base: base}
	res, err := h.run(ctx, c, buildArgs, helperRun{req: req}, outDir)
	if err != nil {
		return mounthelper.ExtractResult{}, err
	}
	return *res.Extract, nil
}

// ExtractedArchive is where Extract leaves the archive inside outDir.
func ExtractedArchive(outDir string) string {
	return filepath.Join(outDir, strings.TrimPrefix(helperOutDir, "/"), mounthelper.ExtractArchiveName)
}

func (h HelperBuild) solve(ctx context.Context, work string, c Cache, buildArgs map[string]string, run helperRun, exports []client.ExportEntry, attach []session.Attachable) (*builder.Result, error) {
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
		Exports:       exports,
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
	return builder.Solve(ctx, h.Client, req, builder.WithProgress(progress), builder.WithSession(attach...))
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
	if err := out.Close(); err != nil {
		return err
	}
	// The source's modification time: BuildKit keeps a named context's files by the
	// context's name and sends a later build only files whose size or time changed, so
	// every helper build after the first sends none of the binary's 26 MB. (A copy is
	// the usual case on a runner: the action's binary is in its image, RUNNER_TEMP on
	// the host's disk.)
	info, err := in.Stat()
	if err != nil {
		return err
	}
	return os.Chtimes(dst, info.ModTime(), info.ModTime())
}

// Warm sends the helper's binary to BuildKit ahead of the first helper build that needs
// it, in a build of its own that only copies it; by the same rule, that helper build
// then sends none of it. The engine warms while its lookups wait on the cache service
// (0.3 s of the injection's start under the bench's far profile was this transfer).
// wait returns when the warm build ended; a failed or cancelled one only means the next
// helper build sends the binary itself.
func (h HelperBuild) Warm(ctx context.Context) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		work, err := os.MkdirTemp(h.TempDir, "warmbuild-warm-")
		if err != nil {
			return
		}
		defer os.RemoveAll(work)
		ctxDir, wbin := filepath.Join(work, "ctx"), filepath.Join(work, "wbin")
		if err := h.stageBinary(wbin); err != nil || os.MkdirAll(ctxDir, 0o755) != nil {
			return
		}
		dockerfile := filepath.Join(ctxDir, "Dockerfile")
		if err := os.WriteFile(dockerfile, []byte("FROM scratch\nCOPY --from=wbin warmbuild /warmbuild\n"), 0o644); err != nil {
			return
		}
		req := builder.Request{ContextDir: ctxDir, Dockerfile: dockerfile, BuildContexts: map[string]string{"wbin": wbin}}
		if h.Platform != "" {
			req.Platforms = []string{h.Platform}
		}
		_, _ = builder.Solve(ctx, h.Client, req)
	}()
	return func() { <-done }
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
// the RUN (Request.ControlSocket), and fresh gets it from the service.
func (h HelperBuild) InjectSources(ctx context.Context, c Cache, srcs []cacheservice.Source, fresh func(ctx context.Context, i int) (string, error), buildArgs map[string]string) (InjectResult, *archive.Manifest, error) {
	sources, err := json.Marshal(srcs)
	if err != nil {
		return InjectResult{}, nil, err
	}
	run := helperRun{
		req:     mounthelper.Request{Source: mounthelper.SourceSources, Archive: sourcesSecretPath},
		sources: sources,
	}
	if fresh != nil {
		ctl, err := serveControl(ctx, len(srcs), fresh)
		if err != nil {
			return InjectResult{}, nil, fmt.Errorf("inject %s: %w", c.CacheID, err)
		}
		defer ctl.close()
		run.req.ControlSocket = controlSocketPath
		run.sockets = []forward{{id: controlSocketID, path: ctl.sock.path, target: controlSocketPath}}
	}
	return h.inject(ctx, c, buildArgs, run)
}

// controlServer answers the helper's requests for fresh URLs on a unix socket, which
// the session forwards into the RUN (each connection of the helper is one here).
type controlServer struct {
	sock   *unixSocket
	cancel context.CancelFunc
}

func serveControl(ctx context.Context, n int, fresh func(ctx context.Context, i int) (string, error)) (*controlServer, error) {
	sock, err := listenUnix()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		for {
			conn, err := sock.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = mounthelper.ServeRefresh(ctx, conn, n, fresh)
			}()
		}
	}()
	return &controlServer{sock: sock, cancel: cancel}, nil
}

func (s *controlServer) close() {
	s.cancel()
	s.sock.Close()
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
