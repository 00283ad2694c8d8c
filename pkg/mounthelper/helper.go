// Package mounthelper is the program that runs inside BuildKit, on scratch, to fill and
// read a cache mount (mount-inject, mount-extract): the action's own binary, started
// with one of these subcommands. It imports nothing of BuildKit, only the archive format
// and the cache service's download; pkg/mountcache is the action's side of the same
// helper builds.
package mounthelper

import (
	"bufio"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// A throwaway build on scratch bind-mounts the helper next to the cache mount, so no
// utility image has to be pulled. These are its subcommands; each takes one argument,
// the path of its Request (see protocol.go).
const (
	InjectCommand  = "mount-inject"  // mount-inject REQUEST
	ExtractCommand = "mount-extract" // mount-extract REQUEST
)

// ExtractArchiveName is the archive mount-extract writes to the request's OutDir.
const ExtractArchiveName = "cache.tar.zst"

// ExtractStatus says what mount-extract found.
type ExtractStatus string

const (
	ExtractArchived  ExtractStatus = "archived"  // the mount changed: OUTDIR holds the archive
	ExtractUnchanged ExtractStatus = "unchanged" // same manifest as restored: no archive written
	ExtractEmpty     ExtractStatus = "empty"     // nothing in the mount worth saving
	// ExtractDelta: OUTDIR holds an archive of what changed since the base manifest, to
	// be extracted after the base entry's archive.
	ExtractDelta ExtractStatus = "delta"
)

// A delta is written instead of a full archive only when the base is still all there
// (nothing removed) and the changes are at most this fraction of the tree's bytes;
// otherwise a full archive is cheaper for later runs to restore.
const maxDeltaShare = 0.5

// ExtractResult is what mount-extract did (Result.Extract).
type ExtractResult struct {
	Status       ExtractStatus `json:"status"`
	PathsDigest  string        `json:"pathsDigest"` // see PathsDigest
	Files        int64         `json:"files"`
	Bytes        int64         `json:"bytes"` // uncompressed file bytes after pruning
	ArchiveBytes int64         `json:"archiveBytes,omitempty"`
	PrunedFiles  int64         `json:"prunedFiles,omitempty"`
	PrunedBytes  int64         `json:"prunedBytes,omitempty"`
	// DeltaFiles and DeltaBytes are the files and bytes a delta archive carries.
	DeltaFiles int64 `json:"deltaFiles,omitempty"`
	DeltaBytes int64 `json:"deltaBytes,omitempty"`
}

// InjectStatus says what mount-inject did with the mount.
type InjectStatus string

const (
	InjectInjected InjectStatus = "injected" // the entry was unpacked into the mount
	InjectKept     InjectStatus = "kept"     // the mount already held files: kept, nothing unpacked
	// InjectUnreachable: the storage cannot be reached from the RUN; nothing was written.
	InjectUnreachable InjectStatus = "unreachable"
)

// InjectReport is what mount-inject did with the mount (Result.Inject).
type InjectReport struct {
	Status InjectStatus `json:"status"`

	PathsDigest string `json:"pathsDigest,omitempty"` // see PathsDigest
	Files       int64  `json:"files"`
	Bytes       int64  `json:"bytes"`
	// StreamBytes is what the helper downloaded itself (sources mode).
	StreamBytes int64 `json:"streamBytes,omitempty"`
	// Reason says why the storage was unreachable.
	Reason string `json:"reason,omitempty"`
}

// RunHelper runs a helper subcommand when args (os.Args[1:]) name one, and returns its
// exit code; handled is false when args are not a helper invocation, so the action runs.
//
// Its output is BuildKit progress, printed in the job's log: one line for people, never
// read back (the Result is). A request it cannot read is exit 2; a failure exit 1; an
// archive mount-inject refuses is exit 0 with Result.Refused, so the build exports it.
func RunHelper(ctx context.Context, args []string, stdout, stderr io.Writer) (code int, handled bool) {
	if len(args) == 0 || (args[0] != InjectCommand && args[0] != ExtractCommand) {
		return 0, false
	}
	op := Op(args[0])
	if len(args) != 2 {
		fmt.Fprintf(stderr, "usage: %s REQUEST\n", op)
		return 2, true
	}
	req, err := ReadRequest(args[1], op)
	if err != nil {
		fmt.Fprintf(stderr, "warmbuild %s: %s\n", op, report.LogText(err.Error()))
		return 2, true
	}
	res, err := runRequest(ctx, req)
	if err != nil {
		fmt.Fprintf(stderr, "warmbuild %s: %s\n", op, report.LogText(err.Error()))
		return 1, true
	}
	if err := WriteResult(req.OutDir, res); err != nil {
		fmt.Fprintf(stderr, "warmbuild %s: write the result: %v\n", op, err)
		return 1, true
	}
	switch {
	case res.Refused != "":
		fmt.Fprintf(stderr, "warmbuild %s: %s\n", op, res.Refused)
	case res.Inject != nil:
		fmt.Fprintf(stdout, "warmbuild-%s: %s, %d files, %d bytes\n", op, res.Inject.Status, res.Inject.Files, res.Inject.Bytes)
	case res.Extract != nil:
		x := res.Extract
		fmt.Fprintf(stdout, "warmbuild-%s: %s, %d files, %d bytes (pruned %d files, %d bytes)\n", op, x.Status, x.Files, x.Bytes, x.PrunedFiles, x.PrunedBytes)
	}
	return 0, true
}

// runRequest does what a valid request asks. Whatever stops an injection is a refusal,
// told in the result: the mount was left empty (or untouched), and the reason, which
// may quote a signed URL or an archive's entry names, is redacted and escaped for the
// log it is also printed in.
func runRequest(ctx context.Context, req Request) (Result, error) {
	res := Result{Op: req.Op}
	switch req.Op {
	case OpInject:
		var rep InjectReport
		var base *archive.Manifest
		var err error
		if req.Source == SourceSources {
			rep, base, err = injectSources(ctx, req.Archive, req.MountDir, req.ControlSocket)
		} else {
			rep, err = injectArchive(ctx, req.Archive, req.Source, req.MountDir)
		}
		if err != nil {
			res.Refused = clip(cmp.Or(report.LogText(cacheservice.Redact(oneLine(err.Error()))), "refused"), maxReasonBytes-3)
			return res, nil
		}
		if rep.Status == InjectUnreachable {
			rep.Reason = clip(cmp.Or(oneLine(rep.Reason), "no answer"), maxReasonBytes-3)
		}
		res.Inject, res.Base = &rep, base
		return res, nil
	default:
		x, err := extractMount(ctx, req.MountDir, req.OutDir, req.RestoredDigest, req.MaxBytes, req.Base)
		if err != nil {
			return Result{}, err
		}
		res.Extract = &x
		return res, nil
	}
}

// oneLine joins the lines of a message, for a result that is one line of text.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == 0 }), " ")
}

