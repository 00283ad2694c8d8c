// Package cacheservice_bench measures the cache service client's throughput
// and peak memory against the local v2 server + Azurite, next to plain HTTP
// copies of the same bytes. See README.md for results and how to run.
package cacheservice_bench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/internal/netmodel"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// benchSize is the stream size: BENCH_SIZE_MIB, default 1024.
func benchSize(b *testing.B) int64 {
	mib := int64(1024)
	if v := os.Getenv("BENCH_SIZE_MIB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			b.Fatalf("BENCH_SIZE_MIB=%q: want a positive number", v)
		}
		mib = n
	}
	return mib << 20
}

// profile is the network between the client and the storage: WB_BENCH_PROFILE (one of
// internal/netmodel's loopback, near, far), nothing added when unset. Its name prefixes
// every sub-benchmark when set, so results of different profiles never mix.
func profile(b *testing.B) (netmodel.Profile, string) {
	name := os.Getenv("WB_BENCH_PROFILE")
	if name == "" {
		return netmodel.Loopback, ""
	}
	p, err := netmodel.ByName(name)
	if err != nil {
		b.Fatalf("WB_BENCH_PROFILE: %v", err)
	}
	b.Logf("network profile %v", p)
	return p, p.Name + "/"
}

// behind puts the service at rawURL behind a relay of p and returns the relayed URL (the
// same URL for loopback: nothing to add).
func behind(b *testing.B, p netmodel.Profile, rawURL string) string {
	if p.Name == netmodel.Loopback.Name {
		return rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		b.Fatal(err)
	}
	r, err := netmodel.Start(u.Host, p)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	u.Host = r.Addr()
	return u.String()
}

// behindStorage points AZURITE_BLOB_URL at a relay of p before a test server or Azurite
// client is made, so every signed URL goes over the profile's network.
func behindStorage(b *testing.B, p netmodel.Profile) {
	az := cachetest.StackValue("AZURITE_BLOB_URL")
	if az == "" {
		return // FindAzurite/StartV2 say what is missing
	}
	b.Setenv("AZURITE_BLOB_URL", behind(b, p, az))
}

// generated is n pseudo-random bytes made on the fly (about 2 GB/s here,
// so the source is not the bottleneck).
func generated(seed uint64, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{byte(seed), 0xbe, 0xef}), n)
}

// heapPeak samples HeapInuse every 5 ms while f runs.
func heapPeak(f func()) uint64 {
	runtime.GC()
	stop := make(chan struct{})
	var peak uint64
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	return peak
}

func report(b *testing.B, size int64, elapsed time.Duration, peak uint64) {
	b.ReportMetric(float64(size)/elapsed.Seconds()/1e6, "MB/s")
	b.ReportMetric(float64(peak)/1e6, "peak-heap-MB")
	b.ReportMetric(0, "ns/op") // one transfer per op; MB/s says it
}

type clientSetup struct {
	name        string
	parallelism int
	blockSize   int
}

var clientSetups = []clientSetup{
	{"p1-b8MiB", 1, 8 << 20},
	{"p4-b8MiB(default)", cacheservice.DefaultParallelism, cacheservice.DefaultBlockSize},
	{"p8-b8MiB", 8, 8 << 20},
	{"p4-b32MiB", 4, 32 << 20},
}

