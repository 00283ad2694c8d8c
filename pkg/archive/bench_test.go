package archive

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Benchmarks run on a generated pip-like cache (see benchTree). Size it with
// WARMBUILD_BENCH_MB (default 200); keep it across runs, e.g. for the CLI comparison in
// bench/archive, with WARMBUILD_BENCH_TREE=/some/dir.
//
//	go test ./pkg/archive -run '^$' -bench . -benchtime 3x

func benchTree(b *testing.B) (dir string, bytes int64) {
	b.Helper()
	mb := 200
	if v := os.Getenv("WARMBUILD_BENCH_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("WARMBUILD_BENCH_MB=%q is not a positive number", v)
		}
		mb = n
	}
	dir = os.Getenv("WARMBUILD_BENCH_TREE")
	if dir == "" {
		dir = filepath.Join(b.TempDir(), "pip")
	}
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err != nil {
		if err := os.RemoveAll(dir); err != nil {
			b.Fatal(err)
		}
		if err := generatePipLikeCache(dir, int64(mb)<<20); err != nil {
			b.Fatal(err)
		}
	}
	m, err := ManifestOf(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	return dir, m.Bytes
}

// generatePipLikeCache writes what ~/.cache/pip looks like after installing a few dozen
// packages: pip's HTTP cache (http-v2/a/b/c/d/e/<hash>, a small metadata file plus a
// ".body" that is the downloaded wheel, i.e. an incompressible zip), built wheels under
// wheels/, and a selfcheck file. About 70% of the bytes sit in a few multi-MB wheels;
// most files are small.
func generatePipLikeCache(dir string, total int64) error {
	rng := rand.New(rand.NewChaCha8([32]byte{'w', 'a', 'r', 'm'}))
	hexName := func() string {
		const digits = "0123456789abcdef"
		b := make([]byte, 56)
		for i := range b {
			b[i] = digits[rng.IntN(16)]
		}
		return string(b)
	}
	randomBytes := func(n int64) []byte {
		b := make([]byte, n)
		for i := 0; i+8 <= len(b); i += 8 {
			v := rng.Uint64()
			for j := range 8 {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		return b
	}
	write := func(rel string, data []byte, mtime time.Time) error {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		return os.Chtimes(p, mtime, mtime)
	}
	mtime := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	var written int64
	for i := 0; written < total; i++ {
		h := hexName()
		rel := filepath.Join("http-v2", h[0:1], h[1:2], h[2:3], h[3:4], h[4:5], h)
		var size int64
		switch {
		case i%40 == 0: // a big wheel (numpy, torch-lite, grpcio...)
			size = 2<<20 + rng.Int64N(10<<20)
		case i%4 == 0: // a mid-size wheel
			size = 100<<10 + rng.Int64N(400<<10)
		default: // a small pure-Python wheel
			size = 4<<10 + rng.Int64N(40<<10)
		}
		size = min(size, total-written)
		meta := fmt.Sprintf(`{"status": 200, "headers": {"content-type": "application/octet-stream", "etag": "%s", "content-length": "%d", "cache-control": "max-age=365000000, immutable, public", "date": "Fri, 01 Mar 2024 00:00:%02d GMT"}, "url": "https://files.example/packages/%s/pkg-%d-py3-none-any.whl"}`,
			h[:32], size, i%60, h[:8], i)
		if err := write(rel, []byte(meta), mtime.Add(time.Duration(i)*time.Second)); err != nil {
			return err
		}
		if err := write(rel+".body", randomBytes(size), mtime.Add(time.Duration(i)*time.Second)); err != nil {
			return err
		}
		written += size + int64(len(meta))
		if i%50 == 0 { // some sdists get built locally into wheels/
			w := filepath.Join("wheels", h[0:2], h[2:4], h[4:6], h[6:], fmt.Sprintf("built_pkg_%d-1.0-cp311-cp311-linux_x86_64.whl", i))
			data := randomBytes(200 << 10)
			if err := write(w, data, mtime); err != nil {
				return err
			}
			written += int64(len(data))
		}
	}
	if err := write("selfcheck/"+hexName()+".json", []byte(`{"last_check":"2024-03-01T00:00:00Z","pypi_version":"24.0"}`), mtime); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ".complete"), nil, 0o644)
}

func BenchmarkWrite(b *testing.B) {
	dir, size := benchTree(b)
	for _, bc := range []struct {
		name string
		opts []WriteOption
	}{
		{"fastest", nil}, // the defaults
		{"fastest-allcores", []WriteOption{WithConcurrency(runtime.GOMAXPROCS(0))}},
		{"fastest-1core", []WriteOption{WithConcurrency(1)}},
		{"default", []WriteOption{WithLevel(zstd.SpeedDefault)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			var out countingWriter
			out.w = io.Discard
			for b.Loop() {
				out.n = 0
				if _, err := Write(context.Background(), &out, dir, bc.opts...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(out.n)/float64(size), "ratio")
		})
	}
}

func BenchmarkExtract(b *testing.B) {
	dir, size := benchTree(b)
	for _, bc := range []struct {
		name  string
		level zstd.EncoderLevel
	}{{"fastest", zstd.SpeedFastest}, {"default", zstd.SpeedDefault}} {
		b.Run(bc.name, func(b *testing.B) {
			var stream bytes.Buffer
			if _, err := Write(context.Background(), &stream, dir, WithLevel(bc.level)); err != nil {
				b.Fatal(err)
			}
			dst := b.TempDir()
			b.SetBytes(size)
			i := 0
			for b.Loop() {
				target := filepath.Join(dst, strconv.Itoa(i))
				if _, err := Extract(context.Background(), bytes.NewReader(stream.Bytes()), target, Limits{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := os.RemoveAll(target); err != nil {
					b.Fatal(err)
				}
				i++
				b.StartTimer()
			}
		})
	}
}
