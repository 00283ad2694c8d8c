package cacheservice_bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
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
