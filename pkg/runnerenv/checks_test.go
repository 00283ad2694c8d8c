package runnerenv_test

import (
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// DOCKER_BUILD_CHECKS_ANNOTATIONS means what it means to build-push-action: unset or a
// true value annotates, a false value does not.
func TestBuildChecksAnnotationsFollowBuildPushActionsVariable(t *testing.T) {
	for _, tc := range []struct {
		value string
		off   bool
		warns bool
	}{
		{"", false, false}, {"true", false, false}, {"1", false, false}, {"T", false, false},
		{"false", true, false}, {"0", true, false}, {"FALSE", true, false}, {"f", true, false},
		{"no", false, true},
	} {
		e := runnerenv.Read(envOf(map[string]string{"DOCKER_BUILD_CHECKS_ANNOTATIONS": tc.value, "GITHUB_WORKSPACE": "/github/workspace"}))
		if e.NoBuildChecksAnnotations != tc.off {
			t.Errorf("DOCKER_BUILD_CHECKS_ANNOTATIONS=%q: annotations off = %v, want %v", tc.value, e.NoBuildChecksAnnotations, tc.off)
		}
		if got := e.BuildChecksAnnotationsWarning != ""; got != tc.warns || (got && !strings.Contains(e.BuildChecksAnnotationsWarning, "DOCKER_BUILD_CHECKS_ANNOTATIONS")) {
			t.Errorf("DOCKER_BUILD_CHECKS_ANNOTATIONS=%q: warning %q", tc.value, e.BuildChecksAnnotationsWarning)
		}
		if e.Workspace != "/github/workspace" {
			t.Errorf("Workspace = %q", e.Workspace)
		}
	}
}