// injectArchive unpacks an untrusted archive into a cache mount directory. A mount that
// already holds files (a long-lived builder that kept its cache) is left as it is: its
// content is at least as fresh as a restored one. When the archive is refused, whatever
// was unpacked is removed again so the build starts from an empty cache, not a half one.
func injectArchive(ctx context.Context, archivePath string, kind SourceKind, dir string) (InjectReport, error) {
	if rep, kept, err := keptMount(ctx, dir); err != nil || kept {
		return rep, err
	}
	src, err := openArchive(archivePath, kind)
	if err != nil {
		return InjectReport{}, fmt.Errorf("open archive: %w", err)
	}
	defer src.Close()
	st, err := archive.Extract(ctx, src, dir, archive.Limits{})
	if err != nil {
		if cerr := emptyDir(dir); cerr != nil {
			return InjectReport{}, fmt.Errorf("%w (and cleaning the cache mount failed: %v)", err, cerr)
		}
		return InjectReport{}, fmt.Errorf("%w; the cache mount was left empty", err)
	}
	return InjectReport{Status: InjectInjected, PathsDigest: PathsDigest(st.Manifest), Files: st.Manifest.Files, Bytes: st.Manifest.Bytes}, nil
}

// keptMount reports a mount that already holds files, which injection leaves alone.
func keptMount(ctx context.Context, dir string) (InjectReport, bool, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return InjectReport{}, false, fmt.Errorf("read cache mount %s: %w", dir, err)
	}
	if len(entries) == 0 {
		return InjectReport{}, false, nil
	}
	m, err := archive.ManifestOf(ctx, dir)
	if err != nil {
		return InjectReport{}, false, err
	}
	return InjectReport{Status: InjectKept, PathsDigest: PathsDigest(m), Files: m.Files, Bytes: m.Bytes}, true, nil
}