// BenchmarkClientV2 uploads (Save) and downloads (Restore + Download) one
// stream through the v2 test server and Azurite.
func BenchmarkClientV2(b *testing.B) {
	size := benchSize(b)
	p, prefix := profile(b)
	behindStorage(b, p)
	srv := cachetest.StartV2(b, cachetest.V2Options{})
	// The twirp front is as far as the storage (a lookup, a reservation, a finalize: a
	// round trip each).
	front := behind(b, p, srv.URL())
	getenv := func(k string) string {
		if k == "ACTIONS_RESULTS_URL" {
			return front
		}
		return srv.Getenv(k)
	}
	ctx := context.Background()
	for _, cs := range clientSetups {
		c, err := cacheservice.FromEnv(getenv,
			cacheservice.WithParallelism(cs.parallelism), cacheservice.WithBlockSize(cs.blockSize),
			cacheservice.WithWarnf(b.Logf))
		if err != nil {
			b.Fatal(err)
		}
		keys := 0
		b.Run(prefix+"upload/"+cs.name, func(b *testing.B) {
			for b.Loop() {
				keys++
				key := fmt.Sprintf("bench-%s-%d", cs.name, keys)
				var elapsed time.Duration
				peak := heapPeak(func() {
					start := time.Now()
					res, err := c.Save(ctx, key, "bench", generated(uint64(keys), size))
					elapsed = time.Since(start)
					if err != nil || res.Size != size {
						b.Fatalf("Save = %+v, %v", res, err)
					}
				})
				report(b, size, elapsed, peak)
			}
		})
		b.Run(prefix+"download/"+cs.name, func(b *testing.B) {
			for b.Loop() {
				e, err := c.Restore(ctx, fmt.Sprintf("bench-%s-%d", cs.name, keys), nil, "bench")
				if err != nil || e == nil {
					b.Fatalf("Restore = %+v, %v", e, err)
				}
				var elapsed time.Duration
				peak := heapPeak(func() {
					start := time.Now()
					n, err := e.Download(ctx, io.Discard)
					elapsed = time.Since(start)
					if err != nil || n != size {
						b.Fatalf("Download = %d, %v", n, err)
					}
				})
				report(b, size, elapsed, peak)
			}
		})
	}
}

// BenchmarkBaselineAzuriteOneStream is the same bytes as one Put Blob and
// one GET on Azurite, without the client: what the storage does with a
// single plain HTTP stream.
func BenchmarkBaselineAzuriteOneStream(b *testing.B) {
	size := benchSize(b)
	p, prefix := profile(b)
	behindStorage(b, p)
	az := cachetest.FindAzurite(b)
	ctx := context.Background()
	container, err := az.NewContainer(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = az.DeleteContainer(context.Background(), container) })
	blobURL, err := az.SignedURL(container, "baseline", "rcw", time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	b.Run(prefix+"upload", func(b *testing.B) {
		for b.Loop() {
			var elapsed time.Duration
			peak := heapPeak(func() {
				req, err := http.NewRequestWithContext(ctx, http.MethodPut, blobURL, generated(1, size))
				if err != nil {
					b.Fatal(err)
				}
				req.ContentLength = size
				req.Header.Set("x-ms-blob-type", "BlockBlob")
				start := time.Now()
				resp, err := http.DefaultClient.Do(req)
				elapsed = time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Fatalf("Put Blob: HTTP %d", resp.StatusCode)
				}
			})
			report(b, size, elapsed, peak)
		}
	})
	b.Run(prefix+"download", func(b *testing.B) {
		for b.Loop() {
			var elapsed time.Duration
			peak := heapPeak(func() { elapsed = plainGet(b, blobURL, size) })
			report(b, size, elapsed, peak)
		}
	})
}

// BenchmarkBaselineLoopbackHTTP is a Go HTTP server on 127.0.0.1 that
// discards a PUT and serves a GET from the generator: the machine's ceiling
// for one HTTP stream, with no storage behind it.
func BenchmarkBaselineLoopbackHTTP(b *testing.B) {
	size := benchSize(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(http.StatusCreated)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		_, _ = io.Copy(w, generated(2, size))
	}))
	b.Cleanup(srv.Close)
	// Under a profile: one plain stream over the link, its ceiling for one connection.
	p, prefix := profile(b)
	srvURL := behind(b, p, srv.URL)
	b.Run(prefix+"upload", func(b *testing.B) {
		for b.Loop() {
			var elapsed time.Duration
			peak := heapPeak(func() {
				req, err := http.NewRequest(http.MethodPut, srvURL, generated(1, size))
				if err != nil {
					b.Fatal(err)
				}
				req.ContentLength = size
				start := time.Now()
				resp, err := http.DefaultClient.Do(req)
				elapsed = time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
			})
			report(b, size, elapsed, peak)
		}
	})
	b.Run(prefix+"download", func(b *testing.B) {
		for b.Loop() {
			var elapsed time.Duration
			peak := heapPeak(func() { elapsed = plainGet(b, srvURL, size) })
			report(b, size, elapsed, peak)
		}
	})
}

func plainGet(b *testing.B, url string, size int64) time.Duration {
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		b.Fatalf("GET: %d bytes, %v", n, err)
	}
	return time.Since(start)
}
