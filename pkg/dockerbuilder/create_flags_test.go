package dockerbuilder

import (
	"slices"
	"testing"
)

// A builder warmbuild creates grants what one made by docker/setup-buildx-action grants, so
// `allow: security.insecure` and `network: host` work on it as they do there:
// setup-buildx-action src/context.ts defaultBuildkitdFlags is
// '--allow-insecure-entitlement security.insecure --allow-insecure-entitlement network.host'.
func TestCreatedBuilderAllowsSetupBuildxActionsEntitlements(t *testing.T) {
	want := []string{"--allow-insecure-entitlement", "security.insecure", "--allow-insecure-entitlement", "network.host"}
	for _, sec := range []Security{SecurityPrivileged, SecurityUnconfined} {
		cfg, _ := containerSpec("warmbuild", DefaultImage, sec, "")
		if !slices.Equal(cfg.Cmd, want) {
			t.Errorf("%s builder: buildkitd flags %q, want setup-buildx-action's defaults %q", sec, cfg.Cmd, want)
		}
	}
}
