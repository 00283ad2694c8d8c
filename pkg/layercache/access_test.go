package layercache

import (
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// ACTIONS_CACHE_MODE decides for every entry of every backend, the automatic ones and the
// user's cache-from and cache-to alike: none = no import, no export; read = imports only;
// write-only = exports only; write (or unset) = both.
func TestCacheModeDecidesImportsAndExportsOfEveryBackend(t *testing.T) {
	env := githubEnv(t)
	from, err := parseEntries(t, "type=registry,ref=ghcr.io/octo-org/base:cache")
	if err != nil {
		t.Fatal(err)
	}
	to, err := parseEntries(t, "type=local,dest=/tmp/out")
	if err != nil {
		t.Fatal(err)
	}
	backends := map[string]Settings{
		"gha":      {Backend: backend(t, BackendGHA, "", "")},
		"registry": {Backend: backend(t, BackendRegistry, "ghcr.io/octo-org/app:buildcache", "")},
		"local":    {Backend: backend(t, BackendLocal, "", "/var/cache/layers")},
	}
	modes := []struct {
		mode                    string
		wantImports, wantExport bool
	}{
		{"", true, true},
		{"write", true, true},
		{"read", true, false},
		{"write-only", false, true},
		{"none", false, false},
	}
	repo := `{"repository":{"full_name":"octo-org/warm-app","default_branch":"main"}}`
	for name, s := range backends {
		for _, m := range modes {
			t.Run(name+" mode "+m.mode, func(t *testing.T) {
				in, err := cachepolicy.InputFromEnv(envOf(map[string]string{
					"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main", "ACTIONS_CACHE_MODE": m.mode,
				}), strings.NewReader(repo))
				if err != nil {
					t.Fatal(err)
				}
				d, err := cachepolicy.Decide(in)
				if err != nil {
					t.Fatal(err)
				}
				s := s
				s.Scope, s.CacheFrom, s.CacheTo, s.Auto = "app", from, to, true
				s = fromEnv(s, envOf(env))
				p := NewPlan(s, d)
				// Automatic entries: one per branch read (main), one written; explicit: one each.
				if got := len(p.Imports) > 0; got != m.wantImports {
					t.Errorf("imports %q, want imports: %v", show(p.Imports), m.wantImports)
				}
				if !m.wantImports && len(p.ReadScopes) != 0 {
					t.Errorf("read scopes %q reported though nothing is read", p.ReadScopes)
				}
				if m.wantImports && len(p.Imports) != 2 {
					t.Errorf("imports %q, want the automatic one and cache-from", show(p.Imports))
				}
				if got := len(p.Exports) > 0; got != m.wantExport {
					t.Errorf("exports %q, want exports: %v", show(p.Exports), m.wantExport)
				}
				if m.wantExport && len(p.Exports) != 2 {
					t.Errorf("exports %q, want the automatic one and cache-to", show(p.Exports))
				}
				if !m.wantExport && p.WriteScope != "" {
					t.Errorf("write scope %q reported though nothing is written", p.WriteScope)
				}
			})
		}
	}
}

// A decision made without the policy (the zero Access) reads and writes as before.
func TestZeroCacheModeReadsAndWrites(t *testing.T) {
	d := cachepolicy.Decision{ReadBranches: []string{"main"}, WriteBranch: "main", Save: true, Mode: "max"}
	p := NewPlan(Settings{Backend: backend(t, BackendLocal, "", "/c"), Scope: "app", Auto: true}, d)
	if len(p.Imports) != 1 || len(p.Exports) != 1 {
		t.Errorf("imports %q exports %q", show(p.Imports), show(p.Exports))
	}
}

func show(es inputs.CacheEntries) []string {
	var out []string
	for _, e := range es {
		out = append(out, Redacted(e))
	}
	return out
}
