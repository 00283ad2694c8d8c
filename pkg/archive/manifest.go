package archive

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// EntryType is the kind of a manifest entry.
type EntryType string

const (
	TypeFile    EntryType = "file" // regular file; hard links appear as files too, as they do on disk
	TypeDir     EntryType = "dir"
	TypeSymlink EntryType = "symlink"
)

// Entry describes one path of a directory tree, relative to its root.
type Entry struct {
	Path    string      `json:"path"` // slash-separated, no leading "./"
	Type    EntryType   `json:"type"`
	Size    int64       `json:"size,omitempty"` // files only
	Mode    fs.FileMode `json:"mode"`           // permission bits plus setuid, setgid, sticky
	ModTime time.Time   `json:"mtime"`
	Link    string      `json:"link,omitempty"` // symlink target
}

// Manifest lists a tree's entries, sorted by path, with a digest over them. It describes
// metadata only (no content hashes), which is enough to tell whether a cache directory
// changed: tools that write a cache write new files or rewrite old ones, and either
// changes a size, an mtime or the set of paths.
type Manifest struct {
	Entries []Entry `json:"entries"`
	Files   int64   `json:"files"` // regular files
	Bytes   int64   `json:"bytes"` // total size of regular files
	// Digest is "sha256:<hex>" over every entry's type, path, size, mode, mtime and
	// link target. Directory mtimes are left out: creating and deleting a temporary
	// file bumps them although nothing that matters changed.
	Digest string `json:"digest"`
}

// Equal reports whether two manifests describe the same tree.
func (m Manifest) Equal(o Manifest) bool { return m.Digest == o.Digest }

// Changes is what differs between two manifests.
type Changes struct {
	Added    []string // paths only in the newer manifest
	Removed  []string // paths only in the older manifest
	Modified []string // paths in both whose type, size, mode, mtime or link differ
}

// Empty reports whether nothing changed.
func (c Changes) Empty() bool { return len(c.Added)+len(c.Removed)+len(c.Modified) == 0 }

// Compare lists what changed from before to after. Directory mtimes are ignored, as
// in the digest.
func Compare(before, after Manifest) Changes {
	var c Changes
	i, j := 0, 0
	for i < len(before.Entries) || j < len(after.Entries) {
		switch {
		case j == len(after.Entries) || (i < len(before.Entries) && before.Entries[i].Path < after.Entries[j].Path):
			c.Removed = append(c.Removed, before.Entries[i].Path)
			i++
		case i == len(before.Entries) || after.Entries[j].Path < before.Entries[i].Path:
			c.Added = append(c.Added, after.Entries[j].Path)
			j++
		default:
			if !sameEntry(before.Entries[i], after.Entries[j]) {
				c.Modified = append(c.Modified, after.Entries[j].Path)
			}
			i++
			j++
		}
	}
	return c
}

func sameEntry(a, b Entry) bool {
	if a.Type == TypeDir && b.Type == TypeDir {
		return a.Mode == b.Mode
	}
	return a.Type == b.Type && a.Size == b.Size && a.Mode == b.Mode && a.ModTime.Equal(b.ModTime) && a.Link == b.Link
}

// manifestBuilder collects entries in any order and sorts them once at the end. A path
// added twice keeps its last entry, as a tar archive that repeats a path does on disk.
type manifestBuilder struct {
	entries []Entry
	index   map[string]int
}

func (b *manifestBuilder) add(e Entry) {
	if b.index == nil {
		b.index = make(map[string]int)
	}
	if i, ok := b.index[e.Path]; ok {
		b.entries[i] = e
		return
	}
	b.index[e.Path] = len(b.entries)
	b.entries = append(b.entries, e)
}

func (b *manifestBuilder) finish() Manifest {
	slices.SortFunc(b.entries, func(x, y Entry) int { return cmp.Compare(x.Path, y.Path) })
	b.index = nil
	m := Manifest{Entries: b.entries}
	h := sha256.New()
	for _, e := range m.Entries {
		if e.Type == TypeFile {
			m.Files++
			m.Bytes += e.Size
		}
		writeEntryDigest(h, e)
	}
	m.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return m
}

// writeEntryDigest feeds one entry to the digest. Fields are NUL-terminated: no path or
// link target can contain NUL, so the encoding is unambiguous.
func writeEntryDigest(h hash.Hash, e Entry) {
	var mtime int64
	if e.Type != TypeDir {
		mtime = e.ModTime.UnixNano()
	}
	buf := make([]byte, 0, len(e.Path)+len(e.Link)+64)
	buf = append(buf, e.Type...)
	buf = append(buf, 0)
	buf = append(buf, e.Path...)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, e.Size, 10)
	buf = append(buf, 0)
	buf = strconv.AppendUint(buf, uint64(e.Mode), 8)
	buf = append(buf, 0)
	buf = strconv.AppendInt(buf, mtime, 10)
	buf = append(buf, 0)
	buf = append(buf, e.Link...)
	buf = append(buf, 0)
	h.Write(buf)
}

// ManifestOf describes the tree under dir as Write would archive it: the same entries
// (sockets, devices and FIFOs left out) with the same metadata, so
// ManifestOf(dir).Equal(stats.Manifest) right after Write or Extract.
func ManifestOf(ctx context.Context, dir string) (Manifest, error) {
	dir, err := realDir(dir)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest of %s: %w", dir, err)
	}
	var b manifestBuilder
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e, ok, err := entryFromInfo(filepath.ToSlash(rel), fi, p)
		if err != nil {
			return err
		}
		if ok {
			b.add(e)
		}
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest of %s: %w", dir, err)
	}
	return b.finish(), nil
}

// entryFromInfo converts lstat information to an Entry; ok is false for file types an
// archive leaves out. full is the path on disk, read for symlink targets.
func entryFromInfo(rel string, fi fs.FileInfo, full string) (e Entry, ok bool, err error) {
	e = Entry{Path: rel, Mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky), ModTime: fi.ModTime()}
	switch fi.Mode().Type() {
	case 0:
		e.Type = TypeFile
		e.Size = fi.Size()
	case fs.ModeDir:
		e.Type = TypeDir
	case fs.ModeSymlink:
		e.Type = TypeSymlink
		e.Mode = 0 // symlink permissions mean nothing on Linux and cannot be set
		link, err := readlink(full)
		if err != nil {
			return Entry{}, false, err
		}
		e.Link = link
	default:
		return Entry{}, false, nil
	}
	return e, true, nil
}

// statAtime returns a file's access time (for pruning) from its lstat information.
func statAtime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return time.Unix(st.Atim.Unix())
	}
	return fi.ModTime()
}
