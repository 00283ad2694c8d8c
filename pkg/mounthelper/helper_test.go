package mounthelper

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/archive"
)

// The helper subcommands run inside BuildKit; here they run on plain directories.

// call runs the helper as a helper build does: the request in a file, the subcommand
// and the request's path as arguments. The result is what the helper wrote, read as the
// action reads it (zero when it wrote none).
func call(t *testing.T, req Request) (code int, out string, res Result) {
	t.Helper()
	if req.OutDir == "" {
		req.OutDir = t.TempDir()
	}
	p := filepath.Join(t.TempDir(), RequestName)
	if err := WriteRequest(p, req); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	code, ok := RunHelper(context.Background(), []string{string(req.Op), p}, &buf, &buf)
	if !ok {
		t.Fatalf("%s not handled as a helper command", req.Op)
	}
	if code == 0 {
		var err error
		if res, err = ReadResult(filepath.Join(req.OutDir, ResultName), req.Op); err != nil {
			t.Fatalf("exit 0, but the result: %v\n%s", err, buf.String())
		}
	}
	return code, buf.String(), res
}

// injectFile runs mount-inject of the archive file p into mount.
func injectFile(t *testing.T, p, mount string) (int, string, Result) {
	t.Helper()
	return call(t, Request{Op: OpInject, Source: SourceFile, Archive: p, MountDir: mount})
}

// extract runs mount-extract of mount into outDir.
func extract(t *testing.T, mount, outDir, restored string, maxBytes int64, base *archive.Manifest) ExtractResult {
	t.Helper()
	code, out, res := call(t, Request{Op: OpExtract, MountDir: mount, OutDir: outDir, RestoredDigest: restored, MaxBytes: maxBytes, Base: base})
	if code != 0 || res.Extract == nil {
		t.Fatalf("exit %d: %s", code, out)
	}
	return *res.Extract
}

func writeTree(t *testing.T, dir string, files map[string]int) {
	t.Helper()
	old := time.Now().Add(-48 * time.Hour)
	for name, size := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

func archiveOf(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "a.tar.zst")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := archive.Write(context.Background(), f, dir); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestArgsThatAreNotHelperCommandsRunTheAction(t *testing.T) {
	for _, args := range [][]string{nil, {}, {"--version"}, {"mount-injector"}} {
		if _, ok := RunHelper(context.Background(), args, &bytes.Buffer{}, &bytes.Buffer{}); ok {
			t.Errorf("%q was taken as a helper command", args)
		}
	}
}

func TestInjectUnpacksIntoAnEmptyMountAndReportsWhatItHolds(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"http/a": 10, "wheels/b.whl": 20})
	mount := t.TempDir()
	code, out, res := injectFile(t, archiveOf(t, src), mount)
	if code != 0 || res.Inject == nil {
		t.Fatalf("exit %d: %s", code, out)
	}
	rep := *res.Inject
	m, err := archive.ManifestOf(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != "injected" || rep.Files != 2 || rep.Bytes != 30 || rep.PathsDigest != PathsDigest(m) {
		t.Errorf("report %+v", rep)
	}
	if b, err := os.ReadFile(filepath.Join(mount, "wheels/b.whl")); err != nil || len(b) != 20 {
		t.Errorf("file not unpacked: %v", err)
	}
}

// A long-lived builder keeps its cache mounts: what it holds is not overwritten.
func TestInjectKeepsAMountThatAlreadyHoldsFiles(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"restored": 10})
	mount := t.TempDir()
	writeTree(t, mount, map[string]int{"local": 5})
	code, out, res := injectFile(t, archiveOf(t, src), mount)
	if code != 0 || res.Inject == nil || res.Inject.Status != InjectKept {
		t.Fatalf("exit %d: %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(mount, "restored")); err == nil {
		t.Errorf("restored file written into a mount that had its own cache")
	}
}

