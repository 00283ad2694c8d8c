package ghapi_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/ghapi"
	"github.com/warmbuild/warmbuild/pkg/ghapi/ghapitest"
)

func addCaches(srv *ghapitest.Server, sizes ...int64) (total int64) {
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i, size := range sizes {
		srv.AddCache(ghapitest.Cache{
			Key: "warmbuild-usage-" + string(rune('a'+i)), Ref: "refs/heads/main", Version: "v1",
			CreatedAt: base.Add(time.Duration(i) * time.Minute), SizeInBytes: size,
		})
		total += size
	}
	return total
}

func TestUsageReportsActiveCachesAndTheRepositoryLimit(t *testing.T) {
	srv := startServer(t, ghapitest.Options{StorageLimitGB: 25})
	total := addCaches(srv, 1_500_000_000, 700_000_000, 42)

	u, err := newClient(t, srv, newFakeClock()).Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	want := ghapi.Usage{ActiveBytes: total, ActiveCount: 3, LimitBytes: 25_000_000_000, LimitSource: ghapi.LimitFromStorageLimit}
	if u != want {
		t.Errorf("Usage = %+v, want %+v", u, want)
	}

	var calls []string
	for _, r := range srv.Requests() {
		calls = append(calls, r.Method+" "+r.Path)
		if !r.Authenticated {
			t.Errorf("%s %s sent without Authorization", r.Method, r.Path)
		}
	}
	wantCalls := []string{
		"GET /repos/octo-org/octo-repo/actions/cache/usage",
		"GET /repos/octo-org/octo-repo/actions/cache/storage-limit",
	}
	if strings.Join(calls, "\n") != strings.Join(wantCalls, "\n") {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(calls, "\n"), strings.Join(wantCalls, "\n"))
	}
}

func TestUsageReadsTheGHESUsagePolicyWhenStorageLimitIsMissing(t *testing.T) {
	srv := startServer(t, ghapitest.Options{PathPrefix: "/api/v3", UsagePolicyGB: 14})
	addCaches(srv, 10)

	u, err := newClient(t, srv, newFakeClock()).Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if u.LimitBytes != 14_000_000_000 || u.LimitSource != ghapi.LimitFromUsagePolicy {
		t.Errorf("limit = %d from %q, want 14 GB from usage-policy", u.LimitBytes, u.LimitSource)
	}
	if n := len(requestsFor(srv, ghapitest.GetUsagePolicy)); n != 1 {
		t.Errorf("usage-policy requested %d times, want 1", n)
	}
}

func TestUsageAssumesTheDefaultLimitWhenTheTokenCannotReadIt(t *testing.T) {
	srv := startServer(t, ghapitest.Options{StorageLimitGB: 50, UsagePolicyGB: 50})
	srv.Fail(ghapitest.Forbidden(ghapitest.GetStorageLimit))
	addCaches(srv, 9_000_000_000)

	u, err := newClient(t, srv, newFakeClock()).Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage: %v", err)
	}
	if u.LimitBytes != ghapi.DefaultLimitBytes || u.LimitSource != ghapi.LimitDefault {
		t.Errorf("limit = %d from %q, want the 10 GB default", u.LimitBytes, u.LimitSource)
	}
	if !u.AboveWarnThreshold() {
		t.Errorf("9 GB of 10 GB is not reported above the warning threshold")
	}
	// A 403 means the token may not read limits; asking the GHES endpoint too is pointless.
	if n := len(requestsFor(srv, ghapitest.GetUsagePolicy)); n != 0 {
		t.Errorf("usage-policy requested %d times after a 403, want 0", n)
	}
}

func TestAboveWarnThresholdIsStrictlyAbove80Percent(t *testing.T) {
	const limit = 10_000_000_000
	cases := []struct {
		active int64
		want   bool
	}{
		{0, false},
		{limit * 8 / 10, false},
		{limit*8/10 + 1, true},
		{limit, true},
		{limit * 2, true},
	}
	for _, tc := range cases {
		u := ghapi.Usage{ActiveBytes: tc.active, LimitBytes: limit}
		if got := u.AboveWarnThreshold(); got != tc.want {
			t.Errorf("%d of %d bytes (%.4f%%): AboveWarnThreshold = %v, want %v", tc.active, int64(limit), u.Percent(), got, tc.want)
		}
	}
	if (ghapi.Usage{ActiveBytes: 5}).AboveWarnThreshold() {
		t.Errorf("an unknown (zero) limit is reported above the threshold")
	}
}

func TestUsageForbiddenAsksForActionsRead(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	srv.Fail(ghapitest.Forbidden(ghapitest.GetCacheUsage))

	_, err := newClient(t, srv, newFakeClock()).Usage(context.Background())
	var perr *ghapi.PermissionError
	if !errors.As(err, &perr) {
		t.Fatalf("err = %v, want a *PermissionError", err)
	}
	if perr.Permission != ghapi.PermissionActionsRead || !strings.Contains(err.Error(), "permissions:\n  actions: read") {
		t.Errorf("error does not ask for actions: read:\n%v", err)
	}
	assertNoTokenIn(t, err)
}

func TestUsageWithoutTokenIsANoticeAndCallsNothing(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	c, err := ghapi.New("", srv.URL, testRepo)
	if err != nil {
		t.Fatalf("New without token: %v", err)
	}
	u, err := c.Usage(context.Background())
	if err != nil {
		t.Fatalf("Usage without token: %v", err)
	}
	if u.Notice != ghapi.NoTokenNotice || !strings.Contains(u.Notice, "github-token") {
		t.Errorf("Notice = %q, want one telling to set github-token", u.Notice)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests sent without a token, want 0", n)
	}
}
