package ghapi_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/ghapi"
	"github.com/warmbuild/warmbuild/pkg/ghapi/ghapitest"
)

const (
	pipPrefix = "warmbuild-mount-pip-"
	mainRef   = "refs/heads/main"
)

// fixture fills srv with n entries under pipPrefix on main, inserted in a
// shuffled order, plus entries that must never be touched: the same prefix on
// another ref, another prefix on main, and a key that extends the prefix's
// stem without matching it. It returns the target entries newest first.
func fixture(srv *ghapitest.Server, n int) (targets []ghapitest.Cache, untouchable map[int64]bool) {
	base := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	var all []ghapitest.Cache
	for i := range n {
		all = append(all, ghapitest.Cache{
			Key: fmt.Sprintf("%s%04d", pipPrefix, i), Ref: mainRef, Version: "v1",
			CreatedAt: base.Add(time.Duration(i) * time.Minute), SizeInBytes: int64(1000 + rng.IntN(1_000_000)),
		})
	}
	others := []ghapitest.Cache{
		{Key: pipPrefix + "feature", Ref: "refs/heads/feature", CreatedAt: base.Add(time.Hour * 100), SizeInBytes: 7},
		{Key: pipPrefix + "pr", Ref: "refs/pull/12/merge", CreatedAt: base.Add(time.Hour * 101), SizeInBytes: 8},
		{Key: "warmbuild-mount-npm-0001", Ref: mainRef, CreatedAt: base.Add(-time.Hour), SizeInBytes: 9},
		{Key: "warmbuild-mount-pipx-0001", Ref: mainRef, CreatedAt: base.Add(-time.Hour), SizeInBytes: 10},
	}
	untouchable = map[int64]bool{}
	order := append(append([]ghapitest.Cache(nil), all...), others...)
	rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	for _, c := range order {
		stored := srv.AddCache(c)
		if strings.HasPrefix(c.Key, pipPrefix) && c.Ref == mainRef {
			targets = append(targets, stored)
		} else {
			untouchable[stored.ID] = true
		}
	}
	sort.Slice(targets, func(i, j int) bool { return targets[i].CreatedAt.After(targets[j].CreatedAt) })
	return targets, untouchable
}

func TestPruneAcrossThreePagesKeepsNewestAndDeletesTheRestOfThatPrefixAndRef(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	targets, untouchable := fixture(srv, 250)
	const keep = 2

	res, err := newClient(t, srv, newFakeClock()).PruneSuperseded(context.Background(), pipPrefix, mainRef, keep)
	if err != nil {
		t.Fatalf("PruneSuperseded: %v", err)
	}

	// What remains on the server: the untouchable entries and the newest two.
	remaining := map[int64]bool{}
	for _, c := range srv.Caches() {
		remaining[c.ID] = true
	}
	for id := range untouchable {
		if !remaining[id] {
			t.Errorf("entry %d outside the prefix/ref was deleted", id)
		}
	}
	for i, c := range targets {
		if kept := i < keep; remaining[c.ID] != kept {
			t.Errorf("entry %s (newest #%d): remaining=%v, want %v", c.Key, i+1, remaining[c.ID], kept)
		}
	}

	// What the result says matches what happened.
	if len(res.Kept) != keep || res.Kept[0].ID != targets[0].ID || res.Kept[1].ID != targets[1].ID {
		t.Errorf("Kept = %v, want the two newest %s and %s", res.Kept, targets[0].Key, targets[1].Key)
	}
	var wantFreed int64
	for _, c := range targets[keep:] {
		wantFreed += c.SizeInBytes
	}
	if len(res.Deleted) != len(targets)-keep || res.FreedBytes != wantFreed {
		t.Errorf("Deleted %d entries freeing %d bytes, want %d entries freeing %d", len(res.Deleted), res.FreedBytes, len(targets)-keep, wantFreed)
	}
	if res.Truncated || len(res.Vanished) != 0 {
		t.Errorf("Truncated=%v Vanished=%v, want neither", res.Truncated, res.Vanished)
	}

	// The exact calls: three list pages with the documented parameters, then
	// one DELETE by id per superseded entry, and nothing else.
	lists := requestsFor(srv, ghapitest.ListCaches)
	if len(lists) != 3 {
		t.Fatalf("%d list requests, want 3 (250 entries at 100 per page)", len(lists))
	}
	for i, r := range lists {
		want := url.Values{
			"key": {pipPrefix}, "ref": {mainRef}, "sort": {"created_at"}, "direction": {"desc"},
			"per_page": {"100"}, "page": {fmt.Sprint(i + 1)},
		}
		if r.Path != "/repos/octo-org/octo-repo/actions/caches" || r.Query.Encode() != want.Encode() {
			t.Errorf("list request %d = %s?%s, want /repos/octo-org/octo-repo/actions/caches?%s", i+1, r.Path, r.Query.Encode(), want.Encode())
		}
	}
	deletes := requestsFor(srv, ghapitest.DeleteCacheByID)
	if len(deletes) != len(targets)-keep {
		t.Errorf("%d DELETE by id, want %d", len(deletes), len(targets)-keep)
	}
	for i, r := range deletes {
		if want := fmt.Sprintf("/repos/octo-org/octo-repo/actions/caches/%d", targets[keep+i].ID); r.Path != want || len(r.Query) != 0 {
			t.Errorf("delete %d = %s?%s, want %s", i, r.Path, r.Query.Encode(), want)
		}
	}
	if n := len(srv.Requests()); n != len(lists)+len(deletes) {
		t.Errorf("%d requests in all, want only the lists and deletes (%d)", n, len(lists)+len(deletes))
	}
}

