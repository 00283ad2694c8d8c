package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/imageload"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// load (issue 14): `load: true` and type=docker outputs without dest load the image into
// the runner's Docker Engine.

// loadExports is what `load: true` adds to the exports, as buildx's --load does
// (docker/buildx commands/build.go RunBuild: a docker export without dest, unless an
// output already is one); tags name the image (build/opt.go toSolveOpt). Its Output is set
// once the Engine is known (runner.prepareLoad). buildx's test for "already is one" looks
// for a "dest" attr, which its CreateExports never leaves in the attrs, so there any
// type=docker output, a tarball file too, stops --load from loading; here only a docker
// output that loads does: load: true always loads.
func loadExports(in *inputs.Inputs, exports []client.ExportEntry, names string) []client.ExportEntry {
	if !in.Load {
		return nil
	}
	for _, e := range exports {
		if e.Type == client.ExporterDocker && e.Output == nil {
			return nil
		}
	}
	attrs := map[string]string{}
	if names != "" {
		attrs["name"] = names
	}
	return []client.ExportEntry{{Type: client.ExporterDocker, Attrs: attrs}}
}

// engineLoads are the image loads of one build, and the Engine they go to.
type engineLoads struct {
	engine *imageload.Engine
	mu     sync.Mutex
	loads  []*imageload.Load
}

// prepareLoad connects the plan's docker exports without dest to the Docker Engine where
// the runner's socket is (DOCKER_HOST, or /var/run/docker.sock) before anything is built:
// an Engine that is not there, or whose image store cannot take what the build makes
// (several platforms, attestations), fails the step now, with buildx's error.
func (r *runner) prepareLoad(ctx context.Context) error {
	if err := inputs.CheckDockerTarballs(r.in, attestInputs(r.in)); err != nil {
		return err
	}
	exps := r.plan.Request.Exports
	var idx []int
	for i, e := range exps {
		if e.Type == client.ExporterDocker && e.Output == nil {
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	eng, err := imageload.Open(ctx, r.renv.DockerHost)
	if err != nil {
		input := "outputs"
		if r.in.Load {
			input = "load"
		}
		return &inputs.Error{Input: input, Problem: err.Error()}
	}
	if err := inputs.CheckDockerLoad(r.in, eng.OCIImporter, attestInputs(r.in)); err != nil {
		eng.Close()
		return err
	}
	loads := &engineLoads{engine: eng}
	r.loads = loads
	store := "classic image store: a docker tarball"
	for _, i := range idx {
		if eng.OCIImporter {
			// buildx build/opt.go: the containerd image store imports OCI tarballs (indexes,
			// attestations) and names images by their manifest digest.
			exps[i].Type = client.ExporterOCI
			exps[i].Attrs["prefer-image-digest"] = "true"
			store = "containerd image store: an OCI tarball"
		}
		exps[i].Output = loads.output(ctx)
	}
	r.rep.Infof("Load: into the Docker Engine %s at %s (%s, streamed)", report.LogText(eng.Version), eng.Host(), store)
	return nil
}

func (l *engineLoads) output(ctx context.Context) func(map[string]string) (io.WriteCloser, error) {
	return func(map[string]string) (io.WriteCloser, error) {
		ld := l.engine.NewLoad(ctx, nil)
		l.mu.Lock()
		l.loads = append(l.loads, ld)
		l.mu.Unlock()
		return ld, nil
	}
}

// loadResult reports the build's loads once the solve returned: what the Engine loaded,
// or, when a failed load is what failed the build, that error instead of BuildKit's
// wrapping of it (the image was built; the Engine refused it).
func (r *runner) loadResult(buildErr error) error {
	if r.loads == nil {
		return buildErr
	}
	defer r.loads.engine.Close()
	r.loads.mu.Lock()
	var states []loadState
	for _, ld := range r.loads.loads {
		states = append(states, loadState{err: ld.Err(), loaded: ld.Loaded()})
	}
	r.loads.mu.Unlock()
	loaded, err := loadOutcome(buildErr, states)
	for _, name := range loaded {
		r.rep.Infof("Loaded into the Docker Engine: %s", report.LogText(name))
	}
	return err
}

// loadState is how one image load ended.
type loadState struct {
	err    error
	loaded []string
}

// loadOutcome decides what a build's loads mean for the step. A solve runs its exporters
// once per attempt (Solve exports again after a push race), so a load that failed in an
// attempt before the last one says nothing when the build succeeded. A failed build is
// blamed on a load only when BuildKit's error carries the load's own error: an exporter
// that failed first (a push refused for its credentials) cuts the load's stream short,
// and then its error, not the Engine's "unexpected EOF", is the one to show.
func loadOutcome(buildErr error, loads []loadState) ([]string, error) {
	var loaded []string
	for _, l := range loads {
		if l.err != nil {
			continue
		}
		for _, name := range l.loaded {
			if !slices.Contains(loaded, name) {
				loaded = append(loaded, name)
			}
		}
	}
	if buildErr == nil {
		if len(loads) == 0 {
			return nil, errors.New("the build ended without exporting the image to the Docker Engine")
		}
		return loaded, nil
	}
	for i := len(loads) - 1; i >= 0; i-- {
		if err := loads[i].err; err != nil && strings.Contains(buildErr.Error(), err.Error()) {
			return loaded, fmt.Errorf("the image was built, but not loaded: %w", err)
		}
	}
	return loaded, buildErr
}

// attestInputs names the inputs that asked for attestations, for CheckDockerLoad and
// CheckDockerTarballs: buildx (build/opt.go) counts the opt.Attests entries that are not
// nil, so `provenance: false` or `sbom: false` ask for none, and neither does
// build-push-action's default provenance, which it leaves out when loading.
func attestInputs(in *inputs.Inputs) []string {
	return in.Attest.AskedBy(inputs.AttestContext{DockerExporter: true})
}
