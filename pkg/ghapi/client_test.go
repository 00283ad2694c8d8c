package ghapi_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/ghapi"
	"github.com/warmbuild/warmbuild/pkg/ghapi/ghapitest"
)

func TestNewRejectsABadRepositoryNamingGITHUB_REPOSITORY(t *testing.T) {
	for _, repo := range []string{"", "octo", "octo/", "/repo", "a/b/c", "a b/c", "octo/..", "-octo/repo", "octo/re?po"} {
		_, err := ghapi.New(testToken, "", repo)
		if err == nil {
			t.Errorf("New accepted GITHUB_REPOSITORY %q", repo)
			continue
		}
		if !strings.Contains(err.Error(), "GITHUB_REPOSITORY") {
			t.Errorf("error for %q does not name GITHUB_REPOSITORY: %v", repo, err)
		}
		assertNoTokenIn(t, err)
	}
	for _, repo := range []string{"octo-org/octo-repo", "o/r", "Octo/my_repo.js", "a1/.github"} {
		if _, err := ghapi.New(testToken, "", repo); err != nil {
			t.Errorf("New rejected GITHUB_REPOSITORY %q: %v", repo, err)
		}
	}
}

func TestNewRejectsABadAPIURLNamingGITHUB_API_URL(t *testing.T) {
	for _, u := range []string{"ftp://ghe.example.com/api/v3", "ghe.example.com/api/v3", "https://", "https://ghe.example.com/api/v3?x=1", "::"} {
		_, err := ghapi.New(testToken, u, testRepo)
		if err == nil || !strings.Contains(err.Error(), "GITHUB_API_URL") {
			t.Errorf("New(%q) err = %v, want one naming GITHUB_API_URL", u, err)
		}
	}
}

// GitHub Enterprise Server serves the API under /api/v3, and GITHUB_API_URL
// says so (https://HOST/api/v3). Every call must keep that prefix, with or
// without a trailing slash on the variable.
func TestGHESAPIURLBuildsRequestsUnderAPIV3(t *testing.T) {
	for _, suffix := range []string{"", "/"} {
		srv := startServer(t, ghapitest.Options{PathPrefix: "/api/v3", UsagePolicyGB: 10})
		fixture(srv, 2)
		clock := newFakeClock()
		c, err := ghapi.New(testToken, srv.URL+suffix, testRepo, ghapi.WithClock(clock.Now, clock.Sleep))
		if err != nil {
			t.Fatalf("New(%q): %v", srv.URL+suffix, err)
		}
		if _, err := c.Usage(context.Background()); err != nil {
			t.Fatalf("Usage against %q: %v", srv.URL+suffix, err)
		}
		if _, err := c.PruneSuperseded(context.Background(), pipPrefix, mainRef, 1); err != nil {
			t.Fatalf("PruneSuperseded against %q: %v", srv.URL+suffix, err)
		}
		reqs := srv.Requests()
		if len(reqs) == 0 {
			t.Fatalf("no requests recorded")
		}
		for _, r := range reqs {
			if r.Operation == "" || !strings.HasPrefix(r.Path, "/api/v3/repos/octo-org/octo-repo/actions/") {
				t.Errorf("GITHUB_API_URL %q: %s %s is not a documented call under /api/v3", srv.URL+suffix, r.Method, r.Path)
			}
		}
	}
}

// The default base is github.com's API root; checked without the network by
// capturing the request a transport would send.
func TestEmptyAPIURLMeansAPIGitHubCom(t *testing.T) {
	var got string
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.String()
		return nil, http.ErrUseLastResponse
	})}
	c, err := ghapi.New(testToken, "", testRepo, ghapi.WithHTTPClient(hc))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	_, err = c.Usage(context.Background())
	if err == nil {
		t.Fatalf("Usage succeeded through a failing transport")
	}
	assertNoTokenIn(t, err)
	if want := "https://api.github.com/repos/octo-org/octo-repo/actions/cache/usage"; got != want {
		t.Errorf("request URL = %q, want %q", got, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
