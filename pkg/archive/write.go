package archive

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// DefaultLevel is the zstd level Write uses. SpeedFastest: pip caches are mostly wheels
// and downloads that are already zip-compressed, so a stronger level spends CPU time on
// bytes it cannot shrink (see bench/archive/README.md for the measurements).
const DefaultLevel = zstd.SpeedFastest

// Stats describes one Write or Extract.
type Stats struct {
	Files     int64 // regular files
	Dirs      int64
	Symlinks  int64
	Hardlinks int64
	FileBytes int64 // uncompressed bytes of regular-file content
	// StreamBytes is the size of the compressed stream written or read.
	StreamBytes int64
	// Skipped lists what Write left out (sockets, devices, FIFOs): a cache has no use
	// for them and Extract would refuse them.
	Skipped  []Skipped
	Manifest Manifest // the tree as written or as extracted
}

// Skipped is an entry Write did not archive, and why.
type Skipped struct {
	Path   string
	Reason string
}

type writeConfig struct {
	level       zstd.EncoderLevel
	concurrency int
	only        map[string]bool
}

// WriteOption tunes Write.
type WriteOption func(*writeConfig)

// WithLevel sets the zstd level (default DefaultLevel).
func WithLevel(l zstd.EncoderLevel) WriteOption { return func(c *writeConfig) { c.level = l } }

// WithConcurrency sets how many goroutines compress; 1 compresses on the calling
// goroutine. The default is GOMAXPROCS when that is above 2, else 1: with two CPUs one
// is busy walking and reading the tree, and on the mostly incompressible content of a
// pip cache parallel compression measured slower there (its buffer copies cost more
// than the one spare core gives back; see bench/archive/README.md).
func WithConcurrency(n int) WriteOption { return func(c *writeConfig) { c.concurrency = n } }

// WithOnly archives only the listed paths (slash-separated, relative to the root): the
// entries a delta carries on top of an archive extracted before it. Directories that are
// not listed are still walked. Extract creates missing parent directories.
func WithOnly(paths []string) WriteOption {
	return func(c *writeConfig) {
		c.only = make(map[string]bool, len(paths))
		for _, p := range paths {
			c.only[p] = true
		}
	}
}

func defaultConcurrency() int {
	if n := runtime.GOMAXPROCS(0); n > 2 {
		return n
	}
	return 1
}

// Write archives the tree under dir (not dir itself) to w as a PAX tar stream compressed
// with zstd. It keeps modes, numeric owners and nanosecond mtimes, stores symlinks as
// links and files with several names as hard links, and streams file contents through
// a fixed buffer. Entries are in lexical walk order, so the same tree gives the same
// stream.
func Write(ctx context.Context, w io.Writer, dir string, opts ...WriteOption) (Stats, error) {
	cfg := writeConfig{level: DefaultLevel, concurrency: defaultConcurrency()}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.concurrency < 1 {
		cfg.concurrency = 1
	}
	dir, err := realDir(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("archive %s: %w", dir, err)
	}

	out := &countingWriter{w: w}
	zw, err := zstd.NewWriter(out,
		zstd.WithEncoderLevel(cfg.level),
		zstd.WithEncoderConcurrency(cfg.concurrency),
		// Without this a stream is compressed one block at a time whatever the concurrency.
		zstd.WithConcurrentBlocks(cfg.concurrency > 1),
	)
	if err != nil {
		return Stats{}, fmt.Errorf("archive %s: zstd: %w", dir, err)
	}
	aw := &archiveWriter{
		ctx:   ctx,
		only:  cfg.only,
		dir:   dir,
		tw:    tar.NewWriter(zw),
		buf:   make([]byte, 1<<20),
		links: make(map[fileID]string),
	}
	walkErr := filepath.WalkDir(dir, aw.visit)
	if walkErr == nil {
		walkErr = aw.tw.Close()
	}
	// Close the encoder even after an error so its goroutines stop.
	closeErr := zw.Close()
	if walkErr != nil {
		return Stats{}, fmt.Errorf("archive %s: %w", dir, walkErr)
	}
	if closeErr != nil {
		return Stats{}, fmt.Errorf("archive %s: finish zstd stream: %w", dir, closeErr)
	}
	aw.stats.StreamBytes = out.n
	aw.stats.Manifest = aw.manifest.finish()
	return aw.stats, nil
}

type fileID struct{ dev, ino uint64 }

type archiveWriter struct {
	ctx      context.Context
	only     map[string]bool // nil: everything
	dir      string
	tw       *tar.Writer
	buf      []byte
	links    map[fileID]string // first archived name of each multiply-linked file
	stats    Stats
	manifest manifestBuilder
}

