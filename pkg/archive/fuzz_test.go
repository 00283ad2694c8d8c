package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// FuzzExtract feeds arbitrary bytes to Extract twice: as a tar stream (compressed here,
// so the fuzzer explores tar headers rather than zstd framing) and as the raw stream.
// Whatever the input, Extract must not panic, must return either success or an error,
// and must leave nothing outside its directory.
//
//	go test ./pkg/archive -run '^$' -fuzz FuzzExtract -fuzztime 60s
func FuzzExtract(f *testing.F) {
	seedTar := func(entries ...tarEntry) []byte { return rawTar(f, entries, true) }
	f.Add(seedTar(file("a", "x"), dirEntry("d/"), file("d/b", "yy"), symlink("l", "d/b"), hardlink("h", "a")))
	f.Add(seedTar(file("../escape", "x")))
	f.Add(seedTar(file("/abs", "x")))
	f.Add(seedTar(symlink("up", ".."), file("up/canary", "pwned")))
	f.Add(seedTar(symlink("here", "."), symlink("out", "here/..")))
	f.Add(seedTar(dirEntry("r/"), symlink("alias", "r"), file("alias/x", "y")))
	f.Add(seedTar(hardlink("h", "../canary")))
	f.Add(seedTar(tarEntry{hdr: tar.Header{Name: "null", Typeflag: tar.TypeChar, Mode: 0o666}}))
	f.Add(seedTar(file("f", "1"), dirEntry("f/"), file("f/g", "2"), file("f", "3")))
	f.Add(compress(f, seedTar(file("already-compressed", "z"))))
	f.Add([]byte{})

	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		f.Fatal(err)
	}
	limits := Limits{MaxBytes: 1 << 20, MaxEntries: 1000, MaxWindow: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, stream := range [][]byte{enc.EncodeAll(data, nil), data} {
			s := newSandbox(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := Extract(ctx, bytes.NewReader(stream), s.root, limits)
			cancel()
			var ae *Error
			if err != nil && !errors.As(err, &ae) && ctx.Err() == nil {
				// Disk errors are possible in principle (EEXIST races cannot happen here);
				// log them so a surprising one is visible without failing the run.
				t.Logf("non-archive error: %v", err)
			}
			s.assertContained(t)
		}
	})
}

// FuzzList: List never panics, refuses with an *Error, and reads every archive Extract
// accepts into the manifest Extract built (a delta is computed against List's manifest
// of what the helper extracted).
//
//	go test ./pkg/archive -run '^$' -fuzz '^FuzzList$' -fuzztime 60s
func FuzzList(f *testing.F) {
	seedTar := func(entries ...tarEntry) []byte { return rawTar(f, entries, true) }
	f.Add(seedTar(file("a", "x"), dirEntry("d/"), file("d/b", "yy"), symlink("l", "d/b"), hardlink("h", "a")))
	f.Add(seedTar(file("f", "1"), file("f", "22"), hardlink("g", "f")))
	f.Add(seedTar(file("s", "x"), hardlink("s", "s")))
	f.Add(append(seedTar(file("a", "1")), seedTar(file("a", "2"), file("b", "3"))...))
	f.Add(rawTar(f, []tarEntry{file("z", "data"+string(make([]byte, 1024)))}, false))
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
	if err != nil {
		f.Fatal(err)
	}
	limits := Limits{MaxBytes: 1 << 20, MaxEntries: 1000, MaxWindow: 1 << 20}
	f.Fuzz(func(t *testing.T, data []byte) {
		stream := enc.EncodeAll(data, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, lerr := List(ctx, bytes.NewReader(stream), limits)
		var ae *Error
		if lerr != nil && !errors.As(lerr, &ae) && ctx.Err() == nil {
			if _, ok := lerr.(readErr); !ok {
				t.Fatalf("List error is not an *archive.Error: %T %v", lerr, lerr)
			}
		}
		s := newSandbox(t)
		st, xerr := Extract(ctx, bytes.NewReader(stream), s.root, limits)
		if xerr == nil && ctx.Err() == nil {
			if lerr != nil {
				t.Fatalf("Extract accepted what List refused: %v", lerr)
			}
			if !m.Equal(st.Manifest) {
				t.Fatalf("List and Extract disagree:\nlist    %+v\nextract %+v", m.Entries, st.Manifest.Entries)
			}
		}
	})
}
