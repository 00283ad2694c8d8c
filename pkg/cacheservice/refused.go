package cacheservice

import (
	"errors"
	"strings"
)

// Prefixes github.com puts in the message of a refusal that comes from the job's cache
// access (ACTIONS_CACHE_MODE, a read-only token), not from the cache's content:
//   - a denied write is CreateCacheEntry answering HTTP 200 {"ok": false, "message":
//     "cache write denied: ..."} (v2), or the v1 reserve answering 403 with that message
//     (actions/toolkit #2429: packages/cache src/cache.ts CACHE_WRITE_DENIED_PREFIX, matched
//     with startsWith);
//   - a denied read is GetCacheEntryDownloadURL answering a twirp 403 (permission_denied)
//     whose message holds "cache read denied: ..." (actions/toolkit #2447: matched with
//     includes, because the prefix can come wrapped mid-message).
const (
	ReadDeniedPrefix  = "cache read denied:"
	WriteDeniedPrefix = "cache write denied:"
)

// RefusedError is a reservation the service refused without saying that the key exists:
// CreateCacheEntry answering ok: false (HTTP 200) with its message — on github.com a
// denied write or a quota refusal — or a v1 reserve answered without a cache id. Only an
// "already exists" answer (HTTP 409, twirp already_exists) is reported as
// SaveResult.AlreadyExists; a refusal is an error that carries the service's words.
type RefusedError struct {
	Op      string // CreateCacheEntry or reserve cache
	Message string // the service's message, as it sent it
}

func (e *RefusedError) Error() string { return e.Op + " refused: " + e.Message }

// ReadDenied tells whether err is the service refusing a lookup because the job may not
// read caches, and returns the service's message.
func ReadDenied(err error) (string, bool) {
	var se *StatusError
	if errors.As(err, &se) && strings.Contains(se.Message, ReadDeniedPrefix) {
		return se.Message, true
	}
	return "", false
}

// WriteDenied tells whether err is the service refusing a save because the job may not
// write caches, and returns the service's message.
func WriteDenied(err error) (string, bool) {
	var re *RefusedError
	if errors.As(err, &re) && strings.HasPrefix(strings.TrimSpace(re.Message), WriteDeniedPrefix) {
		return re.Message, true
	}
	var se *StatusError
	if errors.As(err, &se) && strings.Contains(se.Message, WriteDeniedPrefix) {
		return se.Message, true
	}
	return "", false
}
