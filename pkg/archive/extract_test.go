package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func decompress(t testing.TB, data []byte) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestExtractRefusesHostileArchives: each archive tries to reach outside the target
// directory or to plant something a cache never holds. Each must fail with an *Error
// naming the problem, and nothing outside the directory may change.
func TestExtractRefusesHostileArchives(t *testing.T) {
	cases := []struct {
		name    string
		archive func(s sandbox) []tarEntry
		kind    ErrorKind
		says    string
	}{
		{"absolute path", func(s sandbox) []tarEntry {
			return []tarEntry{file(filepath.Join(s.dir, "planted"), "x")}
		}, Unsafe, "absolute path"},
		{"dot-dot escape", func(sandbox) []tarEntry {
			return []tarEntry{file("../planted", "x")}
		}, Unsafe, `".." in path`},
		{"dot-dot inside a longer path", func(sandbox) []tarEntry {
			return []tarEntry{dirEntry("a/"), file("a/../../planted", "x")}
		}, Unsafe, `".." in path`},
		{"symlink to an absolute directory, then a file through it", func(s sandbox) []tarEntry {
			return []tarEntry{symlink("etc", s.dir), file("etc/canary", "pwned")}
		}, Unsafe, "absolute path"},
		{"symlink climbing out, then a file through it", func(sandbox) []tarEntry {
			return []tarEntry{symlink("up", ".."), file("up/canary", "pwned")}
		}, Unsafe, "outside the directory"},
		{"file written through an in-tree symlink to a directory", func(sandbox) []tarEntry {
			return []tarEntry{dirEntry("real/"), symlink("alias", "real"), file("alias/x", "through a link")}
		}, Unsafe, "symlink or a file"},
		{"symlink chain that escapes only when followed", func(sandbox) []tarEntry {
			return []tarEntry{symlink("here", "."), symlink("out", "here/..")}
		}, Unsafe, "outside the directory"},
		{"symlink chain through a subdirectory link", func(sandbox) []tarEntry {
			return []tarEntry{dirEntry("d/"), symlink("d/self", "."), symlink("d/self2", "self/../..")}
		}, Unsafe, "outside the directory"},
		{"hard link to a file outside", func(sandbox) []tarEntry {
			return []tarEntry{hardlink("h", "../canary")}
		}, Unsafe, "outside the directory"},
		{"hard link to an absolute path", func(s sandbox) []tarEntry {
			return []tarEntry{hardlink("h", s.canary)}
		}, Unsafe, "outside the directory"},
		{"hard link through a symlink", func(sandbox) []tarEntry {
			return []tarEntry{symlink("up", "d"), dirEntry("d/"), file("d/f", "x"), hardlink("h", "up/f")}
		}, Unsafe, "hard link target"},
		{"hard link to a symlink pointing out", func(sandbox) []tarEntry {
			return []tarEntry{symlink("s", "x"), hardlink("h", "s")}
		}, Unsafe, "not a regular file"},
		{"character device", func(sandbox) []tarEntry {
			return []tarEntry{{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}}}
		}, Unsafe, "device"},
		{"block device", func(sandbox) []tarEntry {
			return []tarEntry{{hdr: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8, Mode: 0o660}}}
		}, Unsafe, "device"},
		{"fifo", func(sandbox) []tarEntry {
			return []tarEntry{{hdr: tar.Header{Name: "pipe", Typeflag: tar.TypeFifo, Mode: 0o644}}}
		}, Unsafe, "named pipe"},
		{"file replacing a directory", func(sandbox) []tarEntry {
			return []tarEntry{dirEntry("d/"), file("d/keep", "x"), file("d", "replaces the dir")}
		}, Unsafe, "would replace a directory"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := extractBytes(t, hostile(t, tc.archive(s)...), s.root, Limits{})
			ae := wantArchiveError(t, err, tc.kind)
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			if ae.Entry == "" {
				t.Errorf("error does not name the entry: %v", err)
			}
			s.assertContained(t)
		})
	}
}

func TestExtractReplacesLinksInsteadOfWritingThroughThem(t *testing.T) {
	s := newSandbox(t)
	archive := hostile(t,
		file("target", "original"),
		symlink("via-symlink", "target"),
		hardlink("via-hardlink", "target"),
		file("via-symlink", "new content for the link's name"),
		file("via-hardlink", "new content for the hard link's name"),
	)
	st, err := extractBytes(t, archive, s.root, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.root, "target")); string(got) != "original" {
		t.Errorf("a later entry wrote through a link into target: %q", got)
	}
	for _, name := range []string{"via-symlink", "via-hardlink"} {
		fi, err := os.Lstat(filepath.Join(s.root, name))
		if err != nil || !fi.Mode().IsRegular() {
			t.Errorf("%s: want a regular file, got %v %v", name, fi, err)
		}
	}
	m, _ := ManifestOf(context.Background(), s.root)
	if !m.Equal(st.Manifest) {
		t.Errorf("extract manifest does not describe the tree: %+v", Compare(st.Manifest, m))
	}
	s.assertContained(t)
}