// openArchive opens a file, or connects to the socket p where the caller streams it in
// chunks (see ChunkWriter).
func openArchive(p string, kind SourceKind) (io.ReadCloser, error) {
	if kind == SourceSocket {
		conn, err := net.DialTimeout("unix", p, 30*time.Second)
		if err != nil {
			return nil, err
		}
		return struct {
			io.Reader
			io.Closer
		}{&chunkReader{r: bufio.NewReaderSize(conn, 1<<20)}, conn}, nil
	}
	return os.Open(p)
}

// The archive socket is forwarded by BuildKit's session, which does not pass a
// half-close on: the reader would never see EOF. So the stream is framed: chunks of
// [4-byte big-endian length][data], ended by a zero-length chunk. A stream that stops
// before that chunk is an error (io.ErrUnexpectedEOF), never a short archive.
// ChunkWriter is the action's end of that stream.
type ChunkWriter struct{ w io.Writer }

// NewChunkWriter frames what is written to w; Close ends the stream.
func NewChunkWriter(w io.Writer) ChunkWriter { return ChunkWriter{w: w} }

// MaxChunk is the largest chunk, and a good copy buffer size for a ChunkWriter.
const MaxChunk = 1 << 20

func (c ChunkWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), MaxChunk)
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(n))
		if _, err := c.w.Write(hdr[:]); err != nil {
			return written, err
		}
		m, err := c.w.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[n:]
	}
	return written, nil
}

// Close writes the end marker.
func (c ChunkWriter) Close() error {
	_, err := c.w.Write([]byte{0, 0, 0, 0})
	return err
}

// Abort ends the stream with an error the reader returns at once: the session does
// not pass a closed connection on either, so without it the helper would wait on a
// stream that never moves again. msg goes into the build's log: no URLs in it.
func (c ChunkWriter) Abort(msg string) error {
	if len(msg) > maxAbortMessage {
		msg = msg[:maxAbortMessage]
	}
	b := make([]byte, 8, 8+len(msg))
	binary.BigEndian.PutUint32(b[:4], abortMarker)
	binary.BigEndian.PutUint32(b[4:], uint32(len(msg)))
	_, err := c.w.Write(append(b, msg...))
	return err
}

// abortMarker, in place of a chunk length, starts an abort: [4-byte length][message].
const (
	abortMarker     = 0xFFFFFFFF
	maxAbortMessage = 4 << 10
)

// ErrSenderFailed is what reading an aborted stream returns (wrapped with the
// sender's message).
var ErrSenderFailed = errors.New("the action's side of the transfer failed")

type chunkReader struct {
	r    io.Reader
	left uint32
	done bool
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		var hdr [4]byte
		if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
			return 0, noEOF(err)
		}
		c.left = binary.BigEndian.Uint32(hdr[:])
		if c.left == abortMarker {
			c.left = 0
			return 0, c.aborted()
		}
		if c.left > MaxChunk {
			return 0, fmt.Errorf("archive stream: chunk of %d bytes", c.left)
		}
		if c.left == 0 {
			c.done = true
		}
	}
	if uint32(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= uint32(n)
	if err != nil && n == 0 {
		return 0, noEOF(err)
	}
	return n, nil
}

