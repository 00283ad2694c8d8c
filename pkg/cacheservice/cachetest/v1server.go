package cachetest

import (
	"testing"

	"github.com/nektos/act/pkg/artifactcache"
)

// V1Server is nektos/act's own v1 cache server (pkg/artifactcache), started
// in-process on 127.0.0.1: a third-party implementation of the v1 REST API,
// the one users meet when they run workflows locally with act. Note its
// rules differ from GitHub's: keys are lower-cased, it checks no token, and
// a second reservation of a key succeeds (the newest entry wins on restore).
type V1Server struct {
	// URL is the value for ACTIONS_CACHE_URL (with a trailing slash, as act sets it).
	URL string
}

// StartV1 starts act's cache server with its storage in a temporary
// directory; it stops when the test ends.
func StartV1(t testing.TB) *V1Server {
	t.Helper()
	h, err := artifactcache.StartHandler(t.TempDir(), "", "127.0.0.1", 0, nil)
	if err != nil {
		t.Fatalf("start act's cache server: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return &V1Server{URL: h.ExternalURL() + "/"}
}

// Getenv answers like a container action's environment under act: ACT=true,
// ACTIONS_CACHE_URL for this server, and an ACTIONS_RESULTS_URL that is act's
// artifact server, not a cache service (which is why the client must not
// pick v2 there).
func (s *V1Server) Getenv(name string) string {
	switch name {
	case "ACT":
		return "true"
	case "ACTIONS_CACHE_URL":
		return s.URL
	case "ACTIONS_RESULTS_URL":
		return "http://127.0.0.1:1/" // act's artifact server: no cache there
	case "GITHUB_SERVER_URL":
		return "https://github.com"
	}
	return ""
}
