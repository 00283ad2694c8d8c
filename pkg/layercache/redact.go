package layercache

import (
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"maps"
)

// isSecretAttr tells cache attributes that hold credentials (gha: token, ghtoken; s3 and
// azblob: keys and session tokens).
func isSecretAttr(name string) bool {
	switch name {
	case "token", "ghtoken", "secret_access_key", "session_token", "access_key_id", "password":
		return true
	}
	return false
}

// Redacted is an entry in buildx's CSV syntax with every credential replaced by ***, for
// logs and reports. Never print an entry any other way.
func Redacted(e *inputs.CacheEntry) string {
	if e == nil {
		return ""
	}
	attrs := maps.Clone(e.Attrs)
	for k := range attrs {
		if isSecretAttr(k) {
			attrs[k] = "***"
		}
	}
	safe := inputs.CacheEntry{Type: e.Type, Attrs: attrs}
	return safe.String()
}

// RedactedAll is Redacted for a list.
func RedactedAll(es inputs.CacheEntries) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, Redacted(e))
	}
	return out
}
