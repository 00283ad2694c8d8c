package ghapi_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/ghapi"
	"github.com/warmbuild/warmbuild/pkg/ghapi/ghapitest"
)

// testToken is distinctive so a leak into an error message is easy to spot.
const testToken = "ghs_TESTTOKENdoNotLeak0123456789"

const testRepo = "octo-org/octo-repo"

// fakeClock stands in for time: sleeping advances it and is recorded.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 2, 9, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func startServer(t *testing.T, opts ghapitest.Options) *ghapitest.Server {
	t.Helper()
	if opts.Repository == "" {
		opts.Repository = testRepo
	}
	if opts.Token == "" {
		opts.Token = testToken
	}
	srv := ghapitest.NewServer(opts)
	t.Cleanup(srv.Close)
	return srv
}

func newClient(t *testing.T, srv *ghapitest.Server, clock *fakeClock, opts ...ghapi.Option) *ghapi.Client {
	t.Helper()
	opts = append([]ghapi.Option{ghapi.WithClock(clock.Now, clock.Sleep)}, opts...)
	c, err := ghapi.New(testToken, srv.URL, testRepo, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// requestsFor returns the recorded requests of one documented operation.
func requestsFor(srv *ghapitest.Server, operation string) []ghapitest.Request {
	var out []ghapitest.Request
	for _, r := range srv.Requests() {
		if r.Operation == operation {
			out = append(out, r)
		}
	}
	return out
}

func assertNoTokenIn(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testToken) {
		t.Errorf("error message leaks the token: %v", err)
	}
}
