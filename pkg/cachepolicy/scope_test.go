package cachepolicy

import (
	"regexp"
	"strings"
	"testing"
)

// The grammar of a registry tag; every scope must fit it.
var tagGrammar = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

func TestScopeNames(t *testing.T) {
	tests := []struct{ base, branch, want string }{
		{"app", "main", "app-main"},
		{"app", "feature/x", "app-feature-x"},
		{"org-app", "release/1.2", "org-app-release-1.2"},
		{"app", "pr-12", "app-pr-12"},
		{"app", "", "app"},
		{"", "main", "main"},
		{"", "", "cache"},
		{"", ".hidden", "hidden"},
		{"app", "fix/ünïcode", "app-fix--n-code"},
		{"ghcr.io/org/app", "main", "ghcr.io-org-app-main"},
	}
	for _, tt := range tests {
		if got := Scope(tt.base, tt.branch); got != tt.want {
			t.Errorf("Scope(%q, %q) = %q, want %q", tt.base, tt.branch, got, tt.want)
		}
		if got := Scope(tt.base, tt.branch); !tagGrammar.MatchString(got) {
			t.Errorf("Scope(%q, %q) = %q is not a valid tag", tt.base, tt.branch, got)
		}
	}
}

func TestScopeOfLongBranchesStaysValidAndUnique(t *testing.T) {
	long := "feature/" + strings.Repeat("very-long-branch-name-", 10)
	a := Scope("app", long+"one")
	b := Scope("app", long+"two")
	for _, s := range []string{a, b} {
		if !tagGrammar.MatchString(s) {
			t.Errorf("%q (%d chars) is not a valid tag", s, len(s))
		}
		if !strings.HasPrefix(s, "app-feature-very-long-branch-name-") {
			t.Errorf("%q lost its readable prefix", s)
		}
	}
	if a == b {
		t.Errorf("two long branches share the scope %q", a)
	}
	if Scope("app", long+"one") != a {
		t.Error("Scope is not stable for the same input")
	}
}