func TestInjectOfAHostileArchiveFailsAndLeavesTheMountEmpty(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"a": 1 << 20, "b": 1 << 20, "c": 1 << 20})
	good, err := os.ReadFile(archiveOf(t, src))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"truncated": good[:len(good)/2],
		"garbage":   []byte("this is not zstd at all"),
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bad")
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			mount := t.TempDir()
			// A refusal is the helper's answer (exit 0, so the build exports it),
			// with its reason, not a failed build.
			code, out, res := injectFile(t, p, mount)
			if code != 0 || res.Inject != nil || !strings.Contains(res.Refused, "corrupt archive") || !strings.Contains(res.Refused, "left empty") {
				t.Errorf("exit %d, result %+v: %s", code, res, out)
			}
			if entries, _ := os.ReadDir(mount); len(entries) != 0 {
				t.Errorf("mount not emptied: %d entries left", len(entries))
			}
		})
	}
}

func TestExtractArchivesAChangedMountAndSkipsAnUnchangedOne(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"http/a": 10, "wheels/b.whl": 20})
	mount := t.TempDir()
	code, injected, res := injectFile(t, archiveOf(t, src), mount)
	if code != 0 || res.Inject == nil {
		t.Fatal(injected)
	}
	rep := *res.Inject

	// pip revalidating an index page rewrites it in place: not a change worth saving.
	if err := os.WriteFile(filepath.Join(mount, "http/a"), []byte("refreshed!"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	if r := extract(t, mount, out, rep.PathsDigest, 1000000, nil); r.Status != ExtractUnchanged {
		t.Errorf("rewritten file only: %+v, want unchanged", r)
	}
	if _, err := os.Stat(filepath.Join(out, ExtractArchiveName)); err == nil {
		t.Errorf("archive written for an unchanged mount")
	}

	// A new package is a change: archived, and the archive restores the tree.
	writeTree(t, mount, map[string]int{"wheels/new.whl": 30})
	out = t.TempDir()
	r := extract(t, mount, out, rep.PathsDigest, 1000000, nil)
	if r.Status != ExtractArchived || r.Files != 3 || r.Bytes != 60 {
		t.Fatalf("after adding a file: %+v", r)
	}
	f, err := os.Open(filepath.Join(out, ExtractArchiveName))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := archive.Extract(context.Background(), f, t.TempDir(), archive.Limits{})
	if err != nil || st.Files != 3 || PathsDigest(st.Manifest) != r.PathsDigest || st.StreamBytes != r.ArchiveBytes {
		t.Errorf("archive: %+v, %v", st, err)
	}
}

// The saved cache is capped: files the build did not touch go first, the ones it read or
// wrote stay.
func TestExtractPrunesToTheLimitKeepingWhatTheBuildUsed(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"unused-1": 400, "unused-2": 400, "read": 400})
	mount := t.TempDir()
	if code, out, _ := injectFile(t, archiveOf(t, src), mount); code != 0 {
		t.Fatal(out)
	}
	// The build reads one file (its atime moves, as on a relatime mount where
	// atime <= mtime) and downloads a new one.
	now := time.Now()
	fi, _ := os.Stat(filepath.Join(mount, "read"))
	if err := os.Chtimes(filepath.Join(mount, "read"), now, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	writeTree(t, mount, map[string]int{"new": 400})
	if err := os.Chtimes(filepath.Join(mount, "new"), now, now); err != nil {
		t.Fatal(err)
	}
	r := extract(t, mount, t.TempDir(), "", 1000, nil)
	if r.Status != ExtractArchived || r.Files != 2 || r.PrunedFiles != 2 || r.PrunedBytes != 800 {
		t.Errorf("%+v", r)
	}
	for _, name := range []string{"read", "new"} {
		if _, err := os.Stat(filepath.Join(mount, name)); err != nil {
			t.Errorf("%s was pruned although the build used it", name)
		}
	}
}

func TestExtractOfAnEmptyMountSavesNothing(t *testing.T) {
	if r := extract(t, t.TempDir(), t.TempDir(), "", 1000, nil); r.Status != ExtractEmpty {
		t.Errorf("%+v", r)
	}
}

