package layercache

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	actionscache "github.com/tonistiigi/go-actions-cache"
	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// runtimeToken is shaped like the runner's ACTIONS_RUNTIME_TOKEN: a JWT whose "ac" claim
// lists the cache scopes the job may read and write.
func runtimeToken(t *testing.T) string {
	t.Helper()
	ac, err := json.Marshal([]map[string]any{
		{"Scope": "refs/heads/feature/login-form", "Permission": 3},
		{"Scope": "refs/heads/main", "Permission": 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	return jwt(t, map[string]any{"ac": string(ac), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "vstoken.actions.githubusercontent.com"})
}

func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	body, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(body) + "." + enc([]byte("signature-not-checked-here"))
}

const resultsURL = "https://results-receiver.actions.githubusercontent.com/"

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// fromEnv fills s's runner fields as pkg/run does: from runnerenv.Read, detecting the cache
// service once.
func fromEnv(s Settings, getenv func(string) string) Settings {
	env := runnerenv.Read(getenv)
	s.Service, s.ServiceErr = env.CacheService()
	s.RuntimeToken, s.Repository = env.Cache.Token, env.GitHub.Repository
	return s
}

// githubEnv is a github.com job's environment: cache service v2.
func githubEnv(t *testing.T) map[string]string {
	return map[string]string{
		"ACTIONS_RESULTS_URL":   resultsURL,
		"ACTIONS_RUNTIME_TOKEN": runtimeToken(t),
		"GITHUB_SERVER_URL":     "https://github.com",
		"GITHUB_REPOSITORY":     "octo-org/warm-app",
	}
}

// decide runs the real policy for the three situations every backend must handle.
func decide(t *testing.T, event string) cachepolicy.Decision {
	t.Helper()
	repo := `"repository":{"full_name":"octo-org/warm-app","default_branch":"main"}`
	var in cachepolicy.Input
	switch event {
	case "push to main":
		in = cachepolicy.Input{EventName: "push", Ref: "refs/heads/main", Payload: []byte("{" + repo + "}")}
	case "push to feature/login-form":
		in = cachepolicy.Input{EventName: "push", Ref: "refs/heads/feature/login-form", Payload: []byte("{" + repo + "}")}
	case "pull request #12":
		in = cachepolicy.Input{EventName: "pull_request", Ref: "refs/pull/12/merge", Payload: []byte(`{"number":12,"pull_request":{"number":12,
			"head":{"ref":"feature/login-form","repo":{"full_name":"octo-org/warm-app"}},"base":{"ref":"main"}},` + repo + "}")}
	default:
		t.Fatalf("unknown event %q", event)
	}
	d, err := cachepolicy.Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// strs shows entries in buildx syntax with the runtime token replaced by <token>, so the
// tables below stay readable. The token itself is checked in TestTokenOnlyInEntries.
func strs(es inputs.CacheEntries, token string) []string {
	out := []string{}
	for _, e := range es {
		s := e.String()
		if token != "" {
			s = strings.ReplaceAll(s, token, "<token>")
		}
		out = append(out, s)
	}
	return out
}

func TestPlanForEachBackendAndEvent(t *testing.T) {
	tests := []struct {
		backend    string
		event      string
		wantIn     []string
		wantOut    []string
		wantRead   []string
		wantWrite  string
		wantReason string
	}{
		{
			backend: "gha", event: "push to main",
			wantIn:   []string{"type=gha,scope=org-app-main,token=<token>,url_v2=" + resultsURL + ",version=2"},
			wantOut:  []string{"type=gha,ignore-error=true,mode=max,scope=org-app-main,token=<token>,url_v2=" + resultsURL + ",version=2"},
			wantRead: []string{"org-app-main"}, wantWrite: "org-app-main",
			wantReason: "gha: the runner provides the GitHub Actions cache service, cache service v2 at ACTIONS_RESULTS_URL",
		},
		{
			backend: "gha", event: "pull request #12",
			wantIn:   []string{"type=gha,scope=org-app-main,token=<token>,url_v2=" + resultsURL + ",version=2"},
			wantOut:  []string{},
			wantRead: []string{"org-app-main"},
		},
		{
			backend: "gha", event: "push to feature/login-form",
			wantIn: []string{
				"type=gha,scope=org-app-feature-login-form,token=<token>,url_v2=" + resultsURL + ",version=2",
				"type=gha,scope=org-app-main,token=<token>,url_v2=" + resultsURL + ",version=2",
			},
			wantOut:  []string{},
			wantRead: []string{"org-app-feature-login-form", "org-app-main"},
		},
		{
			backend: "registry", event: "push to main",
			wantIn:   []string{"ghcr.io/octo-org/warm-app:buildcache-org-app-main"},
			wantOut:  []string{"type=registry,ignore-error=true,image-manifest=true,mode=max,oci-mediatypes=true,ref=ghcr.io/octo-org/warm-app:buildcache-org-app-main"},
			wantRead: []string{"ghcr.io/octo-org/warm-app:buildcache-org-app-main"}, wantWrite: "ghcr.io/octo-org/warm-app:buildcache-org-app-main",
			wantReason: "registry: cache-ref is set",
		},
		{
			backend: "registry", event: "pull request #12",
			wantIn:   []string{"ghcr.io/octo-org/warm-app:buildcache-org-app-main"},
			wantOut:  []string{},
			wantRead: []string{"ghcr.io/octo-org/warm-app:buildcache-org-app-main"},
		},
		{
			backend: "registry", event: "push to feature/login-form",
			wantIn:   []string{"ghcr.io/octo-org/warm-app:buildcache-org-app-feature-login-form", "ghcr.io/octo-org/warm-app:buildcache-org-app-main"},
			wantOut:  []string{},
			wantRead: []string{"ghcr.io/octo-org/warm-app:buildcache-org-app-feature-login-form", "ghcr.io/octo-org/warm-app:buildcache-org-app-main"},
		},
		{
			backend: "local", event: "push to main",
			wantIn:   []string{"type=local,src=/var/cache/layers/org-app-main"},
			wantOut:  []string{"type=local,dest=/var/cache/layers/org-app-main,ignore-error=true,mode=max,reset=true"},
			wantRead: []string{"/var/cache/layers/org-app-main"}, wantWrite: "/var/cache/layers/org-app-main",
			wantReason: "local: cache-dir is set",
		},
		{
			backend: "local", event: "pull request #12",
			wantIn:   []string{"type=local,src=/var/cache/layers/org-app-main"},
			wantOut:  []string{},
			wantRead: []string{"/var/cache/layers/org-app-main"},
		},
		{
			backend: "local", event: "push to feature/login-form",
			wantIn:   []string{"type=local,src=/var/cache/layers/org-app-feature-login-form", "type=local,src=/var/cache/layers/org-app-main"},
			wantOut:  []string{},
			wantRead: []string{"/var/cache/layers/org-app-feature-login-form", "/var/cache/layers/org-app-main"},
		},
		{backend: "none", event: "push to main", wantIn: []string{}, wantOut: []string{}, wantReason: "none: cache-backend is none"},
		{backend: "none", event: "pull request #12", wantIn: []string{}, wantOut: []string{}},
		{backend: "none", event: "push to feature/login-form", wantIn: []string{}, wantOut: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.backend+"/"+tt.event, func(t *testing.T) {
			env := githubEnv(t)
			s := fromEnv(Settings{Tags: []string{"ghcr.io/org/app:1.0"}, Auto: true}, envOf(env))
			switch tt.backend {
			case "gha":
				// auto: the runner provides the service
			case "registry":
				s.Backend = backend(t, "", "ghcr.io/octo-org/warm-app:buildcache", "")
			case "local":
				s.Backend = backend(t, "", "", "/var/cache/layers")
			case "none":
				s.Backend = backend(t, BackendNone, "", "")
			}
			p := NewPlan(s, decide(t, tt.event))
			if p.Backend != tt.backend {
				t.Errorf("backend %q (%s), want %q", p.Backend, p.BackendReason, tt.backend)
			}
			if tt.wantReason != "" && p.BackendReason != tt.wantReason {
				t.Errorf("backend reason %q, want %q", p.BackendReason, tt.wantReason)
			}
			token := env["ACTIONS_RUNTIME_TOKEN"]
			if got := strs(p.Imports, token); !reflect.DeepEqual(got, tt.wantIn) {
				t.Errorf("imports\n got  %q\n want %q", got, tt.wantIn)
			}
			if got := strs(p.Exports, token); !reflect.DeepEqual(got, tt.wantOut) {
				t.Errorf("exports\n got  %q\n want %q", got, tt.wantOut)
			}
			if !reflect.DeepEqual(p.ReadScopes, tt.wantRead) || p.WriteScope != tt.wantWrite {
				t.Errorf("reads %q writes %q, want %q and %q", p.ReadScopes, p.WriteScope, tt.wantRead, tt.wantWrite)
			}
			if len(p.Warnings) != 0 {
				t.Errorf("unexpected warnings %q", p.Warnings)
			}
		})
	}
}

func TestGHAProtocolFromEnvironment(t *testing.T) {
	const cacheURL = "https://ghes.example.com/_services/artifactcache/abc/"
	tests := []struct {
		name      string
		env       map[string]string
		wantAttrs map[string]string // connection attributes of the import
		reason    string
	}{
		{
			name:      "github.com: results URL means v2",
			env:       map[string]string{"ACTIONS_RESULTS_URL": resultsURL, "GITHUB_SERVER_URL": "https://github.com"},
			wantAttrs: map[string]string{"url_v2": resultsURL, "version": "2"},
			reason:    "cache service v2 at ACTIONS_RESULTS_URL",
		},
		{
			name:      "github.com with an old cache URL still uses v2",
			env:       map[string]string{"ACTIONS_RESULTS_URL": resultsURL, "ACTIONS_CACHE_URL": "https://acghubeus1.actions.githubusercontent.com/xyz/", "GITHUB_SERVER_URL": "https://github.com"},
			wantAttrs: map[string]string{"url_v2": resultsURL, "url": "https://acghubeus1.actions.githubusercontent.com/xyz/", "version": "2"},
			reason:    "cache service v2 at ACTIONS_RESULTS_URL",
		},
		{
			name:      "GHE.com data residency uses v2",
			env:       map[string]string{"ACTIONS_RESULTS_URL": resultsURL, "ACTIONS_CACHE_URL": cacheURL, "GITHUB_SERVER_URL": "https://octo.ghe.com"},
			wantAttrs: map[string]string{"url_v2": resultsURL, "url": cacheURL, "version": "2"},
			reason:    "cache service v2 at ACTIONS_RESULTS_URL",
		},
		{
			name:      "GitHub Enterprise Server speaks only v1",
			env:       map[string]string{"ACTIONS_RESULTS_URL": "https://ghes.example.com/results/", "ACTIONS_CACHE_URL": cacheURL, "GITHUB_SERVER_URL": "https://ghes.example.com"},
			wantAttrs: map[string]string{"url": cacheURL, "version": "1"},
			reason:    "cache service v1 at ACTIONS_CACHE_URL (GitHub Enterprise Server",
		},
		{
			name:      "act and older servers: only a cache URL means v1",
			env:       map[string]string{"ACTIONS_CACHE_URL": "http://172.17.0.1:34567/"},
			wantAttrs: map[string]string{"url": "http://172.17.0.1:34567/", "version": "1"},
			reason:    "cache service v1 at ACTIONS_CACHE_URL",
		},
		{
			// As buildx (addGithubToken) and the mount caches: only a true value decides.
			name:      "ACTIONS_CACHE_SERVICE_V2=false decides nothing",
			env:       map[string]string{"ACTIONS_RESULTS_URL": resultsURL, "ACTIONS_CACHE_URL": cacheURL, "ACTIONS_CACHE_SERVICE_V2": "false"},
			wantAttrs: map[string]string{"url_v2": resultsURL, "url": cacheURL, "version": "2"},
			reason:    "cache service v2 at ACTIONS_RESULTS_URL",
		},
		{
			name:      "ACTIONS_CACHE_API_FORCE_VERSION=v2 wins over Enterprise Server detection",
			env:       map[string]string{"ACTIONS_RESULTS_URL": resultsURL, "ACTIONS_CACHE_URL": cacheURL, "GITHUB_SERVER_URL": "https://ghes.example.com", "ACTIONS_CACHE_API_FORCE_VERSION": "v2"},
			wantAttrs: map[string]string{"url_v2": resultsURL, "url": cacheURL, "version": "2"},
			reason:    "cache service v2 at ACTIONS_RESULTS_URL (ACTIONS_CACHE_API_FORCE_VERSION=v2)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := runtimeToken(t)
			tt.env["ACTIONS_RUNTIME_TOKEN"] = token
			p := NewPlan(fromEnv(Settings{Scope: "app", Auto: true}, envOf(tt.env)), decide(t, "push to main"))
			if p.Backend != BackendGHA || len(p.Imports) != 1 || len(p.Exports) != 1 {
				t.Fatalf("got backend %q (%s), %d imports, %d exports; want gha with one of each", p.Backend, p.BackendReason, len(p.Imports), len(p.Exports))
			}
			want := map[string]string{"scope": "app-main", "token": token}
			for k, v := range tt.wantAttrs {
				want[k] = v
			}
			if !reflect.DeepEqual(p.Imports[0].Attrs, want) {
				t.Errorf("import attrs\n got  %v\n want %v", p.Imports[0].Attrs, want)
			}
			if !strings.Contains(p.BackendReason, tt.reason) {
				t.Errorf("reason %q does not say %q", p.BackendReason, tt.reason)
			}
			// The attributes must be ones BuildKit's gha client accepts (same library, same checks).
			v2 := p.Exports[0].Attrs["version"] == "2"
			url := p.Exports[0].Attrs["url"]
			if v2 {
				url = p.Exports[0].Attrs["url_v2"]
			}
			if _, err := actionscache.New(p.Exports[0].Attrs["token"], url, v2, actionscache.Opt{}); err != nil {
				t.Errorf("go-actions-cache refuses the export's connection: %v", err)
			}
		})
	}
}

// A builder older than BuildKit 0.20 (a user's buildkit-image or remote daemon) reads only
// url and speaks v1 there; without url it fails to configure the cache. These are its
// checks, from moby/buildkit cache/remotecache/gha/gha.go at v0.19.0 (getConfig): url and
// token must be set; version and url_v2 are unknown to it.
func TestGHAEntriesWorkOnBuilderOlderThanBuildKit020(t *testing.T) {
	const cacheURL = "https://acghubeus1.actions.githubusercontent.com/xyz/"
	token := runtimeToken(t)
	env := map[string]string{"ACTIONS_RESULTS_URL": resultsURL, "ACTIONS_CACHE_URL": cacheURL, "ACTIONS_RUNTIME_TOKEN": token}
	p := NewPlan(fromEnv(Settings{Scope: "app", Auto: true}, envOf(env)), decide(t, "push to main"))
	// A user's own cache-from entry gets the same attributes as the automatic ones.
	user, err := inputs.ParseCacheEntry("type=gha,scope=shared")
	if err != nil {
		t.Fatal(err)
	}
	if problem := completeGHA(user[0], fromEnv(Settings{}, envOf(env))); problem != "" {
		t.Fatal(problem)
	}
	for _, e := range append(append(p.Imports, p.Exports...), user[0]) {
		url, ok := e.Attrs["url"]
		if !ok {
			t.Fatalf("%s: no url; BuildKit before 0.20 says \"url not set for github actions cache\"", strs(inputs.CacheEntries{e}, token))
		}
		if _, ok := e.Attrs["token"]; !ok {
			t.Fatalf("%s: no token", strs(inputs.CacheEntries{e}, token))
		}
		if url != cacheURL {
			t.Errorf("url = %q, want ACTIONS_CACHE_URL %q (the v1 service an old builder speaks to)", url, cacheURL)
		}
		if _, err := actionscache.New(e.Attrs["token"], url, false, actionscache.Opt{}); err != nil {
			t.Errorf("go-actions-cache's v1 client refuses the entry: %v", err)
		}
		// BuildKit 0.20 and later still go to v2 at url_v2.
		if e.Attrs["version"] != "2" || e.Attrs["url_v2"] != resultsURL {
			t.Errorf("new builders lose v2: %s", strs(inputs.CacheEntries{e}, token))
		}
	}
}

// Under act with its cache server on, the gha layer cache is used with the stand-in token
// (v1, at act's cache server) instead of being turned off.
func TestGHAUnderActUsesItsCacheServerWithTheStandInToken(t *testing.T) {
	const actCache = "http://127.0.0.1:34567/"
	env := map[string]string{"ACT": "true", "ACTIONS_CACHE_URL": actCache, "GITHUB_SERVER_URL": "https://github.com"}
	for _, withArtifactServer := range []bool{false, true} {
		if withArtifactServer {
			env["ACTIONS_RESULTS_URL"] = "http://127.0.0.1:34568/" // act's artifact server, no cache there
		}
		getenv, _ := cacheservice.WithActToken(envOf(env), time.Now())
		p := NewPlan(fromEnv(Settings{Scope: "app", Auto: true}, getenv), decide(t, "push to main"))
		if p.Backend != BackendGHA || len(p.Warnings) != 0 || len(p.Exports) != 1 {
			t.Fatalf("backend %q (%s), warnings %q: want gha with an export", p.Backend, p.BackendReason, p.Warnings)
		}
		a := p.Exports[0].Attrs
		if a["version"] != "1" || a["url"] != actCache {
			t.Errorf("artifact server %v: export %v; want v1 at act's cache server", withArtifactServer, a)
		}
		if _, err := actionscache.New(a["token"], a["url"], false, actionscache.Opt{}); err != nil {
			t.Errorf("BuildKit's gha client refuses the export: %v", err)
		}
	}
}

// act gives a placeholder token or none: BuildKit's gha exporter would then fail the whole
// build while being configured, ignore-error or not. The plan leaves gha out and says why.
func TestGHAWithoutUsableTokenCachesNothingAndWarns(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name, token, warning string
	}{
		{"no token", "", "needs ACTIONS_RUNTIME_TOKEN"},
		{"act's placeholder", "token", "not a cache service token"},
		{"a JWT without cache scopes", jwt(t, map[string]any{"exp": now.Add(time.Hour).Unix(), "nbf": now.Unix()}), "not a cache service token"},
		{"a JWT whose scopes are not a list", jwt(t, map[string]any{"ac": "refs/heads/main", "exp": now.Add(time.Hour).Unix(), "nbf": now.Unix()}), "not a cache service token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.token != "" {
				if _, err := actionscache.New(tt.token, "http://127.0.0.1:1/", false, actionscache.Opt{}); err == nil {
					t.Fatalf("go-actions-cache accepts %q, so BuildKit would too: the fallback is not needed", tt.token)
				}
			}
			env := map[string]string{"ACTIONS_CACHE_URL": "http://172.17.0.1:34567/", "ACTIONS_RUNTIME_TOKEN": tt.token}
			for _, b := range []string{"", "gha"} {
				p := NewPlan(fromEnv(Settings{Backend: backend(t, b, "", ""), Scope: "app", Auto: true}, envOf(env)), decide(t, "push to main"))
				if p.Backend != BackendNone || len(p.Imports)+len(p.Exports) != 0 {
					t.Errorf("cache-backend %q: got backend %q with %d imports and %d exports, want none", b, p.Backend, len(p.Imports), len(p.Exports))
				}
				if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], tt.warning) || !strings.Contains(p.BackendReason, tt.warning) {
					t.Errorf("cache-backend %q: warnings %q, reason %q; want both to say %q", b, p.Warnings, p.BackendReason, tt.warning)
				}
			}
		})
	}
}

