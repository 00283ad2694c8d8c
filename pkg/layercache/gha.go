package layercache

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
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

// ghaServiceFrom turns the run's one cache service detection (cacheservice.Vars.Detect,
// which the mount caches use too) into BuildKit's gha attributes, so the layer cache and
// the mount caches never pick different protocols on one runner. It used to detect on its
// own and disagreed under act without its cache server, on *.ghe.localhost, with
// ACTIONS_CACHE_SERVICE_V2=false and on GitHub Enterprise Server without ACTIONS_CACHE_URL.
//
// problem is non-empty when BuildKit could not use the service: without a URL or a usable
// token its gha backend fails to configure and, for an export, fails the whole build even
// with ignore-error=true, so the caller must leave gha out instead.
func ghaServiceFrom(s Settings) (svc ghaService, problem string) {
	svc, problem = ghaEndpointFrom(s)
	if problem != "" {
		return ghaService{}, problem
	}
	if p := ghaTokenProblem(svc.token); p != "" {
		return ghaService{}, p
	}
	return svc, ""
}

// ghaEndpointFrom is the protocol version and URL part of ghaServiceFrom; the token is the
// detected service's, not checked.
func ghaEndpointFrom(s Settings) (svc ghaService, problem string) {
	d, err := s.service()
	if err != nil {
		if err == cacheservice.ErrNoService { //nolint:errorlint // the bare sentinel: neither URL is set
			return ghaService{}, "the gha layer cache needs the GitHub Actions cache service (ACTIONS_RESULTS_URL or ACTIONS_CACHE_URL), and this runner provides neither" + noCacheAdvice
		}
		return ghaService{}, "the gha layer cache cannot use the GitHub Actions cache service: " + err.Error() + noCacheAdvice
	}
	why := " (" + d.Reason + ")"
	if d.ByURL {
		why = "" // "at ACTIONS_RESULTS_URL" says it already
	}
	if d.Protocol == cacheservice.ProtocolV2 {
		return ghaService{version: 2, url: d.URL, v1URL: d.V1URL, token: d.Token, desc: "cache service v2 at ACTIONS_RESULTS_URL" + why}, ""
	}
	return ghaService{version: 1, url: d.URL, token: d.Token, desc: "cache service v1 at ACTIONS_CACHE_URL" + why}, ""
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

// service is the detected service; the zero Settings (no detection) has none.
func (s Settings) service() (cacheservice.Service, error) {
	if s.ServiceErr != nil {
		return cacheservice.Service{}, s.ServiceErr
	}
	if s.Service.Protocol == "" {
		return cacheservice.Service{}, cacheservice.ErrNoService
	}
	return s.Service, nil
}

// offersService tells whether the runner names a cache service at all (either URL is set),
// which makes gha the automatic backend: Detect returns the bare ErrNoService only when
// neither is.
func (s Settings) offersService() bool {
	_, err := s.service()
	return err != cacheservice.ErrNoService //nolint:errorlint // the bare sentinel
}
