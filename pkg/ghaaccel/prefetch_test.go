package ghaaccel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"testing"
	"time"

	actionscache "github.com/tonistiigi/go-actions-cache"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// When BuildKit reads the cache's index through the accelerator, the small layers it
// names are fetched ahead; BuildKit's later lookup and download of one reach neither the
// service nor the storage, and get the layer's bytes. A layer whose stored bytes do not
// match its digest is not held: BuildKit's lookup goes to the service as usual.
func TestTheIndexsSmallLayersAreFetchedAheadAndServedFromMemory(t *testing.T) {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, ProxyBlobs: true})
	direct := client(t, srv.URL(), token, http.DefaultTransport)
	ctx := context.Background()

	workdir := []byte("a 96-byte WORKDIR layer, more or less")
	big := bytes.Repeat([]byte("x"), prefetchMaxBlob+1)
	liar := []byte("not the bytes its digest names")
	liarDigest := digestOf([]byte("the bytes the index names"))
	for key, data := range map[string][]byte{
		blobKeyV1 + digestOf(workdir): workdir, blobKeyV1 + digestOf(big): big, blobKeyV1 + liarDigest: liar,
	} {
		if err := direct.Save(ctx, key, actionscache.NewBlob(data)); err != nil {
			t.Fatal(err)
		}
	}
	index := fmt.Sprintf(`{"layers":[{"blob":%q,"annotations":{"size":%d}},{"blob":%q,"annotations":{"size":%d}},{"blob":%q,"annotations":{"size":%d}}]}`,
		digestOf(workdir), len(workdir), digestOf(big), len(big), liarDigest, len(liar))
	if err := direct.SaveMutable(ctx, "index-buildkit-1-test", 15*time.Second, func(*actionscache.Entry) (actionscache.Blob, error) {
		return actionscache.NewBlob([]byte(index)), nil
	}); err != nil {
		t.Fatal(err)
	}

	p := startProxy(t, srv, Options{})
	viaProxy := client(t, p.URL("127.0.0.1"), token, http.DefaultTransport)
	e, err := viaProxy.Load(ctx, "index-buildkit-1-test")
	if err != nil || e == nil {
		t.Fatalf("load the index: %v %v", e, err)
	}
	if got := string(readAll(t, ctx, e)); got != index {
		t.Fatalf("index read %q", got)
	}
	waitPrefetched(t, p, 2) // the WORKDIR layer and the liar; the big one is not fetched ahead

	lookups, gets := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL)), len(srv.CallsTo(cachetest.GetBlob))
	e, err = viaProxy.Load(ctx, blobKeyV1+digestOf(workdir))
	if err != nil || e == nil {
		t.Fatalf("load the WORKDIR layer: %v %v", e, err)
	}
	if got := readAll(t, ctx, e); !bytes.Equal(got, workdir) {
		t.Fatalf("WORKDIR layer read %q, want %q", got, workdir)
	}
	ra := e.Download(ctx)
	part := make([]byte, 5)
	if _, err := ra.ReadAt(part, 2); err != nil || !bytes.Equal(part, workdir[2:7]) {
		t.Errorf("ranged read of a held layer: %q, %v", part, err)
	}
	ra.Close()
	if n := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL)) - lookups; n != 0 {
		t.Errorf("%d lookups reached the service for a layer fetched ahead, want 0", n)
	}
	if n := len(srv.CallsTo(cachetest.GetBlob)) - gets; n != 0 {
		t.Errorf("%d GETs reached the storage for a layer fetched ahead, want 0", n)
	}

	e, err = viaProxy.Load(ctx, blobKeyV1+liarDigest)
	if err != nil || e == nil {
		t.Fatalf("load the mismatched layer: %v %v", e, err)
	}
	if got := readAll(t, ctx, e); !bytes.Equal(got, liar) {
		t.Errorf("the mismatched layer read %q, want the storage's bytes", got)
	}
	if n := len(srv.CallsTo(cachetest.GetCacheEntryDownloadURL)) - lookups; n != 1 {
		t.Errorf("%d lookups reached the service for a layer whose bytes did not match, want 1", n)
	}
}

func waitPrefetched(t *testing.T, p *Proxy, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		n, done := len(p.prefetch), 0
		for _, pf := range p.prefetch {
			if closed(pf.done) {
				done++
			}
		}
		p.mu.Unlock()
		if n == want && done == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the small layers were not fetched ahead (want %d)", want)
}

func TestSmallLayersReadsOnlyCanonicalDigestsWithinTheLimits(t *testing.T) {
	d := digestOf([]byte("a"))
	for _, tc := range []struct {
		index string
		want  int
	}{
		{`{"layers":[{"blob":"` + d + `","annotations":{"size":10}}]}`, 1},
		{`{"layers":[{"blob":"` + d + `","annotations":{"size":10}},{"blob":"` + d + `","annotations":{"size":10}}]}`, 1},
		{`{"layers":[{"blob":"sha256:../../etc","annotations":{"size":10}}]}`, 0},
		{`{"layers":[{"blob":"` + d + `"}]}`, 0},
		{`{"layers":[{"blob":"` + d + `","annotations":{"size":-1}}]}`, 0},
		{`not json`, 0},
	} {
		if got := smallLayers([]byte(tc.index)); len(got) != tc.want {
			t.Errorf("smallLayers(%s) = %v, want %d", tc.index, got, tc.want)
		}
	}
}