func TestAutoBackendChoice(t *testing.T) {
	tests := []struct {
		name     string
		s        Settings
		env      map[string]string
		want     string
		inReason string
	}{
		{"cache-ref picks registry", Settings{Backend: backend(t, "", "127.0.0.1:5000/cache", "")}, map[string]string{"ACTIONS_RESULTS_URL": resultsURL}, BackendRegistry, "cache-ref"},
		{"cache-dir picks local", Settings{Backend: backend(t, "", "", "/tmp/c")}, map[string]string{"ACTIONS_RESULTS_URL": resultsURL}, BackendLocal, "cache-dir"},
		{"the runner's cache service picks gha", Settings{}, map[string]string{"ACTIONS_RESULTS_URL": resultsURL}, BackendGHA, "cache service"},
		{"auto means the same as empty", Settings{Backend: backend(t, "auto", "", "")}, map[string]string{"ACTIONS_RESULTS_URL": resultsURL}, BackendGHA, "cache service"},
		{"nothing available picks none", Settings{}, map[string]string{}, BackendNone, "ACTIONS_RESULTS_URL and ACTIONS_CACHE_URL are unset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["ACTIONS_RUNTIME_TOKEN"] = runtimeToken(t)
			tt.s.Auto, tt.s.Scope = true, "app"
			tt.s = fromEnv(tt.s, envOf(tt.env))
			p := NewPlan(tt.s, decide(t, "push to main"))
			if p.Backend != tt.want || !strings.Contains(p.BackendReason, tt.inReason) {
				t.Errorf("got %q (%s), want %q with a reason mentioning %q", p.Backend, p.BackendReason, tt.want, tt.inReason)
			}
		})
	}
}

