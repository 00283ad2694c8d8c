package mountcache

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// ServiceStore against nektos/act's own cache server (in-process, no daemon): a miss is a
// nil StoreEntry (not a typed nil the engine would take for a hit), and a saved entry
// comes back with its key, exactness and bytes.
func TestServiceStoreOnActsCacheServer(t *testing.T) {
	srv := cachetest.StartV1(t)
	getenv, _ := cacheservice.WithActToken(srv.Getenv, time.Now())
	c, err := cacheservice.FromEnv(getenv)
	if err != nil {
		t.Fatal(err)
	}
	s, ctx := ServiceStore(c), context.Background()
	e, err := s.Restore(ctx, "warmbuild-mount-x-linux-amd64-aaa", []string{"warmbuild-mount-x-linux-amd64-"}, "v1")
	if err != nil || e != nil {
		t.Fatalf("miss: entry %v, %v; want nil, nil", e, err)
	}
	if res, err := s.Save(ctx, "warmbuild-mount-x-linux-amd64-aaa", "v1", strings.NewReader("archive bytes")); err != nil || res.AlreadyExists {
		t.Fatalf("save: %+v %v", res, err)
	}
	for _, c := range []struct {
		key   string
		exact bool
	}{{"warmbuild-mount-x-linux-amd64-aaa", true}, {"warmbuild-mount-x-linux-amd64-bbb", false}} {
		e, err := s.Restore(ctx, c.key, []string{"warmbuild-mount-x-linux-amd64-"}, "v1")
		if err != nil || e == nil {
			t.Fatalf("restore %s: %v %v", c.key, e, err)
		}
		if e.Key() != "warmbuild-mount-x-linux-amd64-aaa" || e.Exact() != c.exact || e.Unreachable() != nil || e.Source().Key != e.Key() {
			t.Errorf("restore %s: key %s exact %v unreachable %v source %+v", c.key, e.Key(), e.Exact(), e.Unreachable(), e.Source())
		}
		body := e.Open(ctx)
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil || string(b) != "archive bytes" {
			t.Errorf("open: %q %v", b, err)
		}
		if src, err := e.FreshSource(ctx); err != nil || src.Key != e.Key() {
			t.Errorf("fresh source: %+v %v", src, err)
		}
	}
}
