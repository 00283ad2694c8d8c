package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A delta is an archive of what changed, written with WithOnly and extracted after its
// base from one stream: the result is the changed tree, and List of the same stream says
// so without writing anything.
func TestDeltaAfterBaseRebuildsTheTree(t *testing.T) {
	ctx := context.Background()
	tree := t.TempDir()
	buildTree(t, tree)
	var base bytes.Buffer
	if _, err := Write(ctx, &base, tree); err != nil {
		t.Fatal(err)
	}
	before, err := ManifestOf(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}

	// What a build does to a pip cache: a new wheel in a new directory, a rewritten file.
	later := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.MkdirAll(filepath.Join(tree, "wheels/new/dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "wheels/new/dir/extra-1.0.whl"), []byte("new wheel"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tree, "empty-file"), []byte("now with content"), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"wheels/new/dir/extra-1.0.whl", "empty-file"} {
		if err := os.Chtimes(filepath.Join(tree, p), later, later); err != nil {
			t.Fatal(err)
		}
	}
	after, err := ManifestOf(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	ch := Compare(before, after)
	if len(ch.Removed) != 0 || len(ch.Modified) != 1 || len(ch.Added) != 3 {
		t.Fatalf("changes = %+v, want 1 modified, 3 added (2 dirs and a file)", ch)
	}
	var delta bytes.Buffer
	st, err := Write(ctx, &delta, tree, WithOnly(append(ch.Added, ch.Modified...)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 2 || st.FileBytes != int64(len("new wheel")+len("now with content")) {
		t.Errorf("delta holds %d files, %d bytes; want the 2 changed files only", st.Files, st.FileBytes)
	}

	stream := func() *bytes.Reader {
		return bytes.NewReader(append(append([]byte{}, base.Bytes()...), delta.Bytes()...))
	}
	out := filepath.Join(t.TempDir(), "out")
	xs, err := Extract(ctx, stream(), out, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ManifestOf(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(after) {
		t.Errorf("base+delta extracted to a different tree: %+v", Compare(after, got))
	}
	if xs.Manifest.Digest != after.Digest {
		t.Errorf("Extract's manifest %s, want the tree's %s", xs.Manifest.Digest, after.Digest)
	}
	listed, err := List(ctx, stream(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if listed.Digest != after.Digest {
		t.Errorf("List of base+delta: %+v", Compare(after, listed))
	}
	listedBase, err := List(ctx, bytes.NewReader(base.Bytes()), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if listedBase.Digest != before.Digest {
		t.Errorf("List of the base: %+v", Compare(before, listedBase))
	}
}

// A second archive cut short, or bytes after the last archive that are not one, are
// refused like any damaged stream.
func TestConcatenatedStreamsAreCheckedToTheEnd(t *testing.T) {
	ctx := context.Background()
	tree := t.TempDir()
	if err := os.WriteFile(filepath.Join(tree, "f"), bytes.Repeat([]byte("x"), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	var one bytes.Buffer
	if _, err := Write(ctx, &one, tree); err != nil {
		t.Fatal(err)
	}
	// The second archive cut at an entry boundary (no end marker), and bytes that are no
	// archive at all, each compressed as its own zstd frame as a concatenation would be.
	cut := compress(t, rawTar(t, []tarEntry{file("g", "second")}, false))
	junk := compress(t, []byte("not a tar header"))
	for name, tail := range map[string][]byte{"truncated second archive": cut, "trailing garbage": junk} {
		data := append(append([]byte{}, one.Bytes()...), tail...)
		_, err := Extract(ctx, bytes.NewReader(data), filepath.Join(t.TempDir(), "x"), Limits{})
		var ae *Error
		if !errors.As(err, &ae) || ae.Kind != Corrupt {
			t.Errorf("%s: Extract = %v, want a Corrupt archive error", name, err)
		}
		if _, err := List(ctx, bytes.NewReader(data), Limits{}); !errors.As(err, &ae) {
			t.Errorf("%s: List = %v, want an archive error", name, err)
		}
	}
}

// Listing along a stream that goes elsewhere: the manifest when the stream was read to
// its end, an error when the reader stopped early.
func TestListWhileReading(t *testing.T) {
	ctx := context.Background()
	tree := t.TempDir()
	buildTree(t, tree)
	var buf bytes.Buffer
	st, err := Write(ctx, &buf, tree)
	if err != nil {
		t.Fatal(err)
	}
	r, wait := ListWhileReading(ctx, bytes.NewReader(buf.Bytes()), Limits{})
	var copied bytes.Buffer
	if _, err := copied.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	m, err := wait()
	if err != nil || m.Digest != st.Manifest.Digest || !bytes.Equal(copied.Bytes(), buf.Bytes()) {
		t.Errorf("read to the end: manifest %s (%v), want %s; bytes passed through unchanged: %v", m.Digest, err, st.Manifest.Digest, bytes.Equal(copied.Bytes(), buf.Bytes()))
	}

	r, wait = ListWhileReading(ctx, bytes.NewReader(buf.Bytes()), Limits{})
	if _, err := r.Read(make([]byte, 100)); err != nil {
		t.Fatal(err)
	}
	if _, err := wait(); err == nil {
		t.Errorf("a stream read only in part must not give a manifest")
	}
}
