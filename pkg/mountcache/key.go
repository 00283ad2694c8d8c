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
