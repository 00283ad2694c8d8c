package ghapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/ghapi"
	"github.com/warmbuild/warmbuild/pkg/ghapi/ghapitest"
)

func TestPrimaryRateLimitWithAShortResetIsWaitedOut(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	fixture(srv, 3)
	clock := newFakeClock()
	srv.Fail(ghapitest.PrimaryRateLimit(ghapitest.ListCaches, clock.Now().Add(5*time.Second)).WithCount(1))

	res, err := newClient(t, srv, clock).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	if err != nil {
		t.Fatalf("PruneSuperseded: %v", err)
	}
	// Until X-RateLimit-Reset plus a second for its whole-second resolution.
	if got := clock.Sleeps(); len(got) != 1 || got[0] != 6*time.Second {
		t.Errorf("slept %v, want [6s]", got)
	}
	if n := len(requestsFor(srv, ghapitest.ListCaches)); n != 2 {
		t.Errorf("%d list requests, want 2 (refused, then retried)", n)
	}
	if len(res.Deleted) != 2 {
		t.Errorf("deleted %d after the wait, want 2", len(res.Deleted))
	}
}

func TestPrimaryRateLimitWithALongResetGivesUpWithoutWaiting(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	fixture(srv, 3)
	clock := newFakeClock()
	reset := clock.Now().Add(47 * time.Minute)
	srv.Fail(ghapitest.PrimaryRateLimit(ghapitest.ListCaches, reset))

	res, err := newClient(t, srv, clock).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	var rl *ghapi.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a *RateLimitError", err)
	}
	if rl.Secondary || rl.Wait != 47*time.Minute+time.Second || !rl.Until.Equal(reset.Add(time.Second)) || rl.MaxWait != ghapi.DefaultMaxRateLimitWait {
		t.Errorf("RateLimitError = %+v, want primary, 47m1s until %v, max 30s", rl, reset.Add(time.Second))
	}
	if !strings.Contains(err.Error(), "47m1s") {
		t.Errorf("message does not say how long the limit lasts: %v", err)
	}
	assertNoTokenIn(t, err)
	if got := clock.Sleeps(); len(got) != 0 {
		t.Errorf("slept %v, want no sleep", got)
	}
	if n := len(srv.Requests()); n != 1 || len(res.Deleted) != 0 {
		t.Errorf("%d requests and %d deleted, want 1 and 0", n, len(res.Deleted))
	}
}

func TestSecondaryRateLimitWaitsRetryAfterWhenShort(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	fixture(srv, 3)
	clock := newFakeClock()
	srv.Fail(ghapitest.SecondaryRateLimit(ghapitest.DeleteCacheByID, 3*time.Second).WithCount(1))

	res, err := newClient(t, srv, clock).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	if err != nil {
		t.Fatalf("PruneSuperseded: %v", err)
	}
	if got := clock.Sleeps(); len(got) != 1 || got[0] != 3*time.Second {
		t.Errorf("slept %v, want [3s]", got)
	}
	if len(res.Deleted) != 2 || len(srv.Caches()) != 1+4 {
		t.Errorf("deleted %d, %d remain; want 2 deleted and 5 remaining", len(res.Deleted), len(srv.Caches()))
	}
}

func TestSecondaryRateLimitGivesUpWhenRetryAfterExceedsTheMaximumWait(t *testing.T) {
	cases := []struct {
		retryAfter, maxWait time.Duration
		waits               bool
	}{
		{30 * time.Second, 0, true}, // 0: the default, 30 s
		{31 * time.Second, 0, false},
		{2 * time.Minute, 10 * time.Second, false},
		{2 * time.Minute, 5 * time.Minute, true},
	}
	for _, tc := range cases {
		srv := startServer(t, ghapitest.Options{})
		fixture(srv, 3)
		clock := newFakeClock()
		srv.Fail(ghapitest.SecondaryRateLimit(ghapitest.DeleteCacheByID, tc.retryAfter).WithCount(1))
		opts := []ghapi.Option{}
		maxWait := ghapi.DefaultMaxRateLimitWait
		if tc.maxWait != 0 {
			opts = append(opts, ghapi.WithMaxRateLimitWait(tc.maxWait))
			maxWait = tc.maxWait
		}

		_, err := newClient(t, srv, clock, opts...).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
		name := fmt.Sprintf("Retry-After %v with at most %v", tc.retryAfter, maxWait)
		if tc.waits {
			if err != nil {
				t.Errorf("%s: %v, want a wait and success", name, err)
			}
			if got := clock.Sleeps(); len(got) != 1 || got[0] != tc.retryAfter {
				t.Errorf("%s: slept %v, want [%v]", name, got, tc.retryAfter)
			}
			continue
		}
		var rl *ghapi.RateLimitError
		if !errors.As(err, &rl) || !rl.Secondary || rl.Wait != tc.retryAfter || rl.MaxWait != maxWait {
			t.Errorf("%s: err = %v (%+v), want a secondary *RateLimitError", name, err, rl)
		}
		if got := clock.Sleeps(); len(got) != 0 {
			t.Errorf("%s: slept %v, want no sleep", name, got)
		}
	}
}

func TestRepeatedRateLimitsStopAfterBoundedRetries(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	clock := newFakeClock()
	srv.Fail(ghapitest.SecondaryRateLimit(ghapitest.GetCacheUsage, time.Second))

	_, err := newClient(t, srv, clock).Usage(context.Background())
	var rl *ghapi.RateLimitError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a *RateLimitError once retries run out", err)
	}
	if n := len(requestsFor(srv, ghapitest.GetCacheUsage)); n != 4 {
		t.Errorf("%d usage requests, want 4 (1 + 3 retries)", n)
	}
}

func TestCancelledContextEndsARateLimitWait(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	clock := newFakeClock()
	srv.Fail(ghapitest.SecondaryRateLimit(ghapitest.GetCacheUsage, 5*time.Second))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The job is cancelled while the client waits.
	sleep := func(ctx context.Context, _ time.Duration) error {
		cancel()
		return ctx.Err()
	}

	_, err := newClient(t, srv, clock, ghapi.WithClock(clock.Now, sleep)).Usage(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1 (no retry after cancellation)", n)
	}
}

// GitHub may also answer 429; with no header naming a time its advice is to
// wait at least a minute, which is past the default maximum.
func TestTooManyRequestsWithoutATimeGivesUpAfterAMinuteEstimate(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	clock := newFakeClock()
	srv.Fail(ghapitest.Fault{Operation: ghapitest.GetCacheUsage, Status: http.StatusTooManyRequests,
		Body: map[string]string{"message": "Too Many Requests"}})

	_, err := newClient(t, srv, clock).Usage(context.Background())
	var rl *ghapi.RateLimitError
	if !errors.As(err, &rl) || !rl.Secondary || rl.Wait != time.Minute {
		t.Fatalf("err = %v (%+v), want a secondary *RateLimitError of 1m", err, rl)
	}
	if n := len(srv.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}