func TestPruneStopsListingAtThePageBound(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	targets, _ := fixture(srv, 250)

	res, err := newClient(t, srv, newFakeClock(), ghapi.WithMaxPages(2)).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	if err != nil {
		t.Fatalf("PruneSuperseded: %v", err)
	}
	if !res.Truncated {
		t.Errorf("Truncated = false after reading 2 of 3 pages")
	}
	if n := len(requestsFor(srv, ghapitest.ListCaches)); n != 2 {
		t.Errorf("%d list requests, want 2", n)
	}
	// The 200 newest were seen; of those all but one go, the 50 oldest stay.
	if len(res.Deleted) != 199 || res.Kept[0].ID != targets[0].ID {
		t.Errorf("Deleted %d (want 199), kept %v (want %s)", len(res.Deleted), res.Kept, targets[0].Key)
	}
	if n := len(srv.Caches()); n != 250+4-199 {
		t.Errorf("%d entries remain, want %d", n, 250+4-199)
	}
}

func TestPruneWithNothingSupersededDeletesNothing(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	fixture(srv, 1)

	res, err := newClient(t, srv, newFakeClock()).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	if err != nil {
		t.Fatalf("PruneSuperseded: %v", err)
	}
	if len(res.Kept) != 1 || len(res.Deleted) != 0 || res.FreedBytes != 0 {
		t.Errorf("result %+v, want one kept and nothing deleted", res)
	}
	if n := len(requestsFor(srv, ghapitest.DeleteCacheByID)); n != 0 {
		t.Errorf("%d deletes, want 0", n)
	}
}

func TestPruneWithoutTokenIsANoticeAndCallsNothing(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	fixture(srv, 3)
	c, err := ghapi.New("", srv.URL, testRepo)
	if err != nil {
		t.Fatalf("New without token: %v", err)
	}
	if c.HasToken() {
		t.Errorf("HasToken = true without a token")
	}
	res, err := c.PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	if err != nil {
		t.Fatalf("PruneSuperseded without token returned an error: %v", err)
	}
	if res.Notice != ghapi.NoTokenNotice {
		t.Errorf("Notice = %q, want NoTokenNotice", res.Notice)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests without a token, want 0", n)
	}
}

func TestPruneDeleteForbiddenAsksForActionsWrite(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	fixture(srv, 3)
	srv.Fail(ghapitest.Forbidden(ghapitest.DeleteCacheByID))

	res, err := newClient(t, srv, newFakeClock()).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	var perr *ghapi.PermissionError
	if !errors.As(err, &perr) {
		t.Fatalf("err = %v, want a *PermissionError", err)
	}
	if perr.Permission != ghapi.PermissionActionsWrite || !strings.Contains(err.Error(), "permissions:\n  actions: write") {
		t.Errorf("error does not ask for actions: write:\n%v", err)
	}
	if !strings.Contains(err.Error(), "Resource not accessible by integration") {
		t.Errorf("error drops GitHub's own message: %v", err)
	}
	assertNoTokenIn(t, err)
	// The first refusal stops the run: the other deletes would be refused too.
	if n := len(requestsFor(srv, ghapitest.DeleteCacheByID)); n != 1 || len(res.Deleted) != 0 {
		t.Errorf("%d delete requests and %d deleted after a 403, want 1 and 0", n, len(res.Deleted))
	}
	if n := len(srv.Caches()); n != 3+4 {
		t.Errorf("%d entries remain, want all %d", n, 3+4)
	}
}

