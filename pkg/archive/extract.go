package archive

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// Limits caps what Extract unpacks from an untrusted archive. Zero fields take the
// defaults of DefaultLimits.
type Limits struct {
	MaxBytes   int64  // total uncompressed file content (default 10 GiB)
	MaxEntries int64  // files, directories and links (default 1,000,000)
	MaxWindow  uint64 // largest zstd window accepted, which bounds decoder memory (default 128 MiB)
	// MaxRatio caps decompressed bytes per compressed byte once the decompressed stream
	// passes RatioFloor (default 256: zstd gives 1.1x on pip's already-compressed wheels
	// and 3-10x on source and text; thousands only on runs of zeros, which is a bomb).
	MaxRatio int64
}

// RatioFloor is what any archive may expand to whatever its compressed size, so a small
// archive of very compressible files is never refused for its ratio.
const RatioFloor = 16 << 20

// DefaultLimits are generous for a package-manager cache and small enough that a
// hostile archive cannot fill a runner's disk or memory.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 10 << 30, MaxEntries: 1_000_000, MaxWindow: 128 << 20, MaxRatio: 256}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = d.MaxEntries
	}
	if l.MaxWindow == 0 {
		l.MaxWindow = d.MaxWindow
	}
	if l.MaxRatio <= 0 {
		l.MaxRatio = d.MaxRatio
	}
	return l
}

// Tar framing allowed per entry on top of file content (header blocks, PAX records,
// padding) and before the first entry; past that the stream is a bomb of headers.
const (
	overheadPerEntry = 16 << 10
	overheadFixed    = 1 << 20
)

// Extract unpacks a stream made by Write into dir, creating dir if needed. The stream is
// untrusted: Extract refuses absolute names, ".." components, device nodes and FIFOs,
// symlinks whose target leaves dir (directly or through other symlinks), hard links to
// anything but a regular file inside dir, and writing through a symlink or into an
// existing file (it replaces files, never overwrites them in place). Every path
// component is opened with O_NOFOLLOW relative to its parent's descriptor, so nothing
// outside dir is touched even if a check were wrong.
//
// Modes, mtimes (directories after their contents) and, when running as root, numeric
// owners are restored. Setuid and setgid bits are dropped from files: a cache never
// needs them and they are dangerous on a host.
//
// Names are limited to what Write, Prune and ManifestOf can later walk: components of at
// most MaxNameBytes, relative paths of at most MaxPathBytes that also fit PATH_MAX under
// dir, at most MaxDepth components.
//
// Any problem with the archive itself is an *Error; a stream that breaks (r fails) is not,
// since the archive may be fine. On any error the contents of dir are
// removed (dir itself is kept: it may be a mount point), after the symlinks extracted so
// far were checked and the unsafe ones deleted, so nothing that points outside dir is
// left even if the removal fails; extract into a fresh directory.
func Extract(ctx context.Context, r io.Reader, dir string, limits Limits) (Stats, error) {
	limits = limits.withDefaults()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Stats{}, fmt.Errorf("extract to %s: %w", dir, err)
	}
	rootFd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return Stats{}, fmt.Errorf("extract to %s: open: %w", dir, err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("extract to %s: %w", dir, err)
	}
	x := &extractor{
		dirLen:  len(absDir),
		ctx:     ctx,
		limits:  limits,
		dirs:    dirChain{root: rootFd},
		asRoot:  os.Geteuid() == 0,
		uid:     os.Geteuid(),
		gid:     os.Getegid(),
		buf:     make([]byte, 1<<20),
		dirMeta: make(map[string]dirMeta),
	}
	defer x.dirs.closeAll()
	defer unix.Close(rootFd)

	in := &countingReader{r: r}
	in.max.Store(compressedCap(overheadFixed + overheadPerEntry))
	zr, err := zstd.NewReader(in,
		zstd.WithDecoderMaxWindow(limits.MaxWindow),
		zstd.WithDecoderMaxMemory(limits.MaxWindow),
	)
	if err != nil {
		return Stats{}, fmt.Errorf("extract to %s: zstd: %w", dir, err)
	}
	defer zr.Close()
	x.stream = &streamReader{r: zr, max: overheadFixed + overheadPerEntry, in: in, ratio: limits.MaxRatio}

	if err := x.run(); err != nil {
		switch srcErr := in.sourceErr(); {
		case srcErr != nil && x.ctx.Err() == nil:
			// The stream broke (a download that failed part way): the archive may be
			// fine, so this is not an *Error and not called corrupt.
			err = fmt.Errorf("extract to %s: reading the archive stream after %d bytes: %w", dir, in.n.Load(), srcErr)
		case in.n.Load() == 0 && x.ctx.Err() == nil:
			err = corrupt("empty stream", nil)
		default:
			err = x.classify(err, dir)
		}
		// The archive is unusable: no link it made may stay pointing out of dir, and
		// nothing of it may stay in dir.
		if serr := x.checkSymlinks(); serr != nil && !isArchiveError(serr) {
			err = fmt.Errorf("%w (and removing unsafe symlinks failed: %v)", err, serr)
		}
		x.dirs.closeAll()
		if rerr := removeContents(dir); rerr != nil {
			err = fmt.Errorf("%w (and emptying %s failed: %v)", err, dir, rerr)
		}
		return Stats{}, err
	}
	x.stats.StreamBytes = in.n.Load()
	x.stats.Manifest = x.manifest.finish()
	return x.stats, nil
}

