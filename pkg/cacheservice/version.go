package cacheservice

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode/utf16"
)

// Compression methods as actions/cache names them in the cache version.
const (
	CompressionZstdWithoutLong = "zstd-without-long" // what actions/cache uses today whenever zstd is installed
	CompressionZstd            = "zstd"
	CompressionGzip            = "gzip"
)

// Version computes the cache version the way actions/cache does
// (getCacheVersion in @actions/cache src/internal/cacheUtils.ts): the sha256
// hex of paths, then the compression method when not empty, then the salt
// "1.0", joined with "|". paths are the patterns exactly as written in the
// workflow's `path:` input, in order. The "windows-only" component that
// actions/cache adds on Windows runners is never added: this action runs in a
// Linux container.
//
// An entry saved with Version([]string{"~/.cache/pip"}, CompressionZstdWithoutLong)
// is restorable by actions/cache with `path: ~/.cache/pip`, provided the archive
// is a tar+zstd in the layout actions/cache writes.
func Version(paths []string, compression string) string {
	components := append([]string(nil), paths...)
	if compression != "" {
		components = append(components, compression)
	}
	components = append(components, "1.0")
	sum := sha256.Sum256([]byte(strings.Join(components, "|")))
	return hex.EncodeToString(sum[:])
}

// Limits the service puts on keys (actions/cache checkKey, and restoreCache's
// "Keys are limited to a maximum of 10").
const (
	MaxKeyLength = 512
	MaxKeys      = 10
)

// ValidateKey returns a *KeyError when the service would refuse key: empty,
// longer than 512 characters, or containing a comma.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return &KeyError{Key: key, Problem: "is empty"}
	case len(utf16.Encode([]rune(key))) > MaxKeyLength: // JavaScript's key.length, as actions/cache counts
		return &KeyError{Key: key, Problem: "is longer than 512 characters"}
	case strings.Contains(key, ","):
		return &KeyError{Key: key, Problem: "contains a comma, which the cache service does not allow"}
	}
	return nil
}

func validateKeys(key string, restoreKeys []string) error {
	if 1+len(restoreKeys) > MaxKeys {
		return &KeyError{Key: key, Problem: "with its restore keys makes more than 10 keys, the service's limit"}
	}
	if err := ValidateKey(key); err != nil {
		return err
	}
	for _, k := range restoreKeys {
		if err := ValidateKey(k); err != nil {
			return err
		}
	}
	return nil
}