func TestRegistryRefsPerBranch(t *testing.T) {
	tests := []struct {
		cacheRef, event string
		want            []string
	}{
		{"127.0.0.1:5000/cache:bc", "push to main", []string{"127.0.0.1:5000/cache:bc-org-app-main"}},
		// Without a tag the image's scope makes it, so several images can share one cache repository.
		{"127.0.0.1:5000/cache", "push to feature/login-form", []string{"127.0.0.1:5000/cache:org-app-feature-login-form", "127.0.0.1:5000/cache:org-app-main"}},
		{"ghcr.io/octo-org/warm-app:buildcache", "pull request #12", []string{"ghcr.io/octo-org/warm-app:buildcache-org-app-main"}},
	}
	for _, tt := range tests {
		p := NewPlan(Settings{Backend: backend(t, "", tt.cacheRef, ""), Tags: []string{"ghcr.io/org/app:1"}, Auto: true}, decide(t, tt.event))
		if !reflect.DeepEqual(p.ReadScopes, tt.want) {
			t.Errorf("cache-ref %s on %s: reads %q, want %q", tt.cacheRef, tt.event, p.ReadScopes, tt.want)
		}
	}

	long := cachepolicy.Decision{ReadBranches: []string{"feature/" + strings.Repeat("x", 200)}, Mode: "max"}
	p := NewPlan(Settings{Backend: backend(t, "", "ghcr.io/o/c:buildcache", ""), Scope: "app", Auto: true}, long)
	tag := p.ReadScopes[0][strings.LastIndex(p.ReadScopes[0], ":")+1:]
	if len(tag) > 128 || !strings.HasPrefix(tag, "buildcache-app-feature-xxx") {
		t.Errorf("tag for a long branch %q (%d chars) is not a valid readable tag", tag, len(tag))
	}
}