type dirMeta struct {
	mode     uint32
	uid, gid int
	mtime    time.Time
}

type extractor struct {
	dirLen   int // length of dir's absolute path: names must fit PATH_MAX under it
	ctx      context.Context
	limits   Limits
	stream   *streamReader
	dirs     dirChain
	asRoot   bool
	uid, gid int // new files belong to these already
	buf      []byte
	entries  int64
	dirMeta  map[string]dirMeta // applied once every entry is in place
	symlinks []string
	stats    Stats
	manifest manifestBuilder
}

func (x *extractor) run() error {
	// Archives may follow one another in the stream (a delta after its base): each
	// replaces what the earlier ones wrote under the same names.
	br := bufio.NewReaderSize(x.stream, 64<<10)
	for n := 0; ; n++ {
		if n > 0 {
			more, err := nextArchive(br)
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
		if err := x.archive(newTarFrames(br)); err != nil {
			return err
		}
	}
	if err := x.checkSymlinks(); err != nil {
		return err
	}
	return x.applyDirMeta()
}

// archive extracts the entries of one tar archive.
func (x *extractor) archive(tf *tarFrames) error {
	tr := tf.tr
	for {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		hdr, err := tf.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue // PAX defaults for later entries; archive/tar already applies what it supports
		}
		x.entries++
		if x.entries > x.limits.MaxEntries {
			return tooLarge("", fmt.Sprintf("more than %d entries", x.limits.MaxEntries))
		}
		x.stream.max = x.limits.MaxBytes + overheadFixed + (x.entries+1)*overheadPerEntry
		x.stream.in.max.Store(compressedCap(x.stream.max))
		if err := x.entry(tr, hdr); err != nil {
			return err
		}
	}
}

// nextArchive skips the zero blocks that pad an archive (GNU tar pads to its record
// size) and reports whether another archive follows. Reading to the end of the stream
// also makes the zstd decoder check its frames' checksums.
func nextArchive(br *bufio.Reader) (bool, error) {
	for {
		b, err := br.Peek(512)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, readErr{err}
		}
		if len(b) == 0 {
			return false, nil
		}
		if !allZero(b) {
			if len(b) < 512 {
				return false, corrupt("trailing data after the end-of-archive marker", nil)
			}
			return true, nil
		}
		if _, err := br.Discard(len(b)); err != nil {
			return false, readErr{err}
		}
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// readErr marks an error that came from decoding the stream (not from the disk).
type readErr struct{ err error }

func (e readErr) Error() string { return e.err.Error() }
func (e readErr) Unwrap() error { return e.err }

func (x *extractor) classify(err error, dir string) error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	var re readErr
	if errors.As(err, &re) {
		if errors.Is(re.err, errStreamTooLong) {
			return tooLarge("", fmt.Sprintf("decompressed stream exceeds %d bytes of tar framing and content", x.stream.max))
		}
		if errors.Is(re.err, errRatio) || x.stream.ratioExceeded {
			return tooLarge("", fmt.Sprintf("expands more than %d times its compressed size past %d bytes", x.stream.ratio, RatioFloor))
		}
		if errors.Is(re.err, errCompressedTooLong) || x.stream.in.exceeded.Load() {
			return tooLarge("", fmt.Sprintf("compressed stream exceeds %d bytes (zstd skippable frames or padding?)", x.stream.in.max.Load()))
		}
		if errors.Is(re.err, zstd.ErrWindowSizeExceeded) || errors.Is(re.err, zstd.ErrDecoderSizeExceeded) {
			return &Error{Kind: TooLarge, Reason: fmt.Sprintf("zstd window larger than %d bytes", x.limits.MaxWindow), Err: re.err}
		}
		return corrupt("", re.err)
	}
	return fmt.Errorf("extract to %s: %w", dir, err)
}

