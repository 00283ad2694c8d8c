package run

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// applyFlags maps buildx build's flags of issue 14 (ssh, network, add-hosts, shm-size,
// ulimit, cgroup-parent, allow, no-cache-filters) onto the build request.
func applyFlags(req *builder.Request, f inputs.BuildFlags) {
	if attrs := f.FrontendAttrs(); len(attrs) > 0 {
		req.FlagAttrs = attrs
	}
	req.Entitlements = f.Entitlements()
	for _, s := range f.SSH {
		req.SSH = append(req.SSH, builder.SSH{ID: s.ID, Paths: slices.Clone(s.Paths)})
	}
}

// BuildKit's refusal of an entitlement the builder was not started with (moby/buildkit
// util/entitlements/entitlements.go WhiteList).
var entitlementRefused = regexp.MustCompile(`granting entitlement (\S+) is not allowed by build daemon configuration`)

// refusedEntitlement adds to BuildKit's refusal of an entitlement the builder was not
// started with which input asked for it (network: host asks for network.host, allow for the
// others) and how to get a builder that grants it; the error stays the build's, so the
// outputs and the summary are still written. Any other error is returned as it is.
func refusedEntitlement(err error, f inputs.BuildFlags) error {
	var be *builder.BuildError
	if err == nil || !errors.As(err, &be) {
		return err
	}
	m := entitlementRefused.FindStringSubmatch(be.Message)
	if m == nil {
		return err
	}
	input := "allow"
	if m[1] == "network.host" && f.Network == "host" && !slices.Contains(f.Allow, "network.host") {
		input = "network"
	}
	be.Message = fmt.Sprintf("%s: input %q asks for %s, which this builder does not grant. "+
		"Builders warmbuild creates and docker/setup-buildx-action's grant network.host and security.insecure; "+
		"a BuildKit daemon of your own needs --allow-insecure-entitlement %s", be.Message, input, m[1], m[1])
	return err
}

// describeFlags logs what the build flags forward and grant, when any is given: the SSH ids
// with where each is answered from (paths only), the RUN steps' settings, the entitlements.
func (r *runner) describeFlags() {
	f := r.plan.Inputs.Flags
	if len(f.SSH) > 0 {
		ids := make([]string, len(f.SSH))
		for i, s := range f.SSH {
			from := strings.Join(s.Paths, ", ")
			if s.FromEnv {
				from = "SSH_AUTH_SOCK " + from
			}
			ids[i] = fmt.Sprintf("%s (%s)", s.ID, from)
		}
		r.rep.Infof("SSH forwarded to RUN --mount=type=ssh: %s", strings.Join(ids, "; "))
	}
	if attrs := f.FrontendAttrs(); len(attrs) > 0 {
		keys := slices.Sorted(maps.Keys(attrs))
		kv := make([]string, len(keys))
		for i, k := range keys {
			kv[i] = k + "=" + attrs[k]
		}
		r.rep.Infof("Build flags: %s", strings.Join(kv, " "))
	}
	if e := f.Entitlements(); len(e) > 0 {
		r.rep.Infof("Entitlements asked of the builder: %s", strings.Join(e, ", "))
	}
}
