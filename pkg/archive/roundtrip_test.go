package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// buildTree makes a small tree with every kind of entry a cache can hold and returns the
// owner it gave "owned" (when running as root).
func buildTree(t *testing.T, root string) {
	t.Helper()
	mk := func(rel string, body []byte, mode fs.FileMode, mtime time.Time) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	big := make([]byte, 3<<20+17) // spans several copy chunks, not block-aligned
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	mk("http-v2/a/b/c/d/e/0123456789abcdef", []byte("cached response"), 0o600, mtime)
	mk("http-v2/a/b/c/d/e/0123456789abcdef.body", big, 0o644, mtime.Add(time.Second))
	mk("wheels/numpy-1.26.4-cp311-cp311-manylinux.whl", []byte("PK\x03\x04 zip bytes"), 0o644, mtime.Add(2*time.Second))
	mk("bin/tool", []byte("#!/bin/sh\necho hi\n"), 0o755, mtime.Add(3*time.Second))
	mk("empty-file", nil, 0o640, mtime.Add(4*time.Second))
	mk("with space/and,comma/ünïcode.txt", []byte("names survive"), 0o644, mtime)
	longName := filepath.Join("deep", string(bytes.Repeat([]byte("x"), 120)), string(bytes.Repeat([]byte("y"), 120)), "file")
	mk(longName, []byte("long path"), 0o644, mtime)
	if err := os.MkdirAll(filepath.Join(root, "empty-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("wheels/numpy-1.26.4-cp311-cp311-manylinux.whl", filepath.Join(root, "latest.whl")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("does-not-exist", filepath.Join(root, "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(root, "bin/tool"), filepath.Join(root, "bin/tool-again")); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "read-only/inner"), 0o755); err != nil {
		t.Fatal(err)
	}
	mk("read-only/inner/file", []byte("inside a read-only dir"), 0o444, mtime)
	if err := os.Chmod(filepath.Join(root, "read-only"), 0o555); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(root, "empty-dir"), 0o1777); err != nil {
		t.Fatal(err)
	}
	// Directory mtimes last, since creating entries above bumped them.
	for i, d := range []string{"empty-dir", "read-only", "http-v2/a/b"} {
		dm := mtime.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(filepath.Join(root, d), dm, dm); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(root, "read-only"), 0o755) })
}

func TestRoundTripKeepsContentModesTimesLinksAndEmptyDirs(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	buildTree(t, src)
	asRoot := os.Geteuid() == 0
	if asRoot {
		if err := os.Lchown(filepath.Join(src, "wheels"), 1234, 5678); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(filepath.Join(src, "bin/tool"), 4321, 8765); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(filepath.Join(src, "latest.whl"), 1111, 2222); err != nil {
			t.Fatal(err)
		}
	}

	var stream bytes.Buffer
	wstats, err := Write(ctx, &stream, src)
	if err != nil {
		t.Fatal(err)
	}
	if wstats.StreamBytes != int64(stream.Len()) || wstats.Hardlinks != 1 || wstats.Symlinks != 2 {
		t.Errorf("write stats: %+v (stream %d bytes)", wstats, stream.Len())
	}

	dst := filepath.Join(t.TempDir(), "restored")
	xstats, err := Extract(ctx, &stream, dst, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(filepath.Join(dst, "read-only"), 0o755) })

	before, err := ManifestOf(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	after, err := ManifestOf(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if c := Compare(before, after); !c.Empty() {
		t.Fatalf("restored tree differs: %+v", c)
	}
	if !wstats.Manifest.Equal(before) || !xstats.Manifest.Equal(after) {
		t.Errorf("manifests made while writing/extracting differ from the trees on disk")
	}
	// Compare ignores directory mtimes; a user restoring a cache still expects them.
	for i, e := range before.Entries {
		if got := after.Entries[i]; !got.ModTime.Equal(e.ModTime) {
			t.Errorf("%s: mtime %v, want %v", e.Path, got.ModTime, e.ModTime)
		}
	}

	for _, rel := range []string{"http-v2/a/b/c/d/e/0123456789abcdef.body", "bin/tool", "with space/and,comma/ünïcode.txt"} {
		want, _ := os.ReadFile(filepath.Join(src, rel))
		got, err := os.ReadFile(filepath.Join(dst, rel))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: content differs (err %v)", rel, err)
		}
	}
	if link, err := os.Readlink(filepath.Join(dst, "latest.whl")); err != nil || link != "wheels/numpy-1.26.4-cp311-cp311-manylinux.whl" {
		t.Errorf("symlink: %q %v", link, err)
	}
	a, _ := os.Stat(filepath.Join(dst, "bin/tool"))
	b, _ := os.Stat(filepath.Join(dst, "bin/tool-again"))
	if !os.SameFile(a, b) {
		t.Errorf("hard link restored as a copy")
	}
	if asRoot {
		for rel, want := range map[string][2]uint32{"wheels": {1234, 5678}, "bin/tool": {4321, 8765}, "latest.whl": {1111, 2222}} {
			fi, err := os.Lstat(filepath.Join(dst, rel))
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != want[0] || st.Gid != want[1] {
				t.Errorf("%s owned by %d:%d, want %d:%d", rel, st.Uid, st.Gid, want[0], want[1])
			}
		}
	} else {
		t.Log("not root: owners not checked")
	}
}