func (x *extractor) entry(tr *tar.Reader, hdr *tar.Header) error {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return unsafeEntry(hdr.Name, err.Error())
	}
	if name == "" {
		return nil // the archive's root ("./"): dir's own metadata is the caller's
	}
	if x.dirLen+1+len(name) >= pathMax {
		return unsafeEntry(hdr.Name, fmt.Sprintf("path is %d bytes, which under %d bytes of target directory exceeds PATH_MAX (%d)", len(name), x.dirLen, pathMax))
	}
	if err := validOwner(hdr); err != nil {
		return &Error{Kind: Corrupt, Entry: hdr.Name, Reason: err.Error()}
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archivers still write TypeRegA
		return x.file(tr, hdr, name)
	case tar.TypeDir:
		return x.dir(hdr, name)
	case tar.TypeSymlink:
		return x.symlink(hdr, name)
	case tar.TypeLink:
		return x.hardlink(hdr, name)
	case tar.TypeChar, tar.TypeBlock:
		return unsafeEntry(hdr.Name, "device nodes are not allowed")
	case tar.TypeFifo:
		return unsafeEntry(hdr.Name, "named pipes are not allowed")
	default:
		return unsafeEntry(hdr.Name, fmt.Sprintf("unsupported entry type %q", hdr.Typeflag))
	}
}

func validOwner(hdr *tar.Header) error {
	if hdr.Uid < 0 || hdr.Gid < 0 || hdr.Uid >= 1<<32-1 || hdr.Gid >= 1<<32-1 {
		return fmt.Errorf("owner %d:%d out of range", hdr.Uid, hdr.Gid)
	}
	return nil
}

