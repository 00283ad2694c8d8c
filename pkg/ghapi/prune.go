package ghapi

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/google/go-github/v62/github"
)

// CacheEntry is one Actions cache entry.
type CacheEntry struct {
	ID             int64
	Key            string
	Ref            string
	Version        string
	SizeBytes      int64
	CreatedAt      time.Time
	LastAccessedAt time.Time
}

// PruneResult says what PruneSuperseded kept and deleted.
type PruneResult struct {
	// Notice is set, and nothing was done, when the call was skipped for a
	// reason the user can fix (NoTokenNotice).
	Notice string
	// Kept are the newest entries, newest first.
	Kept []CacheEntry
	// Deleted are the entries this call deleted, newest first.
	Deleted    []CacheEntry
	FreedBytes int64
	// Vanished were listed but gone when deleted (404): evicted, or removed
	// by a concurrent job. They count towards nothing.
	Vanished []CacheEntry
	// Truncated is true when the listing stopped at the page bound; entries
	// older than those read were left alone.
	Truncated bool
}

// PruneOption adjusts PruneSuperseded.
type PruneOption func(*pruneConfig)

type pruneConfig struct{ baseOf func(key string) string }

// KeepBasesOf protects the entries that kept ones depend on: baseOf returns the key of
// the entry a key's entry needs (a delta's base), or "". Such an entry is kept too,
// whatever its age.
func KeepBasesOf(baseOf func(key string) string) PruneOption {
	return func(c *pruneConfig) { c.baseOf = baseOf }
}

// PruneSuperseded keeps the newest keep entries (by created_at) whose key
// starts with keyPrefix on exactly ref (e.g. GITHUB_REF, "refs/heads/main")
// and deletes the rest. keep must be at least 1: the entry just saved is
// never superseded.
//
// Listing: GET /repos/{owner}/{repo}/actions/caches?key=<prefix>&ref=<ref>
// &sort=created_at&direction=desc&per_page=100, following the Link header's
// rel="next" for at most the configured number of pages.
//
// Deletion is by id (DELETE .../actions/caches/{cache_id}), one request per
// entry, never by key: DELETE .../actions/caches?key=&ref= removes every entry
// with that complete key on the ref, whatever its version, so it could remove
// a kept entry that shares the key under another version, and it cannot
// express "all but the newest". By id deletes exactly the entries listed.
//
// On an error the result holds what was done before it.
func (c *Client) PruneSuperseded(ctx context.Context, keyPrefix, ref string, keep int, opts ...PruneOption) (PruneResult, error) {
	var cfg pruneConfig
	for _, o := range opts {
		o(&cfg)
	}
	switch {
	case keyPrefix == "":
		// An empty prefix would select every cache on the ref.
		return PruneResult{}, fmt.Errorf("prune Actions caches: empty key prefix")
	case !strings.HasPrefix(ref, "refs/"):
		return PruneResult{}, fmt.Errorf("prune Actions caches: ref %q is not a full Git ref such as refs/heads/main", ref)
	case keep < 1:
		return PruneResult{}, fmt.Errorf("prune Actions caches: keep must be at least 1, got %d", keep)
	}
	if c.gh == nil {
		return PruneResult{Notice: NoTokenNotice}, nil
	}

	entries, truncated, err := c.listCaches(ctx, keyPrefix, ref)
	if err != nil {
		return PruneResult{}, err
	}
	res := PruneResult{Truncated: truncated}
	if len(entries) <= keep {
		res.Kept = entries
		return res, nil
	}
	res.Kept = entries[:keep]
	needed := map[string]bool{}
	if cfg.baseOf != nil {
		for _, e := range res.Kept {
			if b := cfg.baseOf(e.Key); b != "" {
				needed[b] = true
			}
		}
	}
	for _, e := range entries[keep:] {
		if needed[e.Key] {
			res.Kept = append(res.Kept, e)
			continue
		}
		_, err := c.gh.Actions.DeleteCachesByID(ctx, c.owner, c.repo, e.ID)
		switch {
		case err == nil:
			res.Deleted = append(res.Deleted, e)
			res.FreedBytes += e.SizeBytes
		case hasStatus(err, http.StatusNotFound):
			// The repository was just listed, so this 404 is the entry, not the repository.
			res.Vanished = append(res.Vanished, e)
		default:
			return res, c.classify(fmt.Sprintf("delete Actions cache %d (%s)", e.ID, e.Key), PermissionActionsWrite, err)
		}
	}
	return res, nil
}

// listCaches returns the entries with keyPrefix on ref, newest first.
func (c *Client) listCaches(ctx context.Context, keyPrefix, ref string) ([]CacheEntry, bool, error) {
	opts := &github.ActionsCacheListOptions{
		ListOptions: github.ListOptions{PerPage: perPage, Page: 1},
		Key:         github.String(keyPrefix),
		Ref:         github.String(ref),
		Sort:        github.String("created_at"),
		Direction:   github.String("desc"),
	}
	seen := map[int64]bool{}
	var entries []CacheEntry
	for pages := 0; ; pages++ {
		if pages == c.cfg.maxPages {
			return sortNewestFirst(entries), true, nil
		}
		list, resp, err := c.gh.Actions.ListCaches(ctx, c.owner, c.repo, opts)
		if err != nil {
			// Listing is only done to delete, so the permission to ask for is write.
			return nil, false, c.classify("list Actions caches", PermissionActionsWrite, err)
		}
		for _, ac := range list.ActionsCaches {
			e := entryFrom(ac)
			// The server filters already; checking again guards against a
			// looser reading of key or ref deleting someone else's entries.
			// Entries created while paging shift pages, hence the dedup.
			if !strings.HasPrefix(e.Key, keyPrefix) || e.Ref != ref || seen[e.ID] {
				continue
			}
			seen[e.ID] = true
			entries = append(entries, e)
		}
		if resp.NextPage == 0 || resp.NextPage <= opts.Page {
			return sortNewestFirst(entries), false, nil
		}
		opts.Page = resp.NextPage
	}
}

func entryFrom(ac *github.ActionsCache) CacheEntry {
	e := CacheEntry{
		ID:        ac.GetID(),
		Key:       ac.GetKey(),
		Ref:       ac.GetRef(),
		Version:   ac.GetVersion(),
		SizeBytes: ac.GetSizeInBytes(),
	}
	if ac.CreatedAt != nil {
		e.CreatedAt = ac.CreatedAt.Time
	}
	if ac.LastAccessedAt != nil {
		e.LastAccessedAt = ac.LastAccessedAt.Time
	}
	return e
}

// sortNewestFirst orders by created_at, then id (ids grow with time), so the
// kept set does not depend on the order pages arrived in.
func sortNewestFirst(entries []CacheEntry) []CacheEntry {
	sort.SliceStable(entries, func(i, j int) bool {
		if !entries[i].CreatedAt.Equal(entries[j].CreatedAt) {
			return entries[i].CreatedAt.After(entries[j].CreatedAt)
		}
		return entries[i].ID > entries[j].ID
	})
	return entries
}