func TestExtractCapsAndStreamDamage(t *testing.T) {
	valid := func(t *testing.T) []byte {
		src := t.TempDir()
		buildTree(t, src)
		var buf bytes.Buffer
		if _, err := Write(context.Background(), &buf, src); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	cases := []struct {
		name   string
		data   func(t *testing.T) []byte
		limits Limits
		kind   ErrorKind
		says   string
	}{
		{"zip bomb beyond the byte cap", func(t *testing.T) []byte {
			return hostile(t, file("zeros", string(make([]byte, 2<<20))))
		}, Limits{MaxBytes: 1 << 20}, TooLarge, "limit"},
		{"many small files beyond the byte cap", func(t *testing.T) []byte {
			var es []tarEntry
			for i := range 20 {
				es = append(es, file("f"+string(rune('a'+i)), string(make([]byte, 100))))
			}
			return hostile(t, es...)
		}, Limits{MaxBytes: 1000}, TooLarge, "limit"},
		{"too many entries", func(t *testing.T) []byte {
			var es []tarEntry
			for i := range 11 {
				es = append(es, dirEntry("d"+string(rune('a'+i))+"/"))
			}
			return hostile(t, es...)
		}, Limits{MaxEntries: 10}, TooLarge, "more than 10 entries"},
		{"endless PAX headers with no entry", func(t *testing.T) []byte {
			var raw bytes.Buffer
			rec := "30 comment=" + strings.Repeat("x", 18) + "\n"
			for range 4000 {
				hdr := make([]byte, 512)
				copy(hdr, "PaxHeaders/x")
				copy(hdr[100:], "0000644\x00")
				copy(hdr[124:], padOctal(len(rec), 11)+"\x00")
				copy(hdr[136:], "00000000000\x00")
				hdr[156] = 'x'
				copy(hdr[257:], "ustar\x0000")
				copy(hdr[148:], "        ")
				sum := 0
				for _, c := range hdr {
					sum += int(c)
				}
				copy(hdr[148:], padOctal(sum, 6)+"\x00 ")
				raw.Write(hdr)
				block := make([]byte, 512)
				copy(block, rec)
				raw.Write(block)
			}
			return compress(t, raw.Bytes())
		}, Limits{}, TooLarge, "decompressed stream exceeds"},
		{"zstd window beyond the cap", func(t *testing.T) []byte {
			raw := rawTar(t, []tarEntry{file("big", strings.Repeat("0123456789", 1<<20))}, true)
			return compress(t, raw, zstd.WithWindowSize(8<<20))
		}, Limits{MaxWindow: 1 << 20}, TooLarge, "window"},
		{"truncated stream", func(t *testing.T) []byte {
			d := valid(t)
			return d[:len(d)/2]
		}, Limits{}, Corrupt, ""},
		{"stream cut just before its end", func(t *testing.T) []byte {
			d := valid(t)
			return d[:len(d)-3]
		}, Limits{}, Corrupt, ""},
		{"tar without end-of-archive marker", func(t *testing.T) []byte {
			return compress(t, rawTar(t, []tarEntry{file("a", "x")}, false))
		}, Limits{}, Corrupt, "end-of-archive"},
		{"flipped byte in the middle", func(t *testing.T) []byte {
			d := bytes.Clone(valid(t))
			d[len(d)/2] ^= 0xff
			return d
		}, Limits{}, Corrupt, ""},
		{"garbage", func(t *testing.T) []byte {
			return []byte("this is not a zstd stream, just text from a broken cache service")
		}, Limits{}, Corrupt, ""},
		{"uncompressed tar", func(t *testing.T) []byte {
			return rawTar(t, []tarEntry{file("a", "x")}, true)
		}, Limits{}, Corrupt, ""},
		{"empty", func(t *testing.T) []byte { return nil }, Limits{}, Corrupt, "empty stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSandbox(t)
			_, err := extractBytes(t, tc.data(t), s.root, tc.limits)
			wantArchiveError(t, err, tc.kind)
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
			s.assertContained(t)
		})
	}
}

func padOctal(n, width int) string { return fmt.Sprintf("%0*o", width, n) }

func TestExtractAcceptsArchivesFromOtherTools(t *testing.T) {
	// GNU tar and others write "./" prefixes, a root entry and repeat names; all fine.
	s := newSandbox(t)
	archive := hostile(t,
		dirEntry("./"),
		dirEntry("./pip/"),
		file("./pip/a", "first"),
		file("./pip/a", "second wins"),
		file("pip//b", "double slash"),
	)
	st, err := extractBytes(t, archive, s.root, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(s.root, "pip/a")); string(got) != "second wins" {
		t.Errorf("pip/a = %q", got)
	}
	if got := listTree(t, s.root); strings.Join(got, ",") != "pip,pip/a,pip/b" {
		t.Errorf("tree: %v", got)
	}
	m, _ := ManifestOf(context.Background(), s.root)
	if !m.Equal(st.Manifest) {
		t.Errorf("extract manifest: %+v", Compare(st.Manifest, m))
	}
	s.assertContained(t)
}

func TestExtractDropsSetuidBits(t *testing.T) {
	s := newSandbox(t)
	e := file("suid", "x")
	e.hdr.Mode = 0o4755
	if _, err := extractBytes(t, hostile(t, e), s.root, Limits{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(s.root, "suid"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSetuid != 0 || fi.Mode().Perm() != 0o755 {
		t.Errorf("mode %v, want -rwxr-xr-x without setuid", fi.Mode())
	}
}

func TestExtractStopsWhenCancelled(t *testing.T) {
	s := newSandbox(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Extract(ctx, bytes.NewReader(hostile(t, file("a", "x"))), s.root, Limits{})
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("want a cancellation error, got %v", err)
	}
}
