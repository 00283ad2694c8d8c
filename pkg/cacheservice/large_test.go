//go:build e2e

package cacheservice_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// heapWatch samples the heap in use until stopped and keeps the peak.
type heapWatch struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func watchHeap(every time.Duration) *heapWatch {
	h := &heapWatch{stop: make(chan struct{})}
	h.done.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			h.peak = max(h.peak, ms.HeapInuse)
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	})
	return h
}

// Stop ends sampling and returns the peak heap in use, in bytes.
func (h *heapWatch) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak
}

// generated is a stream of n pseudo-random bytes made on the fly.
func generated(seed uint64, n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{byte(seed), 0xca, 0xfe}), n)
}

func TestOneGiBRoundTripKeepsMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GiB each way; runs in the full suite")
	}
	const size = 1 << 30
	// The bound the mount cache relies on: defaults (4 blocks of 8 MiB in
	// flight, one being read) plus the runtime's slack stay well under it.
	const heapBound = 96 << 20
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c, err := cacheservice.FromEnv(srv.Getenv, cacheservice.WithWarnf(t.Logf))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	runtime.GC()
	heap := watchHeap(5 * time.Millisecond)
	saved := sha256.New()
	start := time.Now()
	res, err := c.Save(ctx, "big-1gib", version, io.TeeReader(generated(42, size), saved))
	if err != nil || res.Size != size {
		heap.Stop()
		t.Fatalf("Save = %+v, %v; want %d bytes stored", res, err, size)
	}
	upload := time.Since(start)

	e, err := c.Restore(ctx, "big-1gib", nil, version)
	if err != nil || e == nil || e.Size != size {
		heap.Stop()
		t.Fatalf("Restore = %+v, %v; want the 1 GiB entry", e, err)
	}
	restored := sha256.New()
	start = time.Now()
	n, err := e.Download(ctx, restored)
	downloadTime := time.Since(start)
	peak := heap.Stop()
	if err != nil || n != size {
		t.Fatalf("Download = %d bytes, %v", n, err)
	}
	if !bytes.Equal(saved.Sum(nil), restored.Sum(nil)) {
		t.Fatal("the restored 1 GiB differs from the saved stream (sha256)")
	}
	mbps := func(d time.Duration) float64 { return size / d.Seconds() / (1 << 20) }
	t.Logf("upload %s (%.0f MiB/s), download %s (%.0f MiB/s), peak heap in use %.1f MiB",
		upload.Round(time.Millisecond), mbps(upload), downloadTime.Round(time.Millisecond), mbps(downloadTime), float64(peak)/(1<<20))
	if peak > heapBound {
		t.Errorf("peak heap in use %.1f MiB while moving 1 GiB, want under %d MiB", float64(peak)/(1<<20), heapBound>>20)
	}
}
