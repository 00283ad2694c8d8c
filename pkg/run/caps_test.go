package run

import (
	"errors"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// caps (issue 18): mount-cache-max-size names ecosystems of the mount cache table; a name
// it does not have fails the step before anything starts, with the names it has.
func TestPlanRefusesACapOfAnUnknownEcosystem(t *testing.T) {
	getenv := planEnv(t, map[string]string{inputs.InputEnv("mount-cache-max-size"): "2GiB, golang=4GiB"})
	in, err := inputs.Parse(getenv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = MakePlan(in, runnerenv.Read(getenv))
	var ie *inputs.Error
	if !errors.As(err, &ie) || ie.Input != "mount-cache-max-size" || !strings.Contains(ie.Problem, `"golang=4GiB": golang is not an ecosystem; cap one of pip, uv,`) {
		t.Fatalf("plan error %v; want one naming mount-cache-max-size and golang", err)
	}

	p := mustPlan(t, planEnv(t, map[string]string{inputs.InputEnv("mount-cache-max-size"): "2GiB, go=4GiB"}))
	if got := p.Inputs.MountCache.MaxSize.For("go"); got != 4<<30 {
		t.Errorf("go's cap %s, want 4GiB", got)
	}
}
