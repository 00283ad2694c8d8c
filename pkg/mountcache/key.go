package mountcache

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// KeyPrefix starts every mount cache key, so warmbuild's entries are easy to list and
// clean up.
const KeyPrefix = "warmbuild-mount-"

const (
	maxKeyLen   = 512 // the cache service's limit
	maxIDPart   = 200
	maxHashPart = 64
)

// Key names the cache entry for a mount's directory on a platform, with hash (see
// HashFiles) telling dependency sets apart:
//
//	warmbuild-mount-<id>-<platform>-<hash>
//
// id is the mount's LLB cache id (so BUILDKIT_CACHE_MOUNT_NS keeps caches apart) and,
// like platform and hash, is reduced to letters, digits, '.', '_' and '-': keys may not
// contain commas and must stay under 512 characters. Ids longer than 200 characters are
// shortened and suffixed with a digest of the full id.
func Key(m Mount, platform, hash string) string {
	h := sanitize(hash)
	if len(h) > maxHashPart {
		h = h[:maxHashPart]
	}
	return RestoreKey(m, platform) + h
}

// RestoreKey is Key without the hash: the prefix to restore the latest entry of the same
// mount and platform when no entry has this run's exact hash.
func RestoreKey(m Mount, platform string) string {
	key := KeyPrefix + shorten(sanitize(m.CacheID), m.CacheID, maxIDPart) + "-" + shorten(sanitize(platform), platform, 64) + "-"
	return key[:min(len(key), maxKeyLen-maxHashPart)]
}

// sanitize keeps [A-Za-z0-9._-], turns every other run of characters into one '-' and
// trims dashes at both ends: "//root/.cache/pip" becomes "root-.cache-pip",
// "linux/arm/v7" becomes "linux-arm-v7".
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range s {
		if r == '.' || r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

func shorten(clean, original string, max int) string {
	if len(clean) <= max {
		if clean == "" {
			return "none"
		}
		return clean
	}
	sum := sha256.Sum256([]byte(original))
	return clean[:max-9] + "-" + hex.EncodeToString(sum[:4])
}

// Delta entries. A mount cache whose key changed (new requirements) mostly holds what
// the restored entry held. Its entry can then be a delta: an archive of what changed,
// extracted after the archive of a full entry, its base. A delta's key is the key of
// the content it completes, "+", and the hash part of its base's key: restoring the
// key finds the delta by prefix (an exact full entry still wins), and the base is
// named in the key for the restore and for the cleanup, which must keep it.
const deltaSep = "+"

// DeltaKey is the key of a delta completing key on top of the full entry baseKey of the
// same mount; ok is false when the two are not keys of one mount or the result would be
// too long for the cache service.
func DeltaKey(key, baseKey, restoreKey string) (string, bool) {
	h, ok1 := strings.CutPrefix(key, restoreKey)
	b, ok2 := strings.CutPrefix(baseKey, restoreKey)
	if !ok1 || !ok2 || h == "" || b == "" || strings.Contains(h+b, deltaSep) {
		return "", false
	}
	k := key + deltaSep + b
	return k, len(k) <= maxKeyLen
}

// BaseKey is the key of the full entry a delta's key names, or "" when entryKey is
// the key of a full entry (or not one of this mount's).
func BaseKey(entryKey, restoreKey string) string {
	rest, ok := strings.CutPrefix(entryKey, restoreKey)
	if !ok {
		return ""
	}
	_, b, ok := strings.Cut(rest, deltaSep)
	if !ok || b == "" || strings.Contains(b, deltaSep) {
		return ""
	}
	return restoreKey + b
}

// DeltaBaseOf is BaseKey for a key of any mount: the prefix is everything up to the
// hash part, which follows the last "-" (hashes are hex).
func DeltaBaseOf(entryKey string) string {
	i := strings.LastIndex(entryKey, "-")
	if i < 0 || !strings.HasPrefix(entryKey, KeyPrefix) {
		return ""
	}
	return BaseKey(entryKey, entryKey[:i+1])
}

// CompletesKey reports whether entryKey holds the content of key: key itself, or a
// delta completing it.
func CompletesKey(entryKey, key string) bool {
	return entryKey == key || strings.HasPrefix(entryKey, key+deltaSep)
}

// PrunePrefix is the part of a saved key that names its mount and platform, without the
// hash (and a delta's "+base"): warmbuild-mount-<id>-<platform>-. Entries under it are
// the same mount's, superseded when a newer one is saved.
func PrunePrefix(key string) string {
	return key[:strings.LastIndex(key, "-")+1]
}
