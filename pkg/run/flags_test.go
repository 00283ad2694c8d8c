package run

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

func TestRefusedEntitlementNamesTheInputAndTheFix(t *testing.T) {
	refusal := func(e string) error {
		return fmt.Errorf("solve: %w", &builder.BuildError{Message: "granting entitlement " + e + " is not allowed by build daemon configuration"})
	}
	for _, c := range []struct {
		err   error
		flags inputs.BuildFlags
		want  string
	}{
		{refusal("network.host"), inputs.BuildFlags{Network: "host"}, `input "network" asks for network.host`},
		{refusal("network.host"), inputs.BuildFlags{Network: "host", Allow: []string{"network.host"}}, `input "allow" asks for network.host`},
		{refusal("security.insecure"), inputs.BuildFlags{Allow: []string{"security.insecure"}}, "--allow-insecure-entitlement security.insecure"},
	} {
		err := refusedEntitlement(c.err, c.flags)
		var be *builder.BuildError
		if !errors.As(err, &be) || !strings.Contains(be.Message, c.want) || !strings.HasPrefix(be.Message, "granting entitlement") {
			t.Errorf("%v with %+v: %v; want BuildKit's message and %q", c.err, c.flags, err, c.want)
		}
	}
	other := &builder.BuildError{Message: "process did not complete successfully: exit code: 1"}
	if err := refusedEntitlement(other, inputs.BuildFlags{Network: "host"}); err != other || other.Message != "process did not complete successfully: exit code: 1" {
		t.Errorf("another build error changed: %v", err)
	}
	if refusedEntitlement(nil, inputs.BuildFlags{}) != nil {
		t.Errorf("no error became one")
	}
}

// The request carries the flags as pkg/inputs reads them.
func TestApplyFlagsFillsTheRequest(t *testing.T) {
	var req builder.Request
	applyFlags(&req, inputs.BuildFlags{Network: "host", ShmSize: 1 << 20, SSH: []inputs.SSHSpec{{ID: "default", Paths: []string{"/run/agent.sock"}}}})
	if req.FlagAttrs["force-network-mode"] != "host" || req.FlagAttrs["shm-size"] != "1048576" {
		t.Errorf("attrs %v", req.FlagAttrs)
	}
	if len(req.Entitlements) != 1 || req.Entitlements[0] != "network.host" {
		t.Errorf("entitlements %v", req.Entitlements)
	}
	if len(req.SSH) != 1 || req.SSH[0].ID != "default" || req.SSH[0].Paths[0] != "/run/agent.sock" {
		t.Errorf("ssh %+v", req.SSH)
	}
}
