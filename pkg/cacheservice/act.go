package cacheservice

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// StandInTokenLifetime is how long the stand-in token for act's cache server claims to be
// valid; BuildKit's gha backend refuses an expired one.
const StandInTokenLifetime = 6 * time.Hour

// WithActToken returns getenv unchanged, except under nektos/act with its cache server on
// (ACT=true and ACTIONS_CACHE_URL, which act sets only when it starts the server: nektos/act
// cmd/root.go) and without a usable ACTIONS_RUNTIME_TOKEN: then ACTIONS_RUNTIME_TOKEN is
// answered with a stand-in, and note says so for the log.
//
// act gives container actions no ACTIONS_RUNTIME_TOKEN unless its artifact server is on
// (nektos/act pkg/runner/run_context.go, setActionRuntimeVars), and its cache server
// (pkg/artifactcache) checks none. BuildKit's gha backend does check one before it talks to
// the service (tonistiigi/go-actions-cache cache.go, New): a JWT, parsed without verifying
// the signature, whose claims hold "ac" (a JSON string listing cache scopes with
// permissions), "exp" (not passed) and "nbf" (not in the future). BuildKit then imports the
// index of every scope listed and exports under the first writable one (moby/buildkit
// cache/remotecache/gha/gha.go), so the stand-in lists one scope, "", readable and
// writable, as the token act itself makes with its artifact server does
// (nektos/act pkg/common/auth.go, CreateAuthorizationToken): every run on this act cache
// server then reads and writes the same index, told apart by the cache entries' own scope.
// The stand-in is unsigned and means nothing to any other service.
func WithActToken(getenv func(string) string, now time.Time) (_ func(string) string, note string) {
	if getenv("ACT") != "true" || strings.TrimSpace(getenv("ACTIONS_CACHE_URL")) == "" {
		return getenv, ""
	}
	if hasCacheScopes(getenv("ACTIONS_RUNTIME_TOKEN")) {
		return getenv, ""
	}
	token := standInToken(now)
	return func(k string) string {
		if k == "ACTIONS_RUNTIME_TOKEN" {
			return token
		}
		return getenv(k)
	}, "running under nektos/act, whose cache server asks for no token: the caches use a stand-in ACTIONS_RUNTIME_TOKEN (an unsigned JWT with one read-write cache scope), because BuildKit's gha backend refuses to start without one"
}

// standInToken is an unsigned JWT with the claims go-actions-cache reads.
func standInToken(now time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": "HS256", "typ": "JWT"})
	scopes, _ := json.Marshal([]map[string]any{{"Scope": "", "Permission": 3}}) // read | write
	claims, _ := json.Marshal(map[string]any{
		"ac":  string(scopes),
		"iat": now.Unix(),
		// A minute back, for a builder whose clock is a little behind the action's.
		"nbf": now.Add(-time.Minute).Unix(),
		"exp": now.Add(StandInTokenLifetime).Unix(),
		"iss": "warmbuild stand-in for nektos/act's cache server",
	})
	return enc(header) + "." + enc(claims) + "." + enc([]byte("unsigned"))
}

// hasCacheScopes tells a JWT carrying cache scopes (an "ac" claim) from nothing or a
// placeholder.
func hasCacheScopes(token string) bool {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 3 {
		return false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return false
	}
	var claims struct {
		AC string `json:"ac"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.AC == "" {
		return false
	}
	var scopes []json.RawMessage
	return json.Unmarshal([]byte(claims.AC), &scopes) == nil && len(scopes) > 0
}
