package inputs

import (
	"fmt"
	"strconv"
	"strings"
)

// load (issue 14): `load: true` and `type=docker` outputs without dest, which load the
// image into the Docker Engine the way `docker buildx build --load` does.

// load reads the load input and refuses what buildx refuses before any Engine is asked:
// a docker tarball of several platforms.
func (p *parser) load(in *Inputs) {
	in.Load = p.boolean("load", false)
	if len(in.Platforms) < 2 {
		return
	}
	for _, o := range in.Outputs {
		if o.Type == "docker" && o.Destination != "" {
			// docker/buildx build/opt.go toSolveOpt: a docker export with an Output (a
			// file) refuses several platforms whatever the Engine's image store is.
			p.fail("outputs", 0, fmt.Sprintf("docker exporter does not support exporting manifest lists, use the oci exporter instead: platforms names %d platforms (%s) and a type=docker output writes one image; write type=oci,dest=%s, or build one platform", len(in.Platforms), strings.Join(in.Platforms, ", "), o.Destination))
		}
	}
}

// exportWithoutDest says what is wrong with an oci or docker output that has no dest, or
// is empty when the output is fine. buildx (build/opt.go CreateExports) loads a docker
// tarball without dest into the Docker Engine and writes an oci tarball without dest to
// standard output, which in a step is the job log: that one is refused here. Without
// tar=true (tar=false) both export a directory, which needs dest.
func exportWithoutDest(e *ExportEntry) string {
	if e.Destination != "" || (e.Type != "oci" && e.Type != "docker") {
		return ""
	}
	if tar, err := strconv.ParseBool(e.Attrs["tar"]); err == nil && !tar {
		return fmt.Sprintf("a %s output with tar=false writes a directory and needs dest=DIR", e.Type)
	}
	if e.Type == "oci" {
		return "a type=oci output needs dest=PATH (a file): without dest buildx writes the image tarball to standard output, which is the job log; or use type=docker without dest (loaded into the Docker Engine) or load: true"
	}
	if e.Attrs["context"] != "" {
		return fmt.Sprintf("context=%s names a docker CLI context, which warmbuild does not read; the image is loaded into the Docker Engine at DOCKER_HOST (default unix:///var/run/docker.sock, the runner's socket): drop context=", e.Attrs["context"])
	}
	return ""
}

// LoadsIntoDocker reports whether the build loads its image into the Docker Engine: load
// is true, or an output is type=docker without dest.
func (in *Inputs) LoadsIntoDocker() bool {
	if in.Load {
		return true
	}
	for _, o := range in.Outputs {
		if o.Type == "docker" && o.Destination == "" {
			return true
		}
	}
	return false
}

// CheckDockerLoad applies buildx's rule for loading into an Engine (docker/buildx
// build/opt.go toSolveOpt, the "docker" exporter case): an Engine whose image store
// takes OCI images (the containerd image store: ociImporter) is sent an OCI tarball,
// which holds indexes and attestations; any other Engine is sent a docker tarball, which
// holds one image: several platforms, or attestations the user asked for, are refused
// with buildx's error. attestInputs names the inputs that asked for attestations
// (provenance, sbom, attests; empty: none asked for; default provenance is not asked for:
// build-push-action adds none when loading, context.ts Build.hasDockerExporter). nil when
// nothing is loaded or the Engine takes it.
func CheckDockerLoad(in *Inputs, ociImporter bool, attestInputs []string) error {
	if !in.LoadsIntoDocker() || ociImporter {
		return nil
	}
	input := "load"
	if !in.Load {
		input = "outputs"
	}
	var errs Errors
	const why = "docker exporter does not currently support exporting manifest lists"
	const store = "the Docker Engine here keeps images in its classic store, which takes one image per platform and no attestations (the containerd image store takes both)"
	if len(in.Platforms) > 1 {
		errs = append(errs, &Error{Input: input, Problem: fmt.Sprintf("%s: platforms names %d platforms (%s) and %s; load one platform (platforms: linux/amd64), or push the multi-platform image (push: true) and pull it", why, len(in.Platforms), strings.Join(in.Platforms, ", "), store)})
	}
	if len(attestInputs) > 0 {
		errs = append(errs, &Error{Input: input, Problem: fmt.Sprintf("%s: %s asks for attestations and %s; drop %s, or push the image (push: true) without loading it", why, strings.Join(attestInputs, " and "), store, strings.Join(attestInputs, " and "))})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// CheckDockerTarballs applies buildx's rule for a type=docker output with dest (a tarball
// file, whatever the Engine): attestations the user asked for (attestInputs, as for
// CheckDockerLoad) make an index, which a docker tarball cannot hold (docker/buildx
// build/opt.go toSolveOpt: "use the oci exporter instead"). Several platforms are refused
// by Parse already.
func CheckDockerTarballs(in *Inputs, attestInputs []string) error {
	if len(attestInputs) == 0 {
		return nil
	}
	for _, o := range in.Outputs {
		if o.Type == "docker" && o.Destination != "" {
			return &Error{Input: "outputs", Problem: fmt.Sprintf("docker exporter does not support exporting manifest lists, use the oci exporter instead: %s asks for attestations, which a type=docker tarball cannot hold; write type=oci,dest=%s, or drop %s", strings.Join(attestInputs, " and "), o.Destination, strings.Join(attestInputs, " and "))}
		}
	}
	return nil
}
