package run

import (
	"slices"

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
