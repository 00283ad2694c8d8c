package builder

import (
	"fmt"
	"maps"
	"slices"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session/sshforward/sshprovider"
)

// SSH is one agent socket or set of key files forwarded to RUN --mount=type=ssh,id=ID.
// Paths are explicit: the caller resolves SSH_AUTH_SOCK, so sshprovider never reads the
// process environment.
type SSH struct {
	ID    string
	Paths []string
}

// applyFlags adds buildx build's flags of issue 14 to the solve: their frontend attributes,
// the entitlements the build asks for, and the SSH agents in the session, as buildx does
// (docker/buildx build/opt.go toSolveOpt and CreateSSH, commands/build.go).
func applyFlags(req Request, so *client.SolveOpt) error {
	maps.Copy(so.FrontendAttrs, req.FlagAttrs)
	for _, e := range req.Entitlements {
		if !slices.Contains(so.AllowedEntitlements, e) {
			so.AllowedEntitlements = append(so.AllowedEntitlements, e)
		}
	}
	if len(req.SSH) == 0 {
		return nil
	}
	confs := make([]sshprovider.AgentConfig, len(req.SSH))
	for i, s := range req.SSH {
		if len(s.Paths) == 0 {
			return fmt.Errorf("ssh %q: no agent socket or key file", s.ID)
		}
		confs[i] = sshprovider.AgentConfig{ID: s.ID, Paths: slices.Clone(s.Paths)}
	}
	a, err := sshprovider.NewSSHAgentProvider(confs)
	if err != nil {
		return fmt.Errorf("ssh: %w", err)
	}
	so.Session = append(so.Session, a)
	return nil
}
