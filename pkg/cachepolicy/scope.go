package cachepolicy

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxScopeLen is the longest registry tag (the OCI distribution spec allows
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}). Scopes are also used as tag suffixes and directory
// names, so every scope fits that grammar.
const maxScopeLen = 128

// scopeHashLen is how many hex digits of a hash keep truncated names apart.
const scopeHashLen = 8

// Scope names one branch's cache of one image: "<base>-<branch>", e.g.
// Scope("app", "feature/login") == "app-feature-login". The result is a valid registry tag,
// gha scope and directory name: characters outside [A-Za-z0-9_.-] become '-', leading '.'
// and '-' are dropped, and names longer than 128 characters are cut and end in a short hash
// of the full input so that two long branches stay apart. Either part may be empty; when both
// are, the scope is "cache".
func Scope(base, branch string) string {
	var parts []string
	for _, p := range []string{base, branch} {
		if p = sanitizeTagChars(p); p != "" {
			parts = append(parts, p)
		}
	}
	s := strings.TrimLeft(strings.Join(parts, "-"), ".-")
	if s == "" {
		return "cache"
	}
	if len(s) <= maxScopeLen {
		return s
	}
	sum := sha256.Sum256([]byte(base + "\x00" + branch))
	return s[:maxScopeLen-scopeHashLen-1] + "-" + hex.EncodeToString(sum[:])[:scopeHashLen]
}

func sanitizeTagChars(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		default:
			return '-'
		}
	}, s)
}