// cleanName turns an archive name into a clean relative path ("" for the root), or says
// why it is refused.
func cleanName(name string) (string, error) {
	if name == "" {
		return "", errors.New("empty name")
	}
	if strings.HasPrefix(name, "/") {
		return "", errors.New("absolute path")
	}
	for _, part := range strings.Split(name, "/") {
		if part == ".." {
			return "", errors.New(`".." in path`)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	if strings.ContainsRune(clean, 0) {
		return "", errors.New("NUL in path")
	}
	if len(clean) > MaxPathBytes {
		return "", fmt.Errorf("path longer than %d bytes", MaxPathBytes)
	}
	parts := strings.Split(clean, "/")
	if len(parts) > MaxDepth {
		return "", fmt.Errorf("more than %d path components", MaxDepth)
	}
	for _, part := range parts {
		if len(part) > MaxNameBytes {
			return "", fmt.Errorf("path component longer than %d bytes", MaxNameBytes)
		}
	}
	return clean, nil
}

// Name limits. Write, Prune and ManifestOf walk the tree with absolute paths, so every
// extracted path must fit the kernel's limits under the target directory: NAME_MAX
// (255) per component and PATH_MAX (4096, with its NUL) for the whole, for which
// MaxPathBytes leaves 1 KiB to the directory. MaxDepth bounds the descriptor chain
// Extract keeps open (one per level) and the walks' recursion; package caches are a
// dozen levels deep.
const (
	MaxNameBytes = 255
	MaxPathBytes = 3072
	MaxDepth     = 256
	pathMax      = 4096
)

func (x *extractor) file(tr *tar.Reader, hdr *tar.Header, name string) error {
	if hdr.Size > x.limits.MaxBytes-x.stats.FileBytes {
		return tooLarge(hdr.Name, fmt.Sprintf("content exceeds the %d-byte limit", x.limits.MaxBytes))
	}
	parent, base, err := x.parentOf(hdr.Name, name)
	if err != nil {
		return err
	}
	fd, err := x.create(parent, base, hdr.Name, func() (int, error) {
		return unix.Openat(parent, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	})
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	err = x.copyContent(f, tr, hdr.Size)
	mode := fileMode(hdr.Mode) &^ (fs.ModeSetuid | fs.ModeSetgid)
	if err == nil && x.asRoot && (hdr.Uid != x.uid || hdr.Gid != x.gid) {
		err = f.Chown(hdr.Uid, hdr.Gid)
	}
	if err == nil {
		// After chown, which clears mode bits; fchmod ignores the umask.
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := setTimes(parent, base, hdr.ModTime); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	x.stats.Files++
	x.stats.FileBytes += hdr.Size
	x.manifest.add(Entry{Path: name, Type: TypeFile, Size: hdr.Size, Mode: mode, ModTime: hdr.ModTime})
	return nil
}

func (x *extractor) copyContent(f *os.File, tr *tar.Reader, size int64) error {
	for remaining := size; remaining > 0; {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		chunk := x.buf[:min(int64(len(x.buf)), remaining)]
		n, err := io.ReadFull(tr, chunk)
		if n > 0 {
			if _, werr := f.Write(chunk[:n]); werr != nil {
				return werr
			}
			remaining -= int64(n)
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return readErr{err}
		}
	}
	return nil
}

func (x *extractor) dir(hdr *tar.Header, name string) error {
	parent, base, err := x.parentOf(hdr.Name, name)
	if err != nil {
		return err
	}
	if err := unix.Mkdirat(parent, base, 0o755); errors.Is(err, unix.EEXIST) {
		var st unix.Stat_t
		if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			// A file or symlink from an earlier entry: replace it, never follow it.
			if err := unix.Unlinkat(parent, base, 0); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if err := unix.Mkdirat(parent, base, 0o755); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	} else if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if _, seen := x.dirMeta[name]; !seen {
		x.stats.Dirs++
	}
	x.dirMeta[name] = dirMeta{mode: unixMode(fileMode(hdr.Mode)), uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime}
	x.manifest.add(Entry{Path: name, Type: TypeDir, Mode: fileMode(hdr.Mode), ModTime: hdr.ModTime})
	return nil
}

func (x *extractor) symlink(hdr *tar.Header, name string) error {
	target := hdr.Linkname
	switch {
	case target == "":
		return unsafeEntry(hdr.Name, "symlink without a target")
	case strings.ContainsRune(target, 0):
		return unsafeEntry(hdr.Name, "symlink target contains NUL")
	case path.IsAbs(target):
		return unsafeEntry(hdr.Name, fmt.Sprintf("symlink to absolute path %q", target))
	case len(target) >= pathMax:
		return unsafeEntry(hdr.Name, fmt.Sprintf("symlink target longer than %d bytes", pathMax-1))
	}
	if resolved := path.Join(path.Dir(name), target); resolved == ".." || strings.HasPrefix(resolved, "../") {
		return unsafeEntry(hdr.Name, fmt.Sprintf("symlink target %q is outside the directory", target))
	}
	parent, base, err := x.parentOf(hdr.Name, name)
	if err != nil {
		return err
	}
	if _, err := x.create(parent, base, hdr.Name, func() (int, error) {
		return -1, unix.Symlinkat(target, parent, base)
	}); err != nil {
		return err
	}
	if x.asRoot {
		if err := unix.Fchownat(parent, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := setTimes(parent, base, hdr.ModTime); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	x.symlinks = append(x.symlinks, name)
	x.stats.Symlinks++
	x.manifest.add(Entry{Path: name, Type: TypeSymlink, ModTime: hdr.ModTime, Link: target})
	return nil
}

func (x *extractor) hardlink(hdr *tar.Header, name string) error {
	target, err := cleanName(hdr.Linkname)
	if err != nil || target == "" {
		return unsafeEntry(hdr.Name, fmt.Sprintf("hard link to %q is outside the directory", hdr.Linkname))
	}
	if target == name {
		return unsafeEntry(hdr.Name, "hard link to itself")
	}
	tdir, tbase := path.Split(target)
	tparent, err := openDirPath(x.dirs.root, strings.TrimSuffix(tdir, "/"))
	if err != nil {
		return unsafeEntry(hdr.Name, fmt.Sprintf("hard link target %q: %v", hdr.Linkname, err))
	}
	defer unix.Close(tparent)
	var st unix.Stat_t
	if err := unix.Fstatat(tparent, tbase, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return unsafeEntry(hdr.Name, fmt.Sprintf("hard link target %q is not an extracted file", hdr.Linkname))
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return unsafeEntry(hdr.Name, fmt.Sprintf("hard link target %q is not a regular file", hdr.Linkname))
	}
	parent, base, err := x.parentOf(hdr.Name, name)
	if err != nil {
		return err
	}
	if _, err := x.create(parent, base, hdr.Name, func() (int, error) {
		return -1, unix.Linkat(tparent, tbase, parent, base, 0)
	}); err != nil {
		return err
	}
	x.stats.Hardlinks++
	x.manifest.add(Entry{
		Path: name, Type: TypeFile, Size: st.Size,
		Mode:    fileMode(int64(st.Mode &^ unix.S_IFMT)),
		ModTime: time.Unix(st.Mtim.Unix()),
	})
	return nil
}

// create runs mk to make a new name in parent. If the name exists and is not a
// directory (an earlier entry of the same name), it is unlinked first, so a new entry
// never writes through an old symlink or into an old file's inode.
func (x *extractor) create(parent int, base, entry string, mk func() (int, error)) (int, error) {
	fd, err := mk()
	if !errors.Is(err, unix.EEXIST) {
		if err != nil {
			return -1, fmt.Errorf("%s: %w", entry, err)
		}
		return fd, nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return -1, fmt.Errorf("%s: %w", entry, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return -1, unsafeEntry(entry, "would replace a directory")
	}
	if err := unix.Unlinkat(parent, base, 0); err != nil {
		return -1, fmt.Errorf("%s: %w", entry, err)
	}
	fd, err = mk()
	if err != nil {
		return -1, fmt.Errorf("%s: %w", entry, err)
	}
	return fd, nil
}

// parentOf opens (creating as needed) the directory that will hold name and returns
// its descriptor, owned by the chain, and name's last component.
func (x *extractor) parentOf(entry, name string) (int, string, error) {
	dir, base := path.Split(name)
	fd, err := x.dirs.open(strings.TrimSuffix(dir, "/"))
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			return -1, "", unsafeEntry(entry, "a parent directory is a symlink or a file")
		}
		return -1, "", fmt.Errorf("%s: %w", name, err)
	}
	return fd, base, nil
}

// checkSymlinks resolves every extracted symlink through the tree as it ended up,
// catching targets that only leave dir through another symlink (say "a -> ." and
// "b -> a/.."). Offending links are deleted so nobody follows them later.
func (x *extractor) checkSymlinks() error {
	var first error
	for _, link := range x.symlinks {
		err := resolveInside(x.dirs.root, link)
		if err == nil {
			continue
		}
		if first == nil {
			first = unsafeEntry(link, err.Error())
		}
		parent, base, perr := x.parentOf(link, link)
		if perr != nil {
			return perr
		}
		if uerr := unix.Unlinkat(parent, base, 0); uerr != nil {
			return fmt.Errorf("remove unsafe symlink %s: %w", link, uerr)
		}
	}
	return first
}

// applyDirMeta sets directory owners, modes and mtimes, children first, after all their
// contents exist: creating entries would bump an mtime set earlier, and a read-only
// mode would stop those entries being created.
func (x *extractor) applyDirMeta() error {
	names := make([]string, 0, len(x.dirMeta))
	for name := range x.dirMeta {
		names = append(names, name)
	}
	// Reverse lexical order puts every directory after all of its descendants ("a/b"
	// sorts before "a/b/c") and keeps neighbours close, so the descriptor chain is reused.
	slices.Sort(names)
	slices.Reverse(names)
	for _, name := range names {
		if err := x.ctx.Err(); err != nil {
			return err
		}
		m := x.dirMeta[name]
		parent, base, err := x.parentOf(name, name)
		if err != nil {
			return err
		}
		fd, err := unix.Openat(parent, base, unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if x.asRoot {
			err = unix.Fchown(fd, m.uid, m.gid)
		}
		if err == nil {
			err = unix.Fchmod(fd, m.mode)
		}
		unix.Close(fd)
		if err == nil {
			err = setTimes(parent, base, m.mtime)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// setTimes sets a name's access and modification time to mtime without following a
// symlink. Access time = mtime lets a relatime mount record the next read.
func setTimes(dirFd int, base string, mtime time.Time) error {
	ts, err := unix.TimeToTimespec(mtime)
	if err != nil {
		return &Error{Kind: Corrupt, Entry: base, Reason: "mtime out of range", Err: err}
	}
	return unix.UtimesNanoAt(dirFd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

func unixMode(m fs.FileMode) uint32 {
	mode := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		mode |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		mode |= unix.S_ISVTX
	}
	return mode
}

// dirChain keeps descriptors for the directories on the path of the latest entry.
// Archives list a directory's contents together, so most entries reuse the chain and
// cost one openat per new directory rather than one per path component.
type dirChain struct {
	root  int
	names []string // components of the open path
	fds   []int    // fds[i] is the directory names[:i+1]
}

// open returns a descriptor for the directory rel ("" is the root), creating missing
// components with mode 0755. Each component is opened with O_NOFOLLOW|O_DIRECTORY
// relative to its parent, so a symlink or file anywhere on the path fails with ELOOP
// or ENOTDIR instead of being followed.
func (c *dirChain) open(rel string) (int, error) {
	var parts []string
	if rel != "" {
		parts = strings.Split(rel, "/")
	}
	common := 0
	for common < len(parts) && common < len(c.names) && parts[common] == c.names[common] {
		common++
	}
	for len(c.names) > common {
		last := len(c.fds) - 1
		unix.Close(c.fds[last])
		c.fds = c.fds[:last]
		c.names = c.names[:last]
	}
	for _, part := range parts[common:] {
		parent := c.root
		if len(c.fds) > 0 {
			parent = c.fds[len(c.fds)-1]
		}
		fd, err := openOrMkdir(parent, part)
		if err != nil {
			return -1, err
		}
		c.fds = append(c.fds, fd)
		c.names = append(c.names, part)
	}
	if len(c.fds) == 0 {
		return c.root, nil
	}
	return c.fds[len(c.fds)-1], nil
}

func (c *dirChain) closeAll() {
	for _, fd := range c.fds {
		unix.Close(fd)
	}
	c.fds, c.names = nil, nil
}

func openOrMkdir(parent int, name string) (int, error) {
	const flags = unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_RDONLY | unix.O_CLOEXEC
	fd, err := unix.Openat(parent, name, flags, 0)
	if errors.Is(err, unix.ENOENT) {
		if err := unix.Mkdirat(parent, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, err
		}
		fd, err = unix.Openat(parent, name, flags, 0)
	}
	return fd, err
}

// openDirPath opens an existing directory below root without following symlinks; the
// caller closes the result.
func openDirPath(root int, rel string) (int, error) {
	fd, err := unix.Dup(root)
	if err != nil {
		return -1, err
	}
	if rel == "" {
		return fd, nil
	}
	for _, part := range strings.Split(rel, "/") {
		next, err := unix.Openat(fd, part, unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// resolveInside follows the symlink at rel (relative to root) the way the kernel would,
// one component at a time, and fails if the walk leaves root. Components that do not
// exist are resolved lexically: a dangling link is fine as long as it points inside.
func resolveInside(root int, rel string) error {
	const maxLinks = 40 // the kernel's own limit
	var resolved []string
	pending := strings.Split(rel, "/")
	for links := 0; len(pending) > 0; {
		part := pending[0]
		pending = pending[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			if len(resolved) == 0 {
				return errors.New("symlink resolves outside the directory")
			}
			resolved = resolved[:len(resolved)-1]
			continue
		}
		candidate := strings.Join(append(resolved, part), "/")
		var st unix.Stat_t
		err := unix.Fstatat(root, candidate, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil || st.Mode&unix.S_IFMT != unix.S_IFLNK {
			resolved = append(resolved, part)
			continue
		}
		links++
		if links > maxLinks {
			return errors.New("too many levels of symlinks")
		}
		target, err := readlinkat(root, candidate)
		if err != nil {
			return err
		}
		if path.IsAbs(target) {
			return fmt.Errorf("symlink resolves through %q to absolute path %q", candidate, target)
		}
		pending = append(strings.Split(target, "/"), pending...)
	}
	return nil
}

func readlinkat(dirFd int, name string) (string, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Readlinkat(dirFd, name, buf)
		if err != nil {
			return "", err
		}
		if n < len(buf) {
			return string(buf[:n]), nil
		}
		buf = make([]byte, 2*len(buf))
	}
}

// countingReader counts the compressed bytes read. The zstd decoder reads its input
// on its own goroutine, hence the atomic.
//
// It also caps them (when max is set): the decoder consumes zstd skippable frames
// without producing output, so the decompressed cap alone would let a stream of them
// run on unbounded, and a download of unknown size has no other end.
type countingReader struct {
	r        io.Reader
	n        atomic.Int64
	max      atomic.Int64 // 0: no cap
	exceeded atomic.Bool

	mu  sync.Mutex
	err error // the first error from r other than io.EOF
}

func (c *countingReader) sourceErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *countingReader) Read(p []byte) (int, error) {
	if m := c.max.Load(); m > 0 {
		left := m - c.n.Load()
		if left <= 0 {
			c.exceeded.Store(true)
			return 0, errCompressedTooLong
		}
		if int64(len(p)) > left {
			p = p[:left]
		}
	}
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	// Not errors.Is: a transport error that wraps io.EOF (`Get "...": EOF`) is a
	// broken stream, and a reader ends with io.EOF itself.
	if err != nil && err != io.EOF { //nolint:errorlint // see above
		c.mu.Lock()
		if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
	return n, err
}

// compressedCap is the most compressed input a stream that decompresses to at most
// decompressed bytes can take: zstd adds a few bytes per 128 KiB block to incompressible
// data, and frame headers; 1/64 and 1 MiB more is far above that.
func compressedCap(decompressed int64) int64 {
	return decompressed + decompressed/64 + 1<<20
}

var (
	errStreamTooLong     = errors.New("decompressed stream too long")
	errCompressedTooLong = errors.New("compressed stream too long")
	errRatio             = errors.New("decompressed stream too large for its compressed size")
)

// streamReader caps the decompressed stream: at max bytes, and at ratio times the
// compressed bytes read so far once past RatioFloor.
type streamReader struct {
	r      io.Reader
	n, max int64
	in     *countingReader
	ratio  int64
	// ratioExceeded is set with errRatio: the zstd decoder may not pass the error on.
	ratioExceeded bool
}

func (s *streamReader) Read(p []byte) (int, error) {
	if s.n >= s.max {
		return 0, errStreamTooLong
	}
	if int64(len(p)) > s.max-s.n {
		p = p[:s.max-s.n]
	}
	n, err := s.r.Read(p)
	s.n += int64(n)
	if s.n > RatioFloor && s.n/s.ratio > s.in.n.Load() {
		s.ratioExceeded = true
		return n, errRatio
	}
	return n, err
}

// tarFrames reads one tar archive and tells its end from a truncated stream by tar's
// own framing: archive/tar's Next reports io.EOF after the two zero blocks of the
// end-of-archive marker, but also when the stream ends at a block boundary or after one
// zero block. Counting what it consumed tells them apart: at the marker, Next read
// exactly two blocks past the (block-aligned) end of the previous entry.
type tarFrames struct {
	tr *tar.Reader
	c  *frameCounter
}

type frameCounter struct {
	r io.Reader
	n int64
}

func (c *frameCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func newTarFrames(r io.Reader) *tarFrames {
	c := &frameCounter{r: r}
	return &tarFrames{tr: tar.NewReader(c), c: c}
}

const blockSize = 512

// next returns the next header, io.EOF at a complete end-of-archive marker, or an
// error (readErr for the stream, *Error for a missing marker).
func (f *tarFrames) next() (*tar.Header, error) {
	// What the caller left of the previous entry's content, so that only its padding
	// stays for Next to skip.
	if _, err := io.Copy(io.Discard, f.tr); err != nil {
		return nil, readErr{err}
	}
	before := f.c.n
	hdr, err := f.tr.Next()
	if errors.Is(err, io.EOF) {
		end := (before + blockSize - 1) / blockSize * blockSize
		if f.c.n-end != 2*blockSize {
			return nil, corrupt("missing end-of-archive marker (truncated stream?)", nil)
		}
		return nil, io.EOF
	}
	if err != nil {
		return nil, readErr{err}
	}
	return hdr, nil
}

func isArchiveError(err error) bool {
	var ae *Error
	return errors.As(err, &ae)
}

// removeContents removes everything inside dir, keeping dir. Directories are made
// writable first (an archive may have made them read-only); symlinks are removed, never
// followed.
func removeContents(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
