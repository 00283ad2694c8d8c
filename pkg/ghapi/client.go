// Package ghapi reads the repository's Actions cache usage and deletes
// superseded cache entries through the GitHub REST API (go-github v62).
//
// Nothing here fails a build: a missing token is a Notice in the result, and
// every error (permissions, rate limits, unknown repository) is meant to be
// reported as a warning.
package ghapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

// DefaultAPIURL is used when GITHUB_API_URL is empty.
const DefaultAPIURL = "https://api.github.com"

// NoTokenNotice is the Notice of every result when the client has no token.
const NoTokenNotice = "Actions cache usage and cleanup skipped: no GitHub token. " +
	"Set the github-token input (for example github-token: ${{ github.token }})."

// Defaults of the options.
const (
	DefaultMaxRateLimitWait = 30 * time.Second
	DefaultMaxPages         = 20
	perPage                 = 100 // the list endpoint's maximum
	rateLimitRetries        = 3
)

// Client talks to one repository's cache endpoints. It holds no mutable
// state of its own and is safe for concurrent use.
type Client struct {
	gh     *github.Client // nil when there is no token
	owner  string
	repo   string
	apiURL string
	cfg    config
}

type config struct {
	httpClient       *http.Client
	now              func() time.Time
	sleep            func(context.Context, time.Duration) error
	maxRateLimitWait time.Duration
	maxPages         int
}

// Option configures a Client.
type Option func(*config)

// WithHTTPClient sets the HTTP client (its Transport is kept; the client is
// copied, not modified).
func WithHTTPClient(c *http.Client) Option { return func(cfg *config) { cfg.httpClient = c } }

// WithClock replaces the clock and the sleep used while waiting out a rate
// limit, so tests need not wait. sleep must return early with ctx's error.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(cfg *config) { cfg.now, cfg.sleep = now, sleep }
}

// WithMaxRateLimitWait sets the longest wait for a rate limit to lift before
// a request gives up with a *RateLimitError (default 30 s).
func WithMaxRateLimitWait(d time.Duration) Option {
	return func(cfg *config) { cfg.maxRateLimitWait = d }
}

// WithMaxPages bounds how many pages of 100 entries a listing reads
// (default 20).
func WithMaxPages(n int) Option { return func(cfg *config) { cfg.maxPages = n } }

// repositoryPattern is GitHub's owner and repository name alphabet; checking
// it also keeps the values safe to put in URL paths unescaped, as go-github does.
var repositoryPattern = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+$`)

// New returns a client for repository ("owner/name", GITHUB_REPOSITORY) at
// apiURL (GITHUB_API_URL: https://api.github.com, or https://HOST/api/v3 on
// GitHub Enterprise Server; empty means github.com). An empty token is
// allowed: the client then does nothing and reports NoTokenNotice.
func New(token, apiURL, repository string, opts ...Option) (*Client, error) {
	cfg := config{
		httpClient:       http.DefaultClient,
		now:              time.Now,
		sleep:            sleepContext,
		maxRateLimitWait: DefaultMaxRateLimitWait,
		maxPages:         DefaultMaxPages,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.maxPages < 1 {
		return nil, fmt.Errorf("ghapi: max pages must be at least 1, got %d", cfg.maxPages)
	}

	if repository == "" {
		return nil, fmt.Errorf("GITHUB_REPOSITORY is not set; it must be \"owner/name\"")
	}
	owner, repo, _ := strings.Cut(repository, "/")
	if !repositoryPattern.MatchString(repository) || repo == "." || repo == ".." {
		return nil, fmt.Errorf("GITHUB_REPOSITORY %q is not \"owner/name\"", repository)
	}

	base, err := apiBaseURL(apiURL)
	if err != nil {
		return nil, err
	}
	c := &Client{owner: owner, repo: repo, apiURL: strings.TrimSuffix(base.String(), "/"), cfg: cfg}
	if token == "" {
		return c, nil
	}

	hc := *cfg.httpClient
	base0 := hc.Transport
	if base0 == nil {
		base0 = http.DefaultTransport
	}
	hc.Transport = &rateLimitTransport{
		base: base0, now: cfg.now, sleep: cfg.sleep,
		maxWait: cfg.maxRateLimitWait, maxRetries: rateLimitRetries,
	}
	gh := github.NewClient(&hc).WithAuthToken(token)
	gh.BaseURL = base
	c.gh = gh
	return c, nil
}

// apiBaseURL turns GITHUB_API_URL into go-github's BaseURL. The variable is
// already the API root on github.com (https://api.github.com), GHE.com
// (https://api.SUBDOMAIN.ghe.com) and GHES (https://HOST/api/v3), so it is used
// as is with a trailing slash added. go-github's WithEnterpriseURLs is not
// used: it appends /api/v3/ to any URL lacking it, which would break a correct
// API root that merely looks different (a proxy, a test server).
func apiBaseURL(apiURL string) (*url.URL, error) {
	if apiURL == "" {
		apiURL = DefaultAPIURL
	}
	u, err := url.Parse(apiURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("GITHUB_API_URL %q is not an http(s) URL of the GitHub API (for example %s or https://HOST/api/v3)", apiURL, DefaultAPIURL)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	u.RawPath = ""
	return u, nil
}

// Repository returns "owner/name".
func (c *Client) Repository() string { return c.owner + "/" + c.repo }

// HasToken reports whether the client will make API calls at all.
func (c *Client) HasToken() bool { return c.gh != nil }

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
