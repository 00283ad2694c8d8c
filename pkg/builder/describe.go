package builder

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Describe prints what req asks of BuildKit, the parts a user could check against buildx:
// the frontend and its attrs, the local directories sent, the exporters, the cache entries
// and the secrets offered (ids only, never values), one per line in a stable order. The
// migration corpus (pkg/run) compares it with goldens written from buildx's code.
func Describe(req Request) (string, error) {
	so, err := solveOpt(req, solveConfig{getenv: func(string) string { return "" }})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "frontend %s\n", so.Frontend)
	if req.Call != "" {
		fmt.Fprintf(&b, "  call frontend.%s (a subrequest: nothing is exported)\n", req.Call)
	}
	for _, k := range slices.Sorted(maps.Keys(so.FrontendAttrs)) {
		fmt.Fprintf(&b, "  attr %s=%s\n", k, so.FrontendAttrs[k])
	}
	for _, k := range slices.Sorted(maps.Keys(so.LocalMounts)) {
		fmt.Fprintf(&b, "  local %s\n", k)
	}
	for _, e := range so.Exports {
		fmt.Fprintf(&b, "export %s%s", e.Type, attrList(e.Attrs))
		if e.OutputDir != "" {
			fmt.Fprintf(&b, " dir=%s", e.OutputDir)
		}
		if e.Output != nil {
			b.WriteString(" (to a file)")
		}
		b.WriteString("\n")
	}
	for _, e := range so.AllowedEntitlements {
		fmt.Fprintf(&b, "entitlement %s\n", e)
	}
	for _, s := range req.SSH {
		fmt.Fprintf(&b, "ssh %s (%d path(s))\n", s.ID, len(s.Paths))
	}
	ids := make([]string, 0, len(req.Secrets))
	for _, s := range req.Secrets {
		src := "value"
		switch {
		case s.File != "":
			src = "file " + s.File
		case s.Env != "":
			src = "env " + s.Env
		}
		ids = append(ids, s.ID+" ("+src+")")
	}
	slices.Sort(ids)
	for _, id := range ids {
		fmt.Fprintf(&b, "secret %s\n", id)
	}
	return b.String(), nil
}

func attrList(attrs map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		fmt.Fprintf(&b, " %s=%s", k, attrs[k])
	}
	return b.String()
}
