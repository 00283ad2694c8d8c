package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v62/github"
)

// bytesPerGB converts GitHub's limits, given in GB, to bytes. Decimal GB is
// the smaller reading of "GB", so a warning comes early rather than late.
const bytesPerGB = 1_000_000_000

// DefaultLimitBytes is GitHub's documented default cache limit per
// repository (10 GB), used when the repository's own limit cannot be read.
const DefaultLimitBytes int64 = 10 * bytesPerGB

// WarnPercent is the share of the limit above which usage deserves a warning:
// past it, GitHub starts evicting least recently used entries soon.
const WarnPercent = 80

// LimitSource says where Usage.LimitBytes came from.
type LimitSource string

const (
	// LimitFromStorageLimit: GET /repos/{owner}/{repo}/actions/cache/storage-limit
	// (github.com; needs administration read access, which GITHUB_TOKEN lacks).
	LimitFromStorageLimit LimitSource = "storage-limit"
	// LimitFromUsagePolicy: GET /repos/{owner}/{repo}/actions/cache/usage-policy
	// (GitHub Enterprise Server; needs admin access too).
	LimitFromUsagePolicy LimitSource = "usage-policy"
	// LimitDefault: neither endpoint answered; DefaultLimitBytes is assumed.
	LimitDefault LimitSource = "default"
)

// Usage is the repository's Actions cache usage. GitHub refreshes it about
// every 5 minutes, so it lags behind saves and deletions.
type Usage struct {
	ActiveBytes int64
	ActiveCount int
	LimitBytes  int64
	LimitSource LimitSource
	// Notice is set, and nothing else is known, when the call was skipped
	// for a reason the user can fix (NoTokenNotice).
	Notice string
}

// Percent is ActiveBytes as a percentage of LimitBytes.
func (u Usage) Percent() float64 {
	if u.LimitBytes <= 0 {
		return 0
	}
	return float64(u.ActiveBytes) * 100 / float64(u.LimitBytes)
}

// AboveWarnThreshold reports whether usage is above WarnPercent of the limit.
// The caller decides how to warn.
func (u Usage) AboveWarnThreshold() bool {
	return u.LimitBytes > 0 && u.ActiveBytes*100 > u.LimitBytes*WarnPercent
}

// Usage reads GET /repos/{owner}/{repo}/actions/cache/usage and the
// repository's cache limit. Failing to read the limit is not an error: the
// documented default is used and LimitSource says so.
func (c *Client) Usage(ctx context.Context) (Usage, error) {
	if c.gh == nil {
		return Usage{Notice: NoTokenNotice}, nil
	}
	got, _, err := c.gh.Actions.GetCacheUsageForRepo(ctx, c.owner, c.repo)
	if err != nil {
		return Usage{}, c.classify("read Actions cache usage", PermissionActionsRead, err)
	}
	u := Usage{ActiveBytes: got.ActiveCachesSizeInBytes, ActiveCount: got.ActiveCachesCount}
	u.LimitBytes, u.LimitSource, err = c.cacheLimit(ctx)
	if err != nil {
		return Usage{}, err
	}
	return u, nil
}

// cacheLimit asks the newer github.com endpoint, then the GHES one; neither
// is in go-github v62, hence NewRequest. Only a cancelled context is an error.
func (c *Client) cacheLimit(ctx context.Context) (int64, LimitSource, error) {
	var storage struct {
		MaxCacheSizeGB *int64 `json:"max_cache_size_gb"`
	}
	err := c.getJSON(ctx, "actions/cache/storage-limit", &storage)
	if err == nil && storage.MaxCacheSizeGB != nil && *storage.MaxCacheSizeGB > 0 {
		return *storage.MaxCacheSizeGB * bytesPerGB, LimitFromStorageLimit, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return 0, "", fmt.Errorf("read Actions cache limit in %s: %w", c.Repository(), ctxErr)
	}
	// Only a missing endpoint (404) makes the older one worth asking; a 403
	// means the token may not read limits at all.
	if !hasStatus(err, http.StatusNotFound) {
		return DefaultLimitBytes, LimitDefault, nil
	}
	var policy struct {
		RepoCacheSizeLimitInGB *int64 `json:"repo_cache_size_limit_in_gb"`
	}
	err = c.getJSON(ctx, "actions/cache/usage-policy", &policy)
	if err == nil && policy.RepoCacheSizeLimitInGB != nil && *policy.RepoCacheSizeLimitInGB > 0 {
		return *policy.RepoCacheSizeLimitInGB * bytesPerGB, LimitFromUsagePolicy, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return 0, "", fmt.Errorf("read Actions cache limit in %s: %w", c.Repository(), ctxErr)
	}
	return DefaultLimitBytes, LimitDefault, nil
}

// getJSON GETs repos/{owner}/{repo}/<suffix> relative to the API root.
func (c *Client) getJSON(ctx context.Context, suffix string, v any) error {
	req, err := c.gh.NewRequest(http.MethodGet, fmt.Sprintf("repos/%s/%s/%s", c.owner, c.repo, suffix), nil)
	if err != nil {
		return err
	}
	_, err = c.gh.Do(ctx, req, v)
	return err
}

// hasStatus reports whether err is a GitHub error response with that status.
func hasStatus(err error, status int) bool {
	var resp *github.ErrorResponse
	return errors.As(err, &resp) && resp.Response != nil && resp.Response.StatusCode == status
}