func TestWriteSkipsSocketsWithANote(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Skipf("cannot make a unix socket here: %v", err)
	}
	defer l.Close()
	var stream bytes.Buffer
	st, err := Write(context.Background(), &stream, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Skipped) != 1 || st.Skipped[0].Path != "sock" || st.Skipped[0].Reason != "socket" {
		t.Errorf("skipped: %+v", st.Skipped)
	}
	m, err := ManifestOf(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Equal(st.Manifest) {
		t.Errorf("ManifestOf must leave out what Write leaves out")
	}
	dst := t.TempDir()
	if _, err := Extract(context.Background(), &stream, dst, Limits{}); err != nil {
		t.Fatal(err)
	}
	if got := listTree(t, dst); len(got) != 1 || got[0] != "keep" {
		t.Errorf("restored %v", got)
	}
}

func TestWriteSameTreeGivesSameStream(t *testing.T) {
	src := t.TempDir()
	buildTree(t, src)
	var a, b bytes.Buffer
	sa, err := Write(context.Background(), &a, src, WithConcurrency(4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), &b, src, WithConcurrency(1)); err != nil {
		t.Fatal(err)
	}
	if sa.StreamBytes != int64(a.Len()) {
		t.Errorf("parallel compression reported %d stream bytes, wrote %d", sa.StreamBytes, a.Len())
	}
	// Different compression concurrency may frame blocks differently; the tar inside
	// must be identical.
	ra, rb := decompress(t, a.Bytes()), decompress(t, b.Bytes())
	if !bytes.Equal(ra, rb) {
		t.Errorf("two archives of the same tree differ")
	}
}

func TestWriteStopsWhenCancelled(t *testing.T) {
	src := t.TempDir()
	buildTree(t, src)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Write(ctx, io.Discard, src)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestManifestNoticesChangesAndIgnoresDirMtimes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	buildTree(t, dir)
	m1, err := ManifestOf(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// A temporary file created and removed bumps a directory mtime only.
	tmp := filepath.Join(dir, "wheels", "tmp123")
	if err := os.WriteFile(tmp, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(tmp); err != nil {
		t.Fatal(err)
	}
	m2, _ := ManifestOf(ctx, dir)
	if !m1.Equal(m2) {
		t.Errorf("a directory mtime alone counted as a change: %+v", Compare(m1, m2))
	}

	newer := time.Date(2025, 1, 1, 0, 0, 0, 1, time.UTC)
	if err := os.Chtimes(filepath.Join(dir, "bin/tool"), newer, newer); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wheels", "new.whl"), []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "empty-file")); err != nil {
		t.Fatal(err)
	}
	m3, _ := ManifestOf(ctx, dir)
	if m1.Equal(m3) {
		t.Fatal("changes went unnoticed")
	}
	c := Compare(m1, m3)
	// bin/tool and bin/tool-again are one inode: touching one touches both.
	if len(c.Added) != 1 || c.Added[0] != "wheels/new.whl" || len(c.Removed) != 1 || c.Removed[0] != "empty-file" ||
		len(c.Modified) != 2 || c.Modified[0] != "bin/tool" || c.Modified[1] != "bin/tool-again" {
		t.Errorf("changes: %+v", c)
	}
	if m3.Files != m1.Files || m3.Bytes != m1.Bytes+3 {
		t.Errorf("totals: before %d files %d bytes, after %d files %d bytes", m1.Files, m1.Bytes, m3.Files, m3.Bytes)
	}
}

func TestWriteAndManifestFollowASymlinkedRoot(t *testing.T) {
	real := t.TempDir()
	if err := os.WriteFile(filepath.Join(real, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(t.TempDir(), "cache")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	st, err := Write(context.Background(), io.Discard, link)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ManifestOf(context.Background(), link)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 1 || m.Files != 1 {
		t.Errorf("a symlinked root archived %d files, manifest %d; want 1", st.Files, m.Files)
	}
}
