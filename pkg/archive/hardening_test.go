package archive

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A failed extraction must not leave a link that resolves outside the target, and must
// not leave half an archive: the fuzzer's find was "here -> .", "out -> here/.." and no
// end marker, which returned before the links were checked.
func TestFailedExtractionLeavesNoEscapingLinkAndAnEmptyTarget(t *testing.T) {
	for name, data := range map[string][]byte{
		"no end marker": compress(t, rawTar(t, []tarEntry{symlink("here", "."), symlink("out", "here/..")}, false)),
		"refused entry": hostile(t, symlink("here", "."), symlink("out", "here/.."), file("f", "x"), file("../up", "x")),
		"cut content":   compress(t, rawTar(t, []tarEntry{symlink("here", "."), symlink("out", "here/..")}, true)[:1536+100]),
	} {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := extractBytes(t, data, s.root, Limits{})
			wantArchiveError(t, err, err.(*Error).Kind)
			s.assertContained(t)
			if left := listTree(t, s.root); len(left) != 0 {
				t.Errorf("failed extraction left %q in the target", left)
			}
		})
	}
}

// A stream cut right after a last file whose content ends in 1 KiB of zeros looks like
// an end-of-archive marker to anyone scanning bytes; tar's framing says it is not one.
func TestStreamCutAfterFileEndingInZerosIsCorrupt(t *testing.T) {
	body := "payload" + string(make([]byte, 2048))
	cut := compress(t, rawTar(t, []tarEntry{file("a", "x"), file("zeros", body)}, false))
	s := newSandbox(t)
	_, err := extractBytes(t, cut, s.root, Limits{})
	if ae := wantArchiveError(t, err, Corrupt); !strings.Contains(ae.Error(), "end-of-archive") {
		t.Errorf("error %q does not say the end-of-archive marker is missing", err)
	}
	if _, err := List(context.Background(), bytes.NewReader(cut), Limits{}); err == nil {
		t.Error("List accepted a stream without an end-of-archive marker")
	}
	// The same archive with its marker (and GNU tar's record padding after it) is fine.
	whole := rawTar(t, []tarEntry{file("a", "x"), file("zeros", body)}, true)
	whole = append(whole, make([]byte, 8192)...)
	if _, err := extractBytes(t, compress(t, whole), newSandbox(t).root, Limits{}); err != nil {
		t.Fatalf("complete archive refused: %v", err)
	}
	// One zero block only: a marker cut in half.
	half := append(rawTar(t, []tarEntry{file("a", "x")}, false), make([]byte, 512)...)
	_, err = extractBytes(t, compress(t, half), newSandbox(t).root, Limits{})
	wantArchiveError(t, err, Corrupt)
}

// Extract refuses, as typed errors, names that a later save could not walk; what it
// accepts, Write, ManifestOf and Prune handle.
func TestExtractRefusesNamesLaterStepsCannotWalk(t *testing.T) {
	deep := strings.Repeat(strings.Repeat("d", 100)+"/", 44) + strings.Repeat("f", 100) // 45 components, 4544 bytes
	cases := map[string][]tarEntry{
		"45 components of 100 bytes": {file(deep, "x")},
		"a 300-byte name":            {file(strings.Repeat("n", 300), "x")},
		"a hard link to itself":      {file("h", "x"), hardlink("h", "h")},
		"too deep":                   {file(strings.Repeat("a/", MaxDepth)+"f", "x")},
		"a huge symlink target":      {symlink("l", strings.Repeat("a/", 2100))},
		"a long hard link target":    {file("h", "x"), hardlink("g", strings.Repeat("t", 300))},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := extractBytes(t, hostile(t, entries...), s.root, Limits{})
			wantArchiveError(t, err, Unsafe)
			s.assertContained(t)
			if _, err := List(context.Background(), bytes.NewReader(hostile(t, entries...)), Limits{}); name != "a huge symlink target" {
				var ae *Error
				if !errors.As(err, &ae) {
					t.Errorf("List: want *archive.Error, got %v", err)
				}
			}
		})
	}

	t.Run("the longest accepted names survive a save", func(t *testing.T) {
		comp := strings.Repeat("c", MaxNameBytes)
		var parts []string
		for len(strings.Join(parts, "/"))+1+MaxNameBytes <= MaxPathBytes {
			parts = append(parts, comp)
		}
		long := strings.Join(parts, "/")
		dir := filepath.Join(t.TempDir(), "mount")
		if _, err := extractBytes(t, hostile(t, file(long, "content"), file("other", "y")), dir, Limits{}); err != nil {
			t.Fatalf("extract %d-byte path: %v", len(long), err)
		}
		if _, err := ManifestOf(context.Background(), dir); err != nil {
			t.Fatalf("manifest: %v", err)
		}
		if _, err := Write(context.Background(), io.Discard, dir); err != nil {
			t.Fatalf("write: %v", err)
		}
		if _, err := Prune(context.Background(), dir, 1); err != nil {
			t.Fatalf("prune: %v", err)
		}
	})
}