// aborted reads the sender's message after an abort marker.
func (c *chunkReader) aborted() error {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return ErrSenderFailed
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxAbortMessage {
		return ErrSenderFailed
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(c.r, msg); err != nil {
		return ErrSenderFailed
	}
	return fmt.Errorf("%w: %s", ErrSenderFailed, strings.ToValidUTF8(string(msg), "?"))
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// emptyDir removes everything inside dir, keeping dir itself (a mount point).
func emptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// PathsDigest identifies the set of files and symlinks of a tree, without their sizes,
// modes or times. It is what "the cache changed" means for saving: a build that
// downloads or builds a package adds files, pruning removes some, but a warm pip run
// also rewrites the HTTP cache entries of the index pages it revalidated, which changes
// their mtimes (and the full manifest) on every run without adding anything worth an
// upload.
func PathsDigest(m archive.Manifest) string {
	h := sha256.New()
	for _, e := range m.Entries {
		if e.Type == archive.TypeDir {
			continue
		}
		h.Write([]byte(string(e.Type) + "\x00" + e.Path + "\x00" + e.Link + "\x00"))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// extractMount prunes the cache mount to maxBytes and archives it into outDir, unless
// it holds no files. With a base manifest (what the restored entry's base archive held)
// it archives only what changed since, when that is small and nothing of the base was
// removed; without one it skips the archive when the paths digest equals the restored
// one (restoredDigest; "" when nothing was restored).
//
// Pruning works on the live mount, which is what gets saved anyway, and ranks files by
// the later of access and modification time: mount-inject sets atime = mtime, so a file
// the build read since gets a newer atime on a relatime mount, and the files this build
// used are the ones kept.
func extractMount(ctx context.Context, dir, outDir, restoredDigest string, maxBytes int64, base *archive.Manifest) (ExtractResult, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return ExtractResult{}, err
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return ExtractResult{Status: ExtractEmpty}, nil
	}
	ps, err := archive.Prune(ctx, dir, maxBytes, archive.PruneByAccessTime())
	if err != nil {
		return ExtractResult{}, err
	}
	m, err := archive.ManifestOf(ctx, dir)
	if err != nil {
		return ExtractResult{}, err
	}
	res := ExtractResult{PathsDigest: PathsDigest(m), Files: m.Files, Bytes: m.Bytes, PrunedFiles: ps.RemovedFiles, PrunedBytes: ps.RemovedBytes}
	switch {
	case m.Files == 0:
		res.Status = ExtractEmpty
		return res, nil
	case base == nil && res.PathsDigest == restoredDigest:
		res.Status = ExtractUnchanged
		return res, nil
	}
	var only []string
	if base != nil {
		only = deltaPaths(*base, m)
	}
	out, err := os.Create(filepath.Join(outDir, ExtractArchiveName))
	if err != nil {
		return ExtractResult{}, err
	}
	var opts []archive.WriteOption
	if only != nil {
		opts = append(opts, archive.WithOnly(only))
	}
	st, err := archive.Write(ctx, out, dir, opts...)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return ExtractResult{}, err
	}
	res.ArchiveBytes = st.StreamBytes
	if only != nil {
		// The tree is the base plus the delta: res describes the tree (m), the delta
		// what the archive carries.
		res.Status, res.DeltaFiles, res.DeltaBytes = ExtractDelta, st.Manifest.Files, st.Manifest.Bytes
		return res, nil
	}
	res.Status = ExtractArchived
	res.PathsDigest, res.Files, res.Bytes = PathsDigest(st.Manifest), st.Manifest.Files, st.Manifest.Bytes
	return res, nil
}

// deltaPaths lists what changed from base to now (added or modified entries), or nil
// when a full archive is the better entry: something of the base is gone (a delta
// cannot remove it), or the changes are a large part of the tree.
func deltaPaths(base, now archive.Manifest) []string {
	ch := archive.Compare(base, now)
	if len(ch.Removed) > 0 {
		return nil
	}
	changed := append(ch.Added, ch.Modified...)
	sizes := make(map[string]int64, len(now.Entries))
	for _, e := range now.Entries {
		sizes[e.Path] = e.Size
	}
	var bytes int64
	for _, p := range changed {
		bytes += sizes[p]
	}
	if float64(bytes) > maxDeltaShare*float64(now.Bytes) {
		return nil
	}
	if changed == nil {
		changed = []string{} // an empty delta: the content is the base's
	}
	return changed
}
