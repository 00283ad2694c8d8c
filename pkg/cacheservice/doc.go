// Package cacheservice is a client of the GitHub Actions cache service: it saves
// a stream under a key and restores the newest entry matching a key or restore
// keys, the way actions/cache does, so entries are shared with actions/cache.
//
// Two protocols:
//   - v2 (github.com): twirp JSON calls to ACTIONS_RESULTS_URL
//     (CreateCacheEntry, FinalizeCacheEntryUpload, GetCacheEntryDownloadURL);
//     the bytes go to and come from Azure Blob Storage through signed URLs.
//   - v1 (GitHub Enterprise Server, nektos/act): REST under
//     ACTIONS_CACHE_URL/_apis/artifactcache/.
//
// Why not github.com/tonistiigi/go-actions-cache (BuildKit's gha backend,
// already in the module graph)? Reading its source (2026-09 version) shows it
// lacks what the mount cache needs, so this package writes those parts:
//   - Its cache version is a constant hash: entries it writes are invisible to
//     actions/cache and it cannot restore actions/cache entries. Here the
//     caller passes the version (see [Version]).
//   - Save takes a Blob (io.ReaderAt + Size): a multi-gigabyte archive must be
//     materialised in a file or memory first. Here Save reads an io.Reader and
//     keeps at most parallelism+1 blocks in memory.
//   - Downloads read one sequential stream; here large entries are fetched as
//     parallel byte ranges and written in order with bounded memory.
//   - It retries only 429 responses (not 5xx or network errors), its v2
//     uploads go through the Azure SDK's own retry policy (up to 10 retries,
//     2 minutes apart) that the caller cannot bound, and its settings
//     (UploadConcurrency, Log, the backoff pool) are package globals.
//   - It picks v2 only from ACTIONS_CACHE_SERVICE_V2, which the runner does not
//     give container actions, and it refuses tokens that are not JWTs with an
//     "ac" claim (act gives none).
//
// What is kept from it: its v1 paths and headers, and its reading of
// Retry-After (seconds or an HTTP date), reimplemented here because they are
// unexported there.
//
// A finalize (v2) or commit (v1) that fails after its retries is checked with
// a lookup of the exact key: when its answer was lost on the way back, the
// call took effect and the retry found nothing left to finalize, yet the
// entry is there and the save succeeded.
//
// A cache failure must never fail a build: callers turn errors from this
// package into warnings.
package cacheservice