// 64 MiB of zeros compress to a few KiB: refused for its ratio, while a small archive of
// very compressible content (below RatioFloor) is not.
func TestExtractRefusesAnArchiveThatExpandsTooMuch(t *testing.T) {
	bomb := hostile(t, file("zeros", string(make([]byte, 64<<20))))
	if len(bomb) > 64<<10 {
		t.Fatalf("test archive is %d bytes, not a bomb", len(bomb))
	}
	s := newSandbox(t)
	_, err := extractBytes(t, bomb, s.root, Limits{})
	if ae := wantArchiveError(t, err, TooLarge); !strings.Contains(ae.Error(), "times its compressed size") {
		t.Errorf("error %q does not name the ratio", err)
	}
	s.assertContained(t)
	if left := listTree(t, s.root); len(left) != 0 {
		t.Errorf("refused archive left %q", left)
	}

	small := hostile(t, file("zeros", string(make([]byte, 8<<20))))
	if _, err := extractBytes(t, small, newSandbox(t).root, Limits{}); err != nil {
		t.Fatalf("8 MiB of zeros (under the floor) refused: %v", err)
	}
}

// skippable returns zstd skippable frames (RFC 8878 3.1.2) carrying n bytes in total.
func skippable(n int) []byte {
	var out []byte
	for n > 0 {
		size := min(n, 1<<20)
		frame := make([]byte, 8+size)
		binary.LittleEndian.PutUint32(frame, 0x184D2A50)
		binary.LittleEndian.PutUint32(frame[4:], uint32(size))
		out = append(out, frame...)
		n -= size
	}
	return out
}

// endless yields skippable frames forever: a download of unknown size that never ends.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	frame := skippable(1 << 20)
	n := copy(p, frame[e.n%int64(len(frame)):])
	e.n += int64(n)
	return n, nil
}

// Skippable frames decompress to nothing; they count against the byte budget, so a
// stream of them ends at the cap instead of being read past it (or forever).
func TestSkippableFramesCountAgainstTheByteBudget(t *testing.T) {
	limits := Limits{MaxBytes: 1 << 20}
	data := append(skippable(16<<20), hostile(t, file("a", "x"))...)
	src := &countingSource{r: bytes.NewReader(data)}
	_, err := Extract(context.Background(), src, newSandbox(t).root, limits)
	if ae := wantArchiveError(t, err, TooLarge); !strings.Contains(ae.Error(), "compressed stream exceeds") {
		t.Errorf("error %q does not say the compressed stream is too long", err)
	}
	if src.n > 8<<20 {
		t.Errorf("read %d bytes of a stream capped near 2 MiB", src.n)
	}

	for name, run := range map[string]func(ctx context.Context, r io.Reader) error{
		"extract": func(ctx context.Context, r io.Reader) error {
			_, err := Extract(ctx, r, newSandbox(t).root, limits)
			return err
		},
		"list": func(ctx context.Context, r io.Reader) error {
			_, err := List(ctx, r, Limits{MaxBytes: 1 << 20, MaxEntries: 10})
			return err
		},
	} {
		t.Run(name+" of an endless download", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, &endless{})
			if ctx.Err() != nil {
				t.Fatal("an endless stream of skippable frames was read until the deadline")
			}
			wantArchiveError(t, err, TooLarge)
		})
	}
}

type countingSource struct {
	r io.Reader
	n int64
}

func (c *countingSource) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// A stream that breaks part way (a download that failed) is reported as the read error it
// is, not as a corrupt or empty archive: the entry may be fine, and the user should see
// the transfer failed.
func TestBrokenStreamIsReportedAsTheReadError(t *testing.T) {
	data := hostile(t, file("a", strings.Repeat("content ", 4096)))
	// As Go's transport reports a connection closed under it: an error wrapping io.EOF.
	broken := fmt.Errorf("download cache entry k: GET bytes 0-169: Get %q: %w", "http://127.0.0.1/b", io.EOF)
	for name, r := range map[string]func() io.Reader{
		"before any byte": func() io.Reader { return io.MultiReader(&failingReader{err: broken}) },
		"part way": func() io.Reader {
			return io.MultiReader(bytes.NewReader(data[:len(data)/2]), &failingReader{err: broken})
		},
		"through a listing": func() io.Reader {
			r, _ := ListWhileReading(context.Background(), io.MultiReader(bytes.NewReader(data[:len(data)/2]), &failingReader{err: broken}), Limits{})
			return r
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := Extract(context.Background(), r(), s.root, Limits{})
			var ae *Error
			if !errors.Is(err, broken) || errors.As(err, &ae) {
				t.Fatalf("want the read error, not an archive error; got %T: %v", err, err)
			}
			if left := listTree(t, s.root); len(left) != 0 {
				t.Errorf("left %q", left)
			}
		})
	}
}

type failingReader struct{ err error }

func (f *failingReader) Read([]byte) (int, error) { return 0, f.err }
