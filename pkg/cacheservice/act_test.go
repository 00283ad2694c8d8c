package cacheservice_test

import (
	"context"
	"strings"
	"testing"
	"time"

	actionscache "github.com/tonistiigi/go-actions-cache"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// Under act, with its cache server on and no ACTIONS_RUNTIME_TOKEN, BuildKit's own gha
// client (go-actions-cache, the code inside buildkitd) accepts the stand-in token and
// saves and loads a blob on act's real cache server with it.
func TestActCacheServerWorksForBuildKitWithTheStandInToken(t *testing.T) {
	srv := cachetest.StartV1(t)
	getenv, note := cacheservice.WithActToken(srv.Getenv, time.Now())
	if !strings.Contains(note, "nektos/act") {
		t.Errorf("the log should say why a stand-in token is used; note = %q", note)
	}
	token := getenv("ACTIONS_RUNTIME_TOKEN")
	if token == "" {
		t.Fatal("no stand-in token under act with its cache server on")
	}
	if getenv("ACTIONS_CACHE_URL") != srv.URL || getenv("ACT") != "true" {
		t.Error("other variables must pass through unchanged")
	}
	c, err := actionscache.New(token, getenv("ACTIONS_CACHE_URL"), false, actionscache.Opt{Timeout: 30 * time.Second})
	if err != nil {
		t.Fatalf("BuildKit's gha client refuses the stand-in token: %v", err)
	}
	scopes := c.Scopes()
	if len(scopes) != 1 || scopes[0].Permission&actionscache.PermissionWrite == 0 || scopes[0].Permission&actionscache.PermissionRead == 0 {
		t.Fatalf("scopes %+v: BuildKit imports the index of each scope and exports under a writable one; want one read-write scope", scopes)
	}
	ctx := context.Background()
	if err := c.Save(ctx, "buildkit-blob-1-sha256:abc", actionscache.NewBlob([]byte("layer bytes"))); err != nil {
		t.Fatalf("save on act's cache server: %v", err)
	}
	e, err := c.Load(ctx, "buildkit-blob-1-sha256:abc")
	if err != nil || e == nil {
		t.Fatalf("load from act's cache server: entry %v, %v", e, err)
	}
	var b strings.Builder
	if err := e.WriteTo(ctx, &b); err != nil || b.String() != "layer bytes" {
		t.Fatalf("read back %q, %v", b.String(), err)
	}
	// Another run (the main push two hours before this pull request) had a token with the
	// same scope, so each reads the index the other wrote.
	later, _ := cacheservice.WithActToken(srv.Getenv, time.Now().Add(-2*time.Hour))
	c2, err := actionscache.New(later("ACTIONS_RUNTIME_TOKEN"), srv.URL, false, actionscache.Opt{})
	if err != nil || c2.Scopes()[0].Scope != scopes[0].Scope {
		t.Errorf("another run's token has other scopes (%v): it would not read this run's index", err)
	}
}

func TestStandInTokenOnlyUnderActWithItsCacheServer(t *testing.T) {
	realToken := jwtWithScopes(t)
	tests := []struct {
		name string
		env  map[string]string
		want string // "" = the environment's own token (or none) is kept
	}{
		{"GitHub's runner", map[string]string{"ACTIONS_RESULTS_URL": "https://results-receiver.actions.githubusercontent.com/", "ACTIONS_RUNTIME_TOKEN": realToken}, realToken},
		{"GitHub's runner without a token", map[string]string{"ACTIONS_RESULTS_URL": "https://results-receiver.actions.githubusercontent.com/"}, ""},
		{"act without its cache server", map[string]string{"ACT": "true"}, ""},
		{"act with its artifact server (its own JWT)", map[string]string{"ACT": "true", "ACTIONS_CACHE_URL": "http://127.0.0.1:1/", "ACTIONS_RUNTIME_TOKEN": realToken}, realToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			getenv, note := cacheservice.WithActToken(func(k string) string { return tt.env[k] }, time.Now())
			if got := getenv("ACTIONS_RUNTIME_TOKEN"); got != tt.want || note != "" {
				t.Errorf("ACTIONS_RUNTIME_TOKEN = %q, note %q; want %q and no note", got, note, tt.want)
			}
		})
	}
	// act with its cache server and a placeholder token: BuildKit would say "token is malformed".
	getenv, _ := cacheservice.WithActToken(func(k string) string {
		return map[string]string{"ACT": "true", "ACTIONS_CACHE_URL": "http://127.0.0.1:1/", "ACTIONS_RUNTIME_TOKEN": "placeholder"}[k]
	}, time.Now())
	if _, err := actionscache.New(getenv("ACTIONS_RUNTIME_TOKEN"), "http://127.0.0.1:1/", false, actionscache.Opt{}); err != nil {
		t.Errorf("a placeholder token under act is not replaced: %v", err)
	}
}

// jwtWithScopes is shaped like the runner's ACTIONS_RUNTIME_TOKEN.
func jwtWithScopes(t *testing.T) string {
	t.Helper()
	getenv, _ := cacheservice.WithActToken(func(k string) string {
		return map[string]string{"ACT": "true", "ACTIONS_CACHE_URL": "http://x/"}[k]
	}, time.Now())
	return getenv("ACTIONS_RUNTIME_TOKEN")
}
