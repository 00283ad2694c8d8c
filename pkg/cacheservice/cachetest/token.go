package cachetest

import (
	"encoding/base64"
	"encoding/json"
	"time"
)

// RuntimeToken is shaped like the runner's ACTIONS_RUNTIME_TOKEN: a JWT whose "ac" claim
// lists the cache scopes of the run (the first read-write, the others read-only).
// BuildKit's gha backend reads those claims; the test server only compares the whole token,
// so the signature is a placeholder.
func RuntimeToken(scopes ...string) string {
	type scope struct {
		Scope      string
		Permission int
	}
	var ac []scope
	for i, s := range scopes {
		perm := 1 // read
		if i == 0 {
			perm = 3 // read and write
		}
		ac = append(ac, scope{s, perm})
	}
	acJSON, _ := json.Marshal(ac)
	claims, _ := json.Marshal(map[string]any{
		"ac":  string(acJSON),
		"nbf": time.Now().Add(-time.Hour).Unix(),
		"exp": time.Now().Add(6 * time.Hour).Unix(),
	})
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(claims) + "." + enc([]byte("placeholder-signature"))
}