func TestPruneListForbiddenAsksForActionsWrite(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	srv.Fail(ghapitest.Forbidden(ghapitest.ListCaches))

	_, err := newClient(t, srv, newFakeClock()).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	var perr *ghapi.PermissionError
	if !errors.As(err, &perr) || perr.Permission != ghapi.PermissionActionsWrite {
		t.Fatalf("err = %v, want a *PermissionError asking for actions: write", err)
	}
}

func TestPruneOnAnUnknownRepositoryIsNotFound(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	clock := newFakeClock()
	c, err := ghapi.New(testToken, srv.URL, "octo-org/missing", ghapi.WithClock(clock.Now, clock.Sleep))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = c.PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	var nf *ghapi.NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("err = %v, want a *NotFoundError", err)
	}
	for _, want := range []string{"octo-org/missing", srv.URL, "GITHUB_REPOSITORY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	assertNoTokenIn(t, err)
}

func TestPruneCountsAnEntryGoneBeforeItsDeleteAsVanished(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	targets, _ := fixture(srv, 3)
	srv.Fail(ghapitest.Fault{Operation: ghapitest.DeleteCacheByID, Status: 404, Count: 1,
		Body: map[string]string{"message": "Not Found"}})

	res, err := newClient(t, srv, newFakeClock()).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	if err != nil {
		t.Fatalf("PruneSuperseded: %v", err)
	}
	if len(res.Vanished) != 1 || res.Vanished[0].ID != targets[1].ID {
		t.Errorf("Vanished = %v, want %s", res.Vanished, targets[1].Key)
	}
	if len(res.Deleted) != 1 || res.Deleted[0].ID != targets[2].ID || res.FreedBytes != targets[2].SizeInBytes {
		t.Errorf("Deleted = %v freeing %d, want only %s freeing %d", res.Deleted, res.FreedBytes, targets[2].Key, targets[2].SizeInBytes)
	}
}

func TestPruneRejectsArgumentsThatWouldDeleteTooMuch(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	c := newClient(t, srv, newFakeClock())
	cases := []struct {
		prefix, ref string
		keep        int
	}{
		{"", mainRef, 1},
		{pipPrefix, "", 1},
		{pipPrefix, "main", 1},
		{pipPrefix, mainRef, 0},
		{pipPrefix, mainRef, -1},
	}
	for _, tc := range cases {
		if _, err := c.PruneSuperseded(context.Background(), tc.prefix, tc.ref, tc.keep); err == nil {
			t.Errorf("PruneSuperseded(%q, %q, %d) accepted", tc.prefix, tc.ref, tc.keep)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("%d requests for rejected arguments, want 0", n)
	}
}

func TestTokenIsSentAsBearerAndARejectedTokenIsNamedWithoutLeaking(t *testing.T) {
	srv := startServer(t, ghapitest.Options{Token: "the-right-token"})
	clock := newFakeClock()
	c, err := ghapi.New(testToken, srv.URL, testRepo, ghapi.WithClock(clock.Now, clock.Sleep))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = c.PruneSuperseded(context.Background(), pipPrefix, mainRef, 1)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "github-token") {
		t.Fatalf("err = %v, want a 401 pointing at the github-token input", err)
	}
	assertNoTokenIn(t, err)
}

// A kept delta needs its base: the base stays however old it is; the other superseded
// entries go.
func TestPruneKeepsTheBaseOfAKeptDelta(t *testing.T) {
	srv := startServer(t, ghapitest.Options{})
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	baseKey := pipPrefix + "aaaa"
	for i, key := range []string{pipPrefix + "cccc+aaaa", pipPrefix + "bbbb", baseKey, pipPrefix + "0000"} {
		srv.AddCache(ghapitest.Cache{Key: key, Ref: mainRef, CreatedAt: now.Add(-time.Duration(i) * time.Hour), SizeInBytes: 100})
	}
	baseOf := func(key string) string {
		if _, b, ok := strings.Cut(strings.TrimPrefix(key, pipPrefix), "+"); ok {
			return pipPrefix + b
		}
		return ""
	}
	res, err := newClient(t, srv, newFakeClock()).PruneSuperseded(context.Background(), pipPrefix, mainRef, 1, ghapi.KeepBasesOf(baseOf))
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, c := range srv.Caches() {
		left = append(left, c.Key)
	}
	sort.Strings(left)
	if want := []string{baseKey, pipPrefix + "cccc+aaaa"}; !slices.Equal(left, want) {
		t.Errorf("left %v, want the delta and its base %v", left, want)
	}
	if len(res.Deleted) != 2 || len(res.Kept) != 2 {
		t.Errorf("result: kept %d, deleted %d; want 2 and 2", len(res.Kept), len(res.Deleted))
	}
}