func (a *archiveWriter) visit(p string, d fs.DirEntry, err error) error {
	if err != nil {
		return err
	}
	if err := a.ctx.Err(); err != nil {
		return err
	}
	if p == a.dir {
		return nil
	}
	rel, err := filepath.Rel(a.dir, p)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	if a.only != nil && !a.only[rel] {
		return nil
	}

	switch d.Type() {
	case 0:
		return a.writeFile(p, rel)
	case fs.ModeDir, fs.ModeSymlink:
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e, _, err := entryFromInfo(rel, fi, p)
		if err != nil {
			return err
		}
		if e.Type == TypeSymlink && linkEscapes(rel, e.Link) {
			// Extract refuses a whole archive holding such a link, so it is left out and
			// the rest carried: pnpm 10 links v10/projects/<hash> in its store to each
			// project that used it (../../../../app), a link meaningless elsewhere.
			a.stats.Skipped = append(a.stats.Skipped, Skipped{Path: rel, Reason: "symlink outside the directory"})
			return nil
		}
		hdr := header(e, fi)
		if e.Type == TypeDir {
			hdr.Typeflag = tar.TypeDir
			hdr.Name += "/"
			a.stats.Dirs++
		} else {
			hdr.Typeflag = tar.TypeSymlink
			hdr.Linkname = e.Link
			a.stats.Symlinks++
		}
		if err := a.tw.WriteHeader(hdr); err != nil {
			return err
		}
		a.manifest.add(e)
		return nil
	default:
		a.stats.Skipped = append(a.stats.Skipped, Skipped{Path: rel, Reason: describeType(d.Type())})
		return nil
	}
}

func (a *archiveWriter) writeFile(p, rel string) error {
	f, err := openNoAtime(p)
	if err != nil {
		return err
	}
	defer f.Close()
	// Describe the file as opened, so the header matches the bytes that follow.
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: changed type while archiving", rel)
	}
	e, _, err := entryFromInfo(rel, fi, p)
	if err != nil {
		return err
	}
	hdr := header(e, fi)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
		id := fileID{dev: uint64(st.Dev), ino: st.Ino}
		if first, seen := a.links[id]; seen {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			if err := a.tw.WriteHeader(hdr); err != nil {
				return err
			}
			a.stats.Hardlinks++
			a.manifest.add(e)
			return nil
		}
		a.links[id] = rel
	}
	hdr.Typeflag = tar.TypeReg
	hdr.Size = e.Size
	if err := a.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if err := a.copyContent(f, e.Size, rel); err != nil {
		return err
	}
	a.stats.Files++
	a.stats.FileBytes += e.Size
	a.manifest.add(e)
	return nil
}

// copyContent copies exactly size bytes, checking for cancellation between chunks.
func (a *archiveWriter) copyContent(f *os.File, size int64, rel string) error {
	for remaining := size; remaining > 0; {
		if err := a.ctx.Err(); err != nil {
			return err
		}
		chunk := a.buf[:min(int64(len(a.buf)), remaining)]
		n, err := io.ReadFull(f, chunk)
		if n > 0 {
			if _, werr := a.tw.Write(chunk[:n]); werr != nil {
				return werr
			}
			remaining -= int64(n)
		}
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("%s: file shrank while archiving (%d of %d bytes)", rel, size-remaining, size)
			}
			return err
		}
	}
	return nil
}

// header builds a tar header from an entry and its stat information. Owner names are
// left out on purpose: looking them up is slow and means nothing inside a build container.
func header(e Entry, fi fs.FileInfo) *tar.Header {
	hdr := &tar.Header{
		Name:    e.Path,
		Mode:    tarMode(e.Mode),
		ModTime: e.ModTime,
		// PAX keeps nanosecond mtimes, which the manifest compares.
		Format: tar.FormatPAX,
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid = int(st.Uid)
		hdr.Gid = int(st.Gid)
	}
	return hdr
}

const (
	tarSetuid = 0o4000
	tarSetgid = 0o2000
	tarSticky = 0o1000
)

func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= tarSetuid
	}
	if m&fs.ModeSetgid != 0 {
		mode |= tarSetgid
	}
	if m&fs.ModeSticky != 0 {
		mode |= tarSticky
	}
	return mode
}

func fileMode(tarMode int64) fs.FileMode {
	m := fs.FileMode(tarMode) & fs.ModePerm
	if tarMode&tarSetuid != 0 {
		m |= fs.ModeSetuid
	}
	if tarMode&tarSetgid != 0 {
		m |= fs.ModeSetgid
	}
	if tarMode&tarSticky != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func describeType(t fs.FileMode) string {
	switch {
	case t&fs.ModeSocket != 0:
		return "socket"
	case t&fs.ModeNamedPipe != 0:
		return "named pipe"
	case t&fs.ModeCharDevice != 0:
		return "character device"
	case t&fs.ModeDevice != 0:
		return "block device"
	}
	return "unsupported file type"
}

// openNoAtime opens a file for reading without bumping its access time, so archiving a
// cache does not make every file look recently used to Prune. O_NOATIME is only
// allowed to the file's owner (or root); anyone else falls back to a plain open.
func openNoAtime(p string) (*os.File, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NOATIME, 0)
	if errors.Is(err, unix.EPERM) {
		f, err = os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	}
	return f, err
}

func readlink(p string) (string, error) { return os.Readlink(p) }

// realDir resolves symlinks in dir (a walk would otherwise stop at a symlinked root)
// and checks that it is a directory.
func realDir(dir string) (string, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return dir, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return dir, err
	}
	if !fi.IsDir() {
		return dir, errors.New("not a directory")
	}
	return real, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// linkEscapes reports whether a symlink at rel with target would point outside the
// archived directory, as extract judges it (absolute, or out through "..").
func linkEscapes(rel, target string) bool {
	if path.IsAbs(target) {
		return true
	}
	resolved := path.Join(path.Dir(rel), target)
	return resolved == ".." || strings.HasPrefix(resolved, "../")
}