// The archive socket carries the stream in chunks with an end marker, because BuildKit's
// forwarding does not pass a close on; a stream cut before the marker is an error, so a
// broken transfer can never pass for a shorter archive.
func TestArchiveStreamFramingEndsOnlyAtTheMarker(t *testing.T) {
	data := bytes.Repeat([]byte("pip-cache-bytes "), 200_000) // several chunks
	var framed bytes.Buffer
	cw := ChunkWriter{w: &framed}
	if _, err := cw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(&chunkReader{r: bytes.NewReader(framed.Bytes())})
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("round trip: %d of %d bytes, %v", len(got), len(data), err)
	}
	cut := framed.Bytes()[:framed.Len()-4] // everything but the end marker
	if _, err := io.ReadAll(&chunkReader{r: bytes.NewReader(cut)}); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("stream without its end marker: %v, want io.ErrUnexpectedEOF", err)
	}
}

// When the action's side of a streamed transfer fails (its download broke), the helper
// is told through the stream itself and fails at once with the reason, instead of
// waiting on a connection that the session keeps open.
func TestAnAbortedStreamFailsTheHelperAtOnce(t *testing.T) {
	pr, pw := io.Pipe() // never closed: as the session's forwarded socket
	defer pw.Close()
	go func() {
		cw := NewChunkWriter(pw)
		_, _ = cw.Write(bytes.Repeat([]byte("x"), 3000))
		_ = cw.Abort("the download of the cache entry failed")
	}()
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(&chunkReader{r: pr})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrSenderFailed) || !strings.Contains(err.Error(), "download of the cache entry failed") {
			t.Errorf("read of an aborted stream = %v, want ErrSenderFailed with the sender's reason", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the reader still waits on an aborted stream")
	}
}

// Given the manifest of the restored full entry, extraction archives only what changed
// since; that delta, extracted after the base archive, gives the mount's tree. A change
// that removes a file of the base, or rewrites most of it, gets a full archive instead.
func TestExtractWritesADeltaOnTheBase(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	writeTree(t, src, map[string]int{"http/a": 10, "wheels/b.whl": 200, "wheels/c.whl": 300})
	baseArchive := archiveOf(t, src)
	f, err := os.Open(baseArchive)
	if err != nil {
		t.Fatal(err)
	}
	base, err := archive.List(ctx, f, archive.Limits{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	mount := t.TempDir()
	if code, o, _ := injectFile(t, baseArchive, mount); code != 0 {
		t.Fatal(o)
	}
	writeTree(t, mount, map[string]int{"wheels/new/d.whl": 40})

	out := t.TempDir()
	r := extract(t, mount, out, "", 1000000, &base)
	if r.Status != ExtractDelta || r.DeltaFiles != 1 || r.DeltaBytes != 40 || r.Files != 4 || r.Bytes != 550 {
		t.Fatalf("one new wheel on a restored base: %+v, want a delta of 1 file (40 bytes) of a 4-file tree", r)
	}
	both, err := os.ReadFile(baseArchive)
	if err != nil {
		t.Fatal(err)
	}
	delta, err := os.ReadFile(filepath.Join(out, ExtractArchiveName))
	if err != nil {
		t.Fatal(err)
	}
	restored := t.TempDir()
	st, err := archive.Extract(ctx, bytes.NewReader(append(both, delta...)), restored, archive.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := archive.ManifestOf(ctx, mount)
	if err != nil {
		t.Fatal(err)
	}
	if PathsDigest(st.Manifest) != PathsDigest(want) || st.Manifest.Bytes != want.Bytes {
		t.Errorf("base + delta restore %d files, %d bytes; the mount has %d, %d", st.Manifest.Files, st.Manifest.Bytes, want.Files, want.Bytes)
	}

	// Removing a base file cannot be said by a delta: full archive.
	if err := os.Remove(filepath.Join(mount, "wheels/b.whl")); err != nil {
		t.Fatal(err)
	}
	if r := extract(t, mount, t.TempDir(), "", 1000000, &base); r.Status != ExtractArchived || r.Files != 3 {
		t.Errorf("after removing a base file: %+v, want a full archive of 3 files", r)
	}
}
