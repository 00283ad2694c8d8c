package run

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// attestContext is what build-push-action decides the attestations from, beside the
// inputs: the payload's repository.private (read once, by cachepolicy.Decide), the workflow
// run's URL and whether the build loads into Docker.
func attestContext(in *inputs.Inputs, env runnerenv.Env, private bool) inputs.AttestContext {
	return inputs.AttestContext{
		Private:        private,
		BuilderID:      inputs.WorkflowRunURL(env.GitHub.ServerURL, env.GitHub.Repository, env.GitHub.RunID, env.GitHub.RunAttempt),
		DockerExporter: inputs.HasDockerExporter(in.Outputs, in.Load),
		NoDefault:      env.NoDefaultAttestations,
	}
}

// planAttest adds the attestations, the annotations and the build's ref to the request, as
// build-push-action and buildx would send them.
func planAttest(req *builder.Request, in *inputs.Inputs, env runnerenv.Env, private bool) error {
	attrs, err := in.Attest.FrontendAttrs(attestContext(in, env, private))
	if err != nil {
		return err
	}
	req.Attests = attrs
	// buildx commands/build.go: every output gets the annotations as exporter attributes.
	for k, v := range in.Annotations.ExporterAttrs() {
		for i := range req.Exports {
			req.Exports[i].Attrs[k] = v
		}
	}
	req.Record = &builder.BuildRecord{}
	req.MetadataProvenance = builder.ParseMetadataProvenance(env.MetadataProvenance)
	return nil
}

// buildRefPrefix is buildx.build.ref's <builder>/<node>: the docker/setup-buildx-action
// builder (whose first node buildx names <builder>0), or warmbuild's own.
func buildRefPrefix(info dockerbuilder.Info) string {
	name := info.Builder
	if name == "" {
		name = "warmbuild"
	}
	return name + "/" + name + "0"
}

// solve runs the build; when BuildKit failed it because the SBOM scanner image could not be
// pulled, the build runs again without the SBOM and a warning says the SBOM is missing and
// why: an unreachable scanner must not fail the build.
func (r *runner) solve(ctx context.Context, c *client.Client, opts ...builder.SolveOption) (*builder.Result, error) {
	req := r.plan.Request
	res, err := builder.Solve(ctx, c, req, opts...)
	if !builder.ScannerUnavailable(req, err) || ctx.Err() != nil {
		return res, err
	}
	msg := fmt.Sprintf("the SBOM scanner %s could not be pulled, so no SBOM attestation was generated; the build ran again without it (%v)", req.SBOMGenerator(), err)
	r.res.Hints = append(r.res.Hints, "SBOM not generated: "+msg)
	r.rep.Warning("SBOM not generated", msg)
	again, err := builder.SolveWithoutSBOM(ctx, c, req, opts...)
	if again != nil && res != nil {
		again.Duration += res.Duration
	}
	return again, err
}

// describeAttests is one line saying what the build attests, e.g.
// "provenance (type=provenance,builder-id=...,mode=max)", or "none".
func describeAttests(attrs map[string]string) string {
	var parts []string
	for k, v := range attrs {
		parts = append(parts, fmt.Sprintf("%s (%s)", strings.TrimPrefix(k, "attest:"), v))
	}
	if len(parts) == 0 {
		return "none"
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
