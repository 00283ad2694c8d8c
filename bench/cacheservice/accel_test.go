package cacheservice_bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	actionscache "github.com/tonistiigi/go-actions-cache"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/ghaaccel"
)

// BenchmarkAccelLayerExport is a gha layer cache export as BuildKit's exporter makes it
// (gha.go Finalize: per layer a lookup and a Save, one after another, then the index with
// SaveMutable), through the accelerator, with the service and its storage behind
// WB_BENCH_PROFILE: 20 small layers of 64 KiB, the shape of a mode=max build of many
// short steps, whose cost is round trips, not bytes. "in-request" commits each blob in
// BuildKit's own requests (as before the write-behind), "behind" in the background.
func BenchmarkAccelLayerExport(b *testing.B) {
	p, prefix := profile(b)
	behindStorage(b, p)
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(b, cachetest.V2Options{Token: token})
	front := behind(b, p, srv.URL())
	const layers, size = 20, 64 << 10
	blob := make([]byte, size)
	export := 0
	for _, mode := range []struct {
		name      string
		inRequest bool
	}{{"in-request", true}, {"behind", false}} {
		acc, err := ghaaccel.Start("127.0.0.1:0", ghaaccel.Options{Upstream: front, CommitInRequest: mode.inRequest})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = acc.Close(context.Background()) })
		c, err := actionscache.New(token, acc.URL("127.0.0.1"), true, actionscache.Opt{Client: &http.Client{}, Timeout: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("%s%d-layers-64KiB/%s", prefix, layers, mode.name), func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				export++
				start := time.Now()
				for i := range layers {
					_, _ = rand.Read(blob)
					key := fmt.Sprintf("buildkit-blob-1-sha256:%d-%d", export, i)
					if e, err := c.Load(ctx, key); err != nil || e != nil {
						b.Fatalf("lookup %s: %v %v", key, e, err)
					}
					if err := c.Save(ctx, key, actionscache.NewBlob(blob)); err != nil {
						b.Fatalf("save %s: %v", key, err)
					}
				}
				err := c.SaveMutable(ctx, fmt.Sprintf("index-bench-%d", export), 15*time.Second, func(*actionscache.Entry) (actionscache.Blob, error) {
					return actionscache.NewBlob([]byte("{}")), nil
				})
				if err != nil {
					b.Fatalf("index: %v", err)
				}
				b.ReportMetric(time.Since(start).Seconds(), "s/export")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

// BenchmarkAccelLayerDownload is a gha import's read of one big layer as BuildKit makes it
// (go-actions-cache Entry.WriteTo: one DownloadStream copied in 32 KiB reads), three
// ways: "direct", BuildKit's own path to the storage; "ranges", through the accelerator's
// parallel ranges (the default); "stream", through the accelerator as one stream
// (WARMBUILD_LAYER_ACCEL=uploads). Besides MB/s it reports the CPU seconds this process
// (the client and the accelerator) and Azurite spent: on 2 cores a build's other work
// waits for them. BENCH_SIZE_MIB sets the layer (default 1024; the heavy layer is 330).
func BenchmarkAccelLayerDownload(b *testing.B) {
	size := benchSize(b)
	p, prefix := profile(b)
	behindStorage(b, p)
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(b, cachetest.V2Options{Token: token})
	front := behind(b, p, srv.URL())
	ctx := context.Background()
	direct, err := actionscache.New(token, front, true, actionscache.Opt{Client: &http.Client{}, Timeout: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	const key = "buildkit-blob-1-sha256:download-bench"
	blob, err := io.ReadAll(generated(3, size))
	if err != nil {
		b.Fatal(err)
	}
	if err := direct.Save(ctx, key, actionscache.NewBlob(blob)); err != nil {
		b.Fatalf("save the layer: %v", err)
	}
	blob = nil
	azurite := azuritePID()
	for _, way := range []struct {
		name  string
		accel *ghaaccel.Options
	}{
		{"direct", nil},
		{"ranges", &ghaaccel.Options{}},
		{"stream", &ghaaccel.Options{StreamDownloads: true}},
	} {
		c := direct
		if way.accel != nil {
			opt := *way.accel
			opt.Upstream = front
			acc, err := ghaaccel.Start("127.0.0.1:0", opt)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = acc.Close(context.Background()) })
			if c, err = actionscache.New(token, acc.URL("127.0.0.1"), true, actionscache.Opt{Client: &http.Client{}, Timeout: time.Minute}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(fmt.Sprintf("%s%dMiB/%s", prefix, size>>20, way.name), func(b *testing.B) {
			for b.Loop() {
				cpu0, az0 := selfCPU(), processCPU(azurite)
				start := time.Now()
				e, err := c.Load(ctx, key)
				if err != nil || e == nil {
					b.Fatalf("load: %v %v", e, err)
				}
				n := &countingDiscard{}
				if err := e.WriteTo(ctx, n); err != nil {
					b.Fatalf("read: %v", err)
				}
				elapsed := time.Since(start)
				if n.n != size {
					b.Fatalf("read %d bytes, want %d", n.n, size)
				}
				b.ReportMetric(float64(size)/elapsed.Seconds()/1e6, "MB/s")
				b.ReportMetric((selfCPU() - cpu0).Seconds(), "cpu-s")
				if azurite > 0 {
					b.ReportMetric((processCPU(azurite) - az0).Seconds(), "azurite-cpu-s")
				}
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}

type countingDiscard struct{ n int64 }

func (c *countingDiscard) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// selfCPU is the user and system time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// azuritePID is the stack's Azurite (scripts/stack/azurite.sh writes its pid), 0 if unknown.
func azuritePID() int {
	stack := cachetest.StackValue("WARMBUILD_STACK")
	if stack == "" {
		return 0
	}
	data, err := os.ReadFile(filepath.Join(stack, "run", "azurite.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// processCPU is pid's user and system time from /proc/pid/stat (clock ticks of 10 ms).
func processCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command's closing parenthesis: state is field 3, utime 14, stime 15.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data)[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}
