package layercache

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
)

const noCacheAdvice = "; layers are not cached (set cache-ref or cache-dir to cache them in a registry or a directory)"

// ghaService is how BuildKit's gha backend reaches the GitHub Actions cache service.
type ghaService struct {
	version int    // 1 or 2
	url     string // ACTIONS_RESULTS_URL for v2, ACTIONS_CACHE_URL for v1
	token   string // ACTIONS_RUNTIME_TOKEN
	desc    string // for BackendReason, e.g. "cache service v2 at ACTIONS_RESULTS_URL"
	// v1URL is ACTIONS_CACHE_URL beside a v2 service, for builders older than BuildKit 0.20.
	v1URL string
}

// attrs are the connection attributes of a type=gha entry, named as in BuildKit's
// cache/remotecache/gha (url, url_v2, version, token).
//
// A v2 entry carries url as well when the runner gives ACTIONS_CACHE_URL, as buildx does
// (docker/buildx build/opt.go, addGithubToken: url from ACTIONS_CACHE_URL beside url_v2
// from ACTIONS_RESULTS_URL). BuildKit before 0.20 reads only url and fails to configure
// the cache without it ("url not set for github actions cache", moby/buildkit
// cache/remotecache/gha/gha.go at v0.19.0); with it, such a builder speaks v1 to that URL
// wherever the service still answers v1. BuildKit 0.20 and later take url_v2 whenever it is
// present and version is not 1 (url_v2 came in moby/buildkit dea6c4916), so url changes
// nothing for them.
func (s ghaService) attrs() map[string]string {
	a := map[string]string{"token": s.token, "version": strconv.Itoa(s.version)}
	if s.version == 2 {
		a["url_v2"] = s.url
		if s.v1URL != "" {
			a["url"] = s.v1URL
		}
	} else {
		a["url"] = s.url
	}
	return a
}

// ghaServiceFromEnv finds the cache service the way the actions toolkit and buildx do,
// adapted to container actions, which never get ACTIONS_CACHE_SERVICE_V2 from the runner:
//
//   - ACTIONS_CACHE_API_FORCE_VERSION=v1|v2 (read by BuildKit's go-actions-cache too) wins;
//   - then ACTIONS_CACHE_SERVICE_V2, if someone set it;
//   - then v2 whenever ACTIONS_RESULTS_URL is set, except on GitHub Enterprise Server
//     (GITHUB_SERVER_URL is neither github.com nor *.ghe.com), which only speaks v1;
//   - else v1 at ACTIONS_CACHE_URL (or ACTIONS_RESULTS_URL, as the toolkit falls back).
//
// problem is non-empty when BuildKit could not use the service: without a URL or a usable
// token its gha backend fails to configure and, for an export, fails the whole build even
// with ignore-error=true, so the caller must leave gha out instead.
func ghaServiceFromEnv(getenv func(string) string) (svc ghaService, problem string) {
	svc, problem = ghaEndpointFromEnv(getenv)
	if problem != "" {
		return ghaService{}, problem
	}
	svc.token = getenv("ACTIONS_RUNTIME_TOKEN")
	if p := ghaTokenProblem(svc.token); p != "" {
		return ghaService{}, p
	}
	return svc, ""
}

// ghaEndpointFromEnv is the protocol version and URL part of ghaServiceFromEnv; the
// returned service has no token.
func ghaEndpointFromEnv(getenv func(string) string) (svc ghaService, problem string) {
	results := getenv("ACTIONS_RESULTS_URL")
	cacheURL := getenv("ACTIONS_CACHE_URL")

	v2, why := false, ""
	switch force := strings.ToLower(getenv("ACTIONS_CACHE_API_FORCE_VERSION")); {
	case force == "v2":
		v2, why = true, " (ACTIONS_CACHE_API_FORCE_VERSION)"
	case force == "v1":
		why = " (ACTIONS_CACHE_API_FORCE_VERSION)"
	default:
		if b, err := strconv.ParseBool(getenv("ACTIONS_CACHE_SERVICE_V2")); err == nil {
			v2, why = b, " (ACTIONS_CACHE_SERVICE_V2)"
		} else if results != "" && isEnterpriseServer(getenv("GITHUB_SERVER_URL")) && cacheURL != "" {
			why = " (GitHub Enterprise Server)"
		} else if getenv("ACT") == "true" && cacheURL != "" {
			// Under nektos/act ACTIONS_RESULTS_URL is its artifact server; its cache server
			// speaks v1 (as pkg/cacheservice.Detect decides).
			why = " (nektos/act's cache server)"
		} else {
			v2 = results != ""
		}
	}
	if v2 {
		svc = ghaService{version: 2, url: results, v1URL: cacheURL, desc: "cache service v2 at ACTIONS_RESULTS_URL" + why}
		if results == "" {
			return ghaService{}, "the gha layer cache needs ACTIONS_RESULTS_URL for cache service v2, and this runner does not set it" + noCacheAdvice
		}
	} else {
		svc = ghaService{version: 1, url: cacheURL, desc: "cache service v1 at ACTIONS_CACHE_URL" + why}
		if cacheURL == "" {
			svc.url, svc.desc = results, "cache service v1 at ACTIONS_RESULTS_URL"+why
		}
		if svc.url == "" {
			return ghaService{}, "the gha layer cache needs the GitHub Actions cache service (ACTIONS_RESULTS_URL or ACTIONS_CACHE_URL), and this runner provides neither" + noCacheAdvice
		}
	}
	return svc, ""
}

// isEnterpriseServer tells GitHub Enterprise Server (a host of the customer's) from
// github.com and GHE.com (*.ghe.com), which both run cache service v2.
func isEnterpriseServer(serverURL string) bool {
	if serverURL == "" {
		return false
	}
	u, err := url.Parse(serverURL)
	if err != nil || u.Hostname() == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	return host != "github.com" && !strings.HasSuffix(host, ".ghe.com")
}

// ghaTokenProblem checks what BuildKit's go-actions-cache checks before it talks to the
// service: the token is a JWT whose claims carry "ac" (a JSON list of cache scopes), "exp"
// and "nbf". act and some self-hosted runners set a placeholder instead; with one, BuildKit
// fails the build while configuring the exporter. The signature is not checked (the service
// does that), nor the times (the runner issues a fresh token for each job).
func ghaTokenProblem(token string) string {
	if token == "" {
		return "the gha layer cache needs ACTIONS_RUNTIME_TOKEN, which this runner does not provide (act and some self-hosted runners do not)" + noCacheAdvice
	}
	notJWT := "ACTIONS_RUNTIME_TOKEN is not a cache service token (BuildKit needs a JWT with cache scopes; act sets a placeholder)" + noCacheAdvice
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return notJWT
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return notJWT
	}
	var claims struct {
		AC  *string  `json:"ac"`
		Exp *float64 `json:"exp"`
		Nbf *float64 `json:"nbf"`
	}
	if err := json.Unmarshal(raw, &claims); err != nil || claims.AC == nil || claims.Exp == nil || claims.Nbf == nil {
		return notJWT
	}
	var scopes []struct {
		Scope      string
		Permission int
	}
	if err := json.Unmarshal([]byte(*claims.AC), &scopes); err != nil {
		return notJWT
	}
	return ""
}
