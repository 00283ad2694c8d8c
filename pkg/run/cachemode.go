package run

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/layercache"
)

// describeCacheMode says, before the build, what ACTIONS_CACHE_MODE lets this run do.
func (r *runner) describeCacheMode() {
	d := r.plan.Decision
	for _, w := range d.Warnings {
		r.warn.Warn("Cache mode", w)
	}
	if !d.Access.Restricted() {
		return
	}
	allowed := "restores only, saves nothing"
	switch {
	case !d.Access.Reads() && !d.Access.Writes():
		allowed = "restores nothing, saves nothing"
	case !d.Access.Reads():
		allowed = "saves only, restores nothing"
	}
	r.res.CacheMode = d.Access.Sentence() + ": " + allowed
	r.rep.Infof("Cache mode: %s", r.res.CacheMode)
}

// resultSaveReason is cache-save-reason once the run is over. It is the policy's sentence
// when the policy skipped the save or when what it decided was done; otherwise it says
// what happened instead, so it never says "saved" when nothing was.
func (r *runner) resultSaveReason(runErr error) string {
	d := r.plan.Decision
	if !d.Save || r.res.CacheSaved {
		return d.Reason
	}
	var why string
	switch {
	case runErr != nil:
		why = "the build failed"
	case r.layerNotSaved != "":
		why = r.layerNotSaved
	case len(r.plan.LayerCache.Exports) == 0:
		why = "no layer cache is written (" + r.plan.LayerCache.BackendReason + ")"
	default:
		why = "the layer cache was not exported"
	}
	policy := strings.TrimPrefix(d.Reason, "saved: ")
	if len(r.savedMountKeys) > 0 {
		return fmt.Sprintf("saved: mount caches only; layer cache not saved: %s (%s)", why, policy)
	}
	return fmt.Sprintf("not saved: %s (%s)", why, policy)
}

// readDeniedNote is added to the warning about a denied mount cache read: the gha layer
// cache reads through the same token, and BuildKit only logs its failed imports.
func readDeniedNote(lc layercache.Plan) string {
	if lc.Backend == layercache.BackendGHA && len(lc.Imports) > 0 {
		return "; the gha layer cache's imports use the same token and are refused too, so its steps run uncached"
	}
	return ""
}

// deniedHint says what to look at when GitHub refuses access the cache mode allowed.
func deniedHint(a cachepolicy.Access) string {
	if a == "" {
		return " (ACTIONS_CACHE_MODE is unset: the job's token carries the restriction)"
	}
	return " (" + a.Sentence() + ")"
}

// layerDeniedNote completes a gha layer cache export error in which BuildKit kept only a
// twirp code ("permission_denied": go-actions-cache reads the message from "message", and
// twirp sends "msg"; its exporter reads before it writes, so a denied read shows here too)
// or its own words ("failed to reserve cache"): GitHub's message, when warmbuild's own
// requests got one in this run (the mount cache engine's Result.ReadDenied, WriteDenied).
func layerDeniedNote(exportErr, readDenied, writeDenied string) string {
	var msg string
	switch {
	case strings.Contains(exportErr, "permission_denied"):
		msg = cmp.Or(readDenied, writeDenied)
		if msg == "" {
			return " (the cache service refused this job's token: a read-only token, or ACTIONS_CACHE_MODE)"
		}
	case strings.Contains(exportErr, "failed to reserve cache"):
		msg = writeDenied
	}
	if msg == "" || strings.Contains(exportErr, msg) {
		return ""
	}
	return " (the cache service refused this job's token; it told warmbuild: " + msg + ")"
}
