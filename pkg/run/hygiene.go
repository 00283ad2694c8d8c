package run

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/warmbuild/warmbuild/pkg/ghapi"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// apiTimeout bounds every REST call: cache hygiene is a courtesy and must not hold a job.
const apiTimeout = 20 * time.Second

// githubAPI returns a REST client for this repository, or nil (with a debug line) when
// the run is not on a runner.
func (r *runner) githubAPI() *ghapi.Client {
	repo := r.renv.GitHub.Repository
	if repo == "" {
		r.rep.Debugf("GITHUB_REPOSITORY is not set: skipping the REST API (cache usage and cleanup)")
		return nil
	}
	c, err := ghapi.New(r.in.GitHubToken, r.renv.GitHub.APIURL, repo,
		ghapi.WithHTTPClient(&http.Client{Timeout: apiTimeout}))
	if err != nil {
		r.warn.WarnTitled("GitHub API", err.Error())
		return nil
	}
	return c
}

// readCacheUsage sets repo-cache-usage-bytes and warns when the repository's Actions cache
// is close to its limit, where eviction starts throwing away useful entries.
func (r *runner) readCacheUsage(ctx context.Context, api *ghapi.Client) {
	if api == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	u, err := api.Usage(ctx)
	switch {
	case err != nil:
		r.apiProblem("Actions cache usage", err)
		return
	case u.Notice != "":
		r.rep.Notice("Actions cache usage", u.Notice)
		return
	}
	r.res.RepoCacheUsageBytes, r.res.RepoCacheUsageKnown = u.ActiveBytes, true
	r.rep.Infof("Actions cache usage: %s of %s (%.0f%%, %d entries)", report.Bytes(u.ActiveBytes), report.Bytes(u.LimitBytes), u.Percent(), u.ActiveCount)
	if u.AboveWarnThreshold() {
		msg := fmt.Sprintf("the repository's Actions caches use %.0f%% of their %s limit; GitHub evicts the least recently used entries beyond it, which makes builds cold", u.Percent(), report.Bytes(u.LimitBytes))
		r.warn.WarnTitled("Actions cache nearly full", msg)
		r.res.Hints = append(r.res.Hints, msg)
	}
}

// apiProblem turns a REST failure into the right annotation: a notice saying which
// permission to add, or a warning. Never an error: the build has already succeeded.
func (r *runner) apiProblem(what string, err error) {
	var perm *ghapi.PermissionError
	if errors.As(err, &perm) {
		r.rep.Notice(what, fmt.Sprintf("%v. Add to the workflow:\n%s", err, perm.WorkflowSnippet()))
		return
	}
	r.warn.WarnTitled(what, err.Error())
}

// pruneMountCaches deletes the superseded entries of every mount cache this run saved,
// keeping the newest mount-cache-keep: each requirements change saves a new key, and the
// old ones would otherwise sit in the 10 GB quota until eviction pushes out useful entries.
// Only entries of the same mount and platform on this run's ref are touched.
func (r *runner) pruneMountCaches(ctx context.Context, api *ghapi.Client, saved []string) {
	ref := r.renv.GitHub.Ref
	if api == nil || len(saved) == 0 || ref == "" {
		return
	}
	if !api.HasToken() {
		r.rep.Notice("Mount cache cleanup", ghapi.NoTokenNotice)
		return
	}
	for _, key := range saved {
		prefix := mountcache.PrunePrefix(key)
		ctx, cancel := context.WithTimeout(ctx, apiTimeout)
		res, err := api.PruneSuperseded(ctx, prefix, ref, int(r.in.MountCache.Keep), ghapi.KeepBasesOf(mountcache.DeltaBaseOf))
		cancel()
		if err != nil {
			r.apiProblem("Mount cache cleanup", err)
			return
		}
		if len(res.Deleted) > 0 {
			r.rep.Infof("Mount cache cleanup: deleted %d superseded entries of %s (%s freed), kept the newest %d", len(res.Deleted), prefix, report.Bytes(res.FreedBytes), r.in.MountCache.Keep)
		}
	}
}
