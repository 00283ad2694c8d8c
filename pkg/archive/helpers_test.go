package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"golang.org/x/sys/unix"
)

// tarEntry is one entry of a hand-built (possibly hostile) archive.
type tarEntry struct {
	hdr  tar.Header
	body []byte
}

func file(name string, body string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1_700_000_000, 0)}, body: []byte(body)}
}

func dirEntry(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(1_700_000_000, 0)}}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, ModTime: time.Unix(1_700_000_000, 0)}}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, ModTime: time.Unix(1_700_000_000, 0)}}
}

// rawTar builds an uncompressed tar stream; endMarker false leaves off the two zero
// blocks, as a stream cut at an entry boundary would.
func rawTar(t testing.TB, entries []tarEntry, endMarker bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("write header %s: %v", hdr.Name, err)
		}
		if len(e.body) > 0 {
			if _, err := tw.Write(e.body); err != nil {
				t.Fatalf("write body %s: %v", hdr.Name, err)
			}
		}
	}
	if endMarker {
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
	} else if err := tw.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func compress(t testing.TB, raw []byte, opts ...zstd.EOption) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func hostile(t testing.TB, entries ...tarEntry) []byte {
	return compress(t, rawTar(t, entries, true))
}

// sandbox is a directory holding the extraction target "root" and a canary file
// beside it that no extraction may touch.
type sandbox struct {
	dir, root, canary string
}

const canaryContent = "canary: must never change"

func newSandbox(t testing.TB) sandbox {
	t.Helper()
	dir := t.TempDir()
	s := sandbox{dir: dir, root: filepath.Join(dir, "root"), canary: filepath.Join(dir, "canary")}
	if err := os.WriteFile(s.canary, []byte(canaryContent), 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

// assertContained fails unless the sandbox holds exactly root and the unchanged canary,
// and every symlink under root resolves inside root.
func (s sandbox) assertContained(t testing.TB) {
	t.Helper()
	names, err := os.ReadDir(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n.Name() != "root" && n.Name() != "canary" {
			t.Errorf("extraction wrote %s outside its directory", filepath.Join(s.dir, n.Name()))
		}
	}
	fi, err := os.Lstat(s.canary)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o644 {
		t.Fatalf("canary replaced or re-moded: %v %v", fi, err)
	}
	if got, _ := os.ReadFile(s.canary); string(got) != canaryContent {
		t.Errorf("canary beside the target was rewritten: %q", got)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink != 1 {
		t.Errorf("canary gained hard links")
	}
	assertSymlinksInside(t, s.root)
}

func assertSymlinksInside(t testing.TB, root string) {
	t.Helper()
	rootReal, err := filepath.EvalSymlinks(root)
	if errors.Is(err, fs.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type()&(fs.ModeDevice|fs.ModeCharDevice|fs.ModeNamedPipe) != 0 {
			t.Errorf("special file %s extracted", p)
		}
		if d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		real, err := kernelRealpath(p)
		if err != nil {
			return nil // dangling links cannot be followed anywhere
		}
		if rel, _ := filepath.Rel(rootReal, real); rel == ".." || len(rel) >= 3 && rel[:3] == "../" {
			t.Errorf("symlink %s resolves outside the directory to %s", p, real)
		}
		return nil
	})
}

func wantArchiveError(t *testing.T, err error, kind ErrorKind) *Error {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) {
		t.Fatalf("want *archive.Error of kind %v, got %T: %v", kind, err, err)
	}
	if ae.Kind != kind {
		t.Fatalf("want %v, got %v: %v", kind, ae.Kind, err)
	}
	return ae
}

func extractBytes(t testing.TB, data []byte, dir string, limits Limits) (Stats, error) {
	t.Helper()
	return Extract(context.Background(), bytes.NewReader(data), dir, limits)
}

func listTree(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != root {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	slices.Sort(out)
	return out
}

// kernelRealpath resolves p as the kernel does. filepath.EvalSymlinks applies ".."
// lexically, so it misses "out -> here/.." with "here -> .", which the kernel follows out.
func kernelRealpath(p string) (string, error) {
	fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	return os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
}
