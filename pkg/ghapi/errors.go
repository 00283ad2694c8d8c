package ghapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-github/v62/github"
)

// Permissions a workflow grants its GITHUB_TOKEN, as written under
// `permissions:` in the workflow file.
const (
	PermissionActionsRead  = "actions: read"
	PermissionActionsWrite = "actions: write"
)

// PermissionError is a 403 caused by a token without the needed permission.
type PermissionError struct {
	Operation  string // what was refused, e.g. "delete Actions cache 42"
	Repository string
	// Permission is the line to add under `permissions:`, e.g. "actions: write".
	Permission string
	// GitHubMessage is GitHub's own explanation.
	GitHubMessage string
}

// WorkflowSnippet is the YAML to add to the workflow (or the job).
func (e *PermissionError) WorkflowSnippet() string {
	return "permissions:\n  " + e.Permission
}

func (e *PermissionError) Error() string {
	msg := fmt.Sprintf("%s in %s: GitHub refused (HTTP 403: %s). Add this to the workflow or the job, next to any permissions it already grants:\n%s",
		e.Operation, e.Repository, e.GitHubMessage, e.WorkflowSnippet())
	if e.Permission == PermissionActionsWrite {
		msg += "\n(Pull requests from forks always get a read-only token; cleanup cannot run there.)"
	}
	return msg
}

// NotFoundError is a 404 on the repository: it does not exist at this API,
// or the token cannot see it.
type NotFoundError struct {
	Operation  string
	Repository string
	APIURL     string
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s: repository %s was not found at %s, or the token cannot see it (check GITHUB_REPOSITORY, GITHUB_API_URL and the token's repository access)",
		e.Operation, e.Repository, e.APIURL)
}

// RateLimitError means GitHub's rate limit would have needed a longer wait
// than the client allows; the operation was abandoned. Report it as a warning.
type RateLimitError struct {
	Operation string
	// Secondary is true for a secondary (abuse) limit, false for the hourly quota.
	Secondary bool
	// Wait is how long GitHub asked to wait; Until is when that ends.
	Wait    time.Duration
	Until   time.Time
	MaxWait time.Duration
}

func (e *RateLimitError) Error() string {
	kind := "primary"
	if e.Secondary {
		kind = "secondary"
	}
	return fmt.Sprintf("%s: GitHub API %s rate limit reached; it lifts in %s (at %s), longer than the %s this step waits, so this was skipped",
		e.Operation, kind, e.Wait.Round(time.Second), e.Until.UTC().Format(time.RFC3339), e.MaxWait)
}

// classify turns a go-github error into this package's typed errors.
// permission is what a 403 asks the user to add.
func (c *Client) classify(operation, permission string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s in %s: %w", operation, c.Repository(), err)
	}
	now := c.cfg.now()
	var primary *github.RateLimitError
	if errors.As(err, &primary) {
		until := primary.Rate.Reset.Time.Add(resetSlack)
		return &RateLimitError{Operation: operation, Wait: max(until.Sub(now), 0), Until: until, MaxWait: c.cfg.maxRateLimitWait}
	}
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &abuse) {
		wait := unspecifiedWait
		if abuse.Response != nil {
			if w, _, ok := rateLimitWait(abuse.Response, now); ok {
				wait = w
			} else if abuse.RetryAfter != nil {
				wait = *abuse.RetryAfter
			}
		}
		return &RateLimitError{Operation: operation, Secondary: true, Wait: wait, Until: now.Add(wait), MaxWait: c.cfg.maxRateLimitWait}
	}
	var resp *github.ErrorResponse
	if !errors.As(err, &resp) || resp.Response == nil {
		return fmt.Errorf("%s in %s: %w", operation, c.Repository(), err)
	}
	if wait, secondary, ok := rateLimitWait(resp.Response, now); ok {
		return &RateLimitError{Operation: operation, Secondary: secondary, Wait: wait, Until: now.Add(wait), MaxWait: c.cfg.maxRateLimitWait}
	}
	switch resp.Response.StatusCode {
	case http.StatusForbidden:
		return &PermissionError{Operation: operation, Repository: c.Repository(), Permission: permission, GitHubMessage: resp.Message}
	case http.StatusNotFound:
		return &NotFoundError{Operation: operation, Repository: c.Repository(), APIURL: c.apiURL}
	case http.StatusUnauthorized:
		return fmt.Errorf("%s in %s: GitHub rejected the token (HTTP 401: %s); check the github-token input", operation, c.Repository(), resp.Message)
	}
	return fmt.Errorf("%s in %s: %w", operation, c.Repository(), err)
}