func TestExplicitEntriesAreAddedOrReplaceAutomaticOnes(t *testing.T) {
	env := githubEnv(t)
	token := env["ACTIONS_RUNTIME_TOKEN"]
	from, err := parseEntries(t, "type=registry,ref=ghcr.io/octo-org/base:cache", "type=gha,scope=shared")
	if err != nil {
		t.Fatal(err)
	}
	to, err := parseEntries(t, "type=registry,ref=ghcr.io/octo-org/base:cache,mode=max", "type=local,dest=/tmp/out,ignore-error=false")
	if err != nil {
		t.Fatal(err)
	}
	wantExplicitIn := []string{
		"ghcr.io/octo-org/base:cache",
		"type=gha,scope=shared,token=<token>,url_v2=" + resultsURL + ",version=2",
	}
	wantExplicitOut := []string{
		"type=registry,ignore-error=true,mode=max,ref=ghcr.io/octo-org/base:cache",
		"type=local,dest=/tmp/out,ignore-error=false", // the user's ignore-error=false stands
	}
	autoIn := "type=gha,scope=app-main,token=<token>,url_v2=" + resultsURL + ",version=2"
	autoOut := "type=gha,ignore-error=true,mode=max,scope=app-main,token=<token>,url_v2=" + resultsURL + ",version=2"

	t.Run("cache-auto true adds them", func(t *testing.T) {
		p := NewPlan(fromEnv(Settings{Scope: "app", CacheFrom: from, CacheTo: to, Auto: true}, envOf(env)), decide(t, "push to main"))
		if got, want := strs(p.Imports, token), append([]string{autoIn}, wantExplicitIn...); !reflect.DeepEqual(got, want) {
			t.Errorf("imports\n got  %q\n want %q", got, want)
		}
		if got, want := strs(p.Exports, token), append([]string{autoOut}, wantExplicitOut...); !reflect.DeepEqual(got, want) {
			t.Errorf("exports\n got  %q\n want %q", got, want)
		}
		if p.WriteScope != "app-main, ghcr.io/octo-org/base:cache, /tmp/out" {
			t.Errorf("write scope %q", p.WriteScope)
		}
	})
	t.Run("cache-auto false uses only them", func(t *testing.T) {
		p := NewPlan(fromEnv(Settings{Scope: "app", CacheFrom: from, CacheTo: to, Auto: false}, envOf(env)), decide(t, "push to main"))
		if got := strs(p.Imports, token); !reflect.DeepEqual(got, wantExplicitIn) {
			t.Errorf("imports\n got  %q\n want %q", got, wantExplicitIn)
		}
		if got := strs(p.Exports, token); !reflect.DeepEqual(got, wantExplicitOut) {
			t.Errorf("exports\n got  %q\n want %q", got, wantExplicitOut)
		}
		if p.Backend != BackendNone || !strings.Contains(p.BackendReason, "cache-auto is false") {
			t.Errorf("backend %q (%s)", p.Backend, p.BackendReason)
		}
	})
	t.Run("a pull request reads them but writes nothing", func(t *testing.T) {
		p := NewPlan(fromEnv(Settings{Scope: "app", CacheFrom: from, CacheTo: to, Auto: true}, envOf(env)), decide(t, "pull request #12"))
		if len(p.Exports) != 0 || p.WriteScope != "" {
			t.Errorf("a pull request exports %q", strs(p.Exports, token))
		}
		if len(p.Imports) != 3 {
			t.Errorf("imports %q, want the automatic one and both cache-from entries", strs(p.Imports, token))
		}
	})
	t.Run("an explicit entry for the same place replaces the automatic one", func(t *testing.T) {
		same, err := parseEntries(t, "type=registry,ref=ghcr.io/o/app:buildcache-app-main,mode=min,compression=zstd")
		if err != nil {
			t.Fatal(err)
		}
		p := NewPlan(Settings{Backend: backend(t, "", "ghcr.io/o/app:buildcache", ""), Scope: "app", CacheTo: same, Auto: true}, decide(t, "push to main"))
		want := []string{"type=registry,compression=zstd,ignore-error=true,mode=min,ref=ghcr.io/o/app:buildcache-app-main"}
		if got := strs(p.Exports, ""); !reflect.DeepEqual(got, want) {
			t.Errorf("exports %q, want only the explicit one %q (BuildKit refuses two exports to one ref)", got, want)
		}
	})
	t.Run("the caller's entries are not modified", func(t *testing.T) {
		before := strs(to, "")
		NewPlan(fromEnv(Settings{Scope: "app", CacheTo: to, Auto: true}, envOf(env)), decide(t, "push to main"))
		if after := strs(to, ""); !reflect.DeepEqual(before, after) {
			t.Errorf("cache-to changed from %q to %q", before, after)
		}
	})
	t.Run("an explicit gha entry without a usable token is left out with a warning", func(t *testing.T) {
		act := map[string]string{"ACTIONS_CACHE_URL": "http://172.17.0.1:34567/", "ACTIONS_RUNTIME_TOKEN": "token"}
		p := NewPlan(fromEnv(Settings{Scope: "app", CacheFrom: from, Auto: true}, envOf(act)), decide(t, "push to main"))
		if got, want := strs(p.Imports, ""), []string{"ghcr.io/octo-org/base:cache"}; !reflect.DeepEqual(got, want) {
			t.Errorf("imports %q, want %q", got, want)
		}
		if !slicesContain(p.Warnings, "cache-from entry type=gha,scope=shared left out") {
			t.Errorf("warnings %q do not name the dropped entry", p.Warnings)
		}
	})
}

func slicesContain(ss []string, part string) bool {
	for _, s := range ss {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}

func TestTwoImagesInOneRepositoryGetDifferentScopes(t *testing.T) {
	env := githubEnv(t)
	d := decide(t, "push to main")
	images := []Settings{
		{Tags: []string{"ghcr.io/octo-org/api:1.0"}},
		{Tags: []string{"ghcr.io/octo-org/web:1.0"}},
		{Dockerfile: "services/api/Dockerfile"},
		{Dockerfile: "services/worker/Dockerfile"},
		{Dockerfile: "services/worker/Dockerfile", Target: "test"},
	}
	seen := map[string]int{}
	for i, s := range images {
		s.Auto = true
		s = fromEnv(s, envOf(env))
		p := NewPlan(s, d)
		scope := p.Exports[0].Attrs["scope"]
		if j, dup := seen[scope]; dup {
			t.Errorf("images %d and %d both write gha scope %q", j, i, scope)
		}
		seen[scope] = i
	}
}

func TestDefaultScope(t *testing.T) {
	tests := []struct {
		tags       []string
		dockerfile string
		target     string
		want       string
	}{
		{[]string{"ghcr.io/octo-org/app:1.0"}, "Dockerfile", "", "octo-org-app"},
		{[]string{"docker.io/octo-org/app:1.0", "ghcr.io/octo-org/app:1.0"}, "", "", "octo-org-app"},
		{[]string{"python:3.12"}, "", "", "python"},
		{[]string{"127.0.0.1:5000/team/svc/api@sha256:" + strings.Repeat("b", 64)}, "", "", "team-svc-api"},
		{[]string{"ghcr.io/octo-org/app:1.0"}, "", "test", "octo-org-app-test"},
		{nil, "services/api/Dockerfile", "", "services-api"},
		{nil, "./services/api/Dockerfile", "", "services-api"},
		{nil, "docker/worker.Dockerfile", "", "docker-worker"},
		{nil, "Dockerfile.prod", "", "prod"},
		{nil, "Dockerfile", "", "dockerfile"},
		{nil, "", "", "dockerfile"},
		{nil, "Dockerfile", "builder", "dockerfile-builder"},
	}
	for _, tt := range tests {
		got, reason := DefaultScope(tt.tags, tt.dockerfile, tt.target)
		if got != tt.want {
			t.Errorf("DefaultScope(%q, %q, %q) = %q, want %q", tt.tags, tt.dockerfile, tt.target, got, tt.want)
		}
		if reason == "" {
			t.Errorf("DefaultScope(%q, %q, %q) gives no reason", tt.tags, tt.dockerfile, tt.target)
		}
	}
}

func TestCacheScopeInputIsSanitized(t *testing.T) {
	p := NewPlan(Settings{Scope: "my app/v2", Backend: backend(t, BackendLocal, "", "/c"), Auto: true}, decide(t, "push to main"))
	if p.Scope != "my-app-v2" || p.ScopeReason != "cache-scope" || p.WriteScope != "/c/my-app-v2-main" {
		t.Errorf("scope %q (%s), writes %q", p.Scope, p.ScopeReason, p.WriteScope)
	}
}

// The runtime token and the GitHub token reach BuildKit, and nothing meant for people.
func TestTokenOnlyInEntries(t *testing.T) {
	env := githubEnv(t)
	token := env["ACTIONS_RUNTIME_TOKEN"]
	const ghToken = "ghs_notARealTokenButLooksLikeOne0123"
	from, err := parseEntries(t, "type=gha,scope=shared,token="+token)
	if err != nil {
		t.Fatal(err)
	}
	p := NewPlan(fromEnv(Settings{Scope: "app", CacheFrom: from, GitHubToken: ghToken, Auto: true}, envOf(env)), decide(t, "push to main"))
	if p.Exports[0].Attrs["token"] != token || p.Exports[0].Attrs["ghtoken"] != ghToken || p.Exports[0].Attrs["repository"] != "octo-org/warm-app" {
		t.Fatalf("export attrs %v lack the credentials BuildKit needs", p.Exports[0].Attrs)
	}
	shown := strings.Join(append(append(append(RedactedAll(p.Imports), RedactedAll(p.Exports)...), p.ReadScopes...), p.WriteScope, p.BackendReason, p.ScopeReason, fmt.Sprint(p.Warnings)), "\n")
	for _, secret := range []string{token, ghToken} {
		if strings.Contains(shown, secret) {
			t.Errorf("a credential appears in what is shown to users:\n%s", shown)
		}
	}
	if !strings.Contains(shown, "token=***") || !strings.Contains(shown, "ghtoken=***") {
		t.Errorf("redacted entries should still show that credentials are set:\n%s", shown)
	}
}

// parseEntries reads cache-from/cache-to lines as the inputs package does.
func parseEntries(t *testing.T, lines ...string) (inputs.CacheEntries, error) {
	t.Helper()
	var out inputs.CacheEntries
	for _, l := range lines {
		es, err := inputs.ParseCacheEntry(l)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

// backend parses cache-backend, cache-ref and cache-dir as pkg/inputs does for the workflow.
func backend(t *testing.T, kind, cacheRef, cacheDir string) inputs.Backend {
	t.Helper()
	b, err := inputs.ParseBackend(kind, cacheRef, cacheDir)
	if err != nil {
		t.Fatalf("cache-backend %q, cache-ref %q, cache-dir %q: %v", kind, cacheRef, cacheDir, err)
	}
	return b
}
