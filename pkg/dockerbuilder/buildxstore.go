package dockerbuilder

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// Builders of buildx's remote and kubernetes drivers have no container on the runner's
// Docker: buildx dials a remote node's endpoint itself (driver/remote: tcp:// with the
// cacert, cert and key driver options, or unix://), and reaches a kubernetes node's pods
// through the Kubernetes API (driver/kubernetes/driver.go Dial: an exec of `buildctl
// dial-stdio` in the pod). Given such a builder's name, warmbuild says what to pass instead.
//
// buildx keeps every builder in its store as one JSON file, instances/<name> (name
// lower-cased), under $BUILDX_CONFIG or else the docker CLI's config directory's buildx/
// (docker/buildx store/store.go NodeGroupByName, store/util.go ValidateName,
// util/confutil/config.go NewConfig). setup-buildx-action runs buildx on the runner's host,
// so a container action sees that store only when the job sets DOCKER_CONFIG (or
// BUILDX_CONFIG) under ${{ runner.temp }}, which the runner mounts at /github/runner_temp and
// rewrites in the environment (see docs: "Many runners, one BuildKit" in README.md).

// BuildxDir is where buildx keeps its builders: BUILDX_CONFIG, else dockerConfigDir/buildx
// (dockerConfigDir as the docker CLI finds it: DOCKER_CONFIG, else ~/.docker), "" if neither.
func BuildxDir(buildxConfig, dockerConfigDir string) string {
	if buildxConfig != "" {
		return buildxConfig
	}
	if dockerConfigDir != "" {
		return filepath.Join(dockerConfigDir, "buildx")
	}
	return ""
}

// storedBuilder is the part of buildx's store/nodegroup.go NodeGroup warmbuild reads.
type storedBuilder struct {
	Name   string
	Driver string
	Nodes  []struct {
		Name       string
		Endpoint   string
		DriverOpts map[string]string
	}
}

// maxStoreFile bounds what is read of a store file; a builder's JSON is a few kB (Files, the
// node's buildkitd.toml, is the largest part).
const maxStoreFile = 1 << 20

// readStoredBuilder reads buildx's record of the builder name from dir, or an error wrapping
// os.ErrNotExist when there is none. The file is the user's, still read as untrusted input.
func readStoredBuilder(dir, name string) (*storedBuilder, error) {
	if dir == "" {
		return nil, os.ErrNotExist
	}
	f, err := os.Open(filepath.Join(dir, "instances", strings.ToLower(name)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b storedBuilder
	if err := json.NewDecoder(io.LimitReader(f, maxStoreFile)).Decode(&b); err != nil {
		return nil, fmt.Errorf("buildx's record of builder %s in %s: %w", name, dir, err)
	}
	return &b, nil
}

// storedBuilderProblem says what to pass instead of builder for a builder that warmbuild does
// not reach through Docker; "" for the drivers it does (docker-container) or does not know.
func storedBuilderProblem(name string, b *storedBuilder) string {
	switch b.Driver {
	case "docker":
		return dockerDriverProblem(name)
	case "remote":
		return remoteProblem(name, b)
	case "kubernetes":
		return kubernetesProblem(name)
	}
	return ""
}

// setupBuildxEndpoint is how a workflow reads a builder's first node endpoint from
// setup-buildx-action: its nodes output (the JSON of `buildx inspect`'s nodes, each with
// an endpoint field: docker/actions-toolkit src/types/buildx/builder.ts Node). Its endpoint
// output is declared but no longer set since v4 (docker/setup-buildx-action b4664d8,
// "remove deprecated inputs/outputs": src/main.ts sets name, driver, platforms, nodes; v3.12.0
// still set endpoint), so nodes is the one that works with every version.
const setupBuildxEndpoint = "${{ fromJSON(steps.buildx.outputs.nodes)[0].endpoint }}"

func remoteProblem(name string, b *storedBuilder) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%q is a builder of buildx's remote driver, which has no container on this Docker: warmbuild dials BuildKit itself. Instead of builder, pass endpoint: %s", name, setupBuildxEndpoint)
	if len(b.Nodes) > 0 && b.Nodes[0].Endpoint != "" {
		fmt.Fprintf(&s, " (here %s)", b.Nodes[0].Endpoint)
	}
	s.WriteString(", with `id: buildx` on the setup-buildx-action step")
	var certs []string
	if len(b.Nodes) > 0 {
		for _, k := range []string{"cacert", "cert", "key"} {
			if v := b.Nodes[0].DriverOpts[k]; v != "" {
				certs = append(certs, k+"="+v)
			}
		}
	}
	sort.Strings(certs)
	if len(certs) > 0 || len(b.Nodes) > 0 && strings.HasPrefix(b.Nodes[0].Endpoint, "tcp://") {
		s.WriteString(", and endpoint-tls-dir: a directory under ${{ runner.temp }} holding the node's CA, client certificate and key as ca.pem, cert.pem and key.pem (the files buildx has as the cacert, cert and key driver options")
		if len(certs) > 0 {
			s.WriteString(": " + strings.Join(certs, ", "))
		}
		s.WriteString("; setup-buildx-action writes them from BUILDER_NODE_0_AUTH_TLS_CACERT, _CERT and _KEY)")
	}
	return s.String()
}

func kubernetesProblem(name string) string {
	return fmt.Sprintf("%q is a builder of buildx's kubernetes driver: buildx reaches its pods through the Kubernetes API (an exec of `buildctl dial-stdio` in a pod), which warmbuild does not speak. Expose the BuildKit deployment as a Service listening on tcp:// with mutual TLS (moby/buildkit examples/kubernetes: deployment+service and create-certs.sh) and, instead of builder, pass endpoint: tcp://buildkitd.NAMESPACE.svc:1234 and endpoint-tls-dir: a directory holding the client's ca.pem, cert.pem and key.pem", name)
}

// notFoundHint ends the "no docker-container builder" message when buildx's store was not
// readable: a builder of another driver has no container either.
func notFoundHint(storeErr error) string {
	if storeErr == nil || errors.Is(storeErr, os.ErrNotExist) {
		return fmt.Sprintf(" If it is a builder of buildx's remote driver, pass endpoint: %s (and endpoint-tls-dir for tcp:// with TLS) instead of builder; a builder of the kubernetes driver must be exposed as a tcp:// Service and given the same way (see \"Many runners, one BuildKit\" in warmbuild's README)", setupBuildxEndpoint)
	}
	return " (buildx's store could not be read: " + storeErr.Error() + ")"
}

// checkStoredBuilder refuses, before Docker is asked anything, a builder that buildx's store
// says is of a driver warmbuild does not reach through Docker.
func checkStoredBuilder(o Options) (storeErr error, err error) {
	if !validName(o.Builder) {
		return os.ErrNotExist, nil // no such file can exist; useBuilder names the bad input
	}
	b, storeErr := readStoredBuilder(o.BuildxDir, o.Builder)
	if storeErr != nil {
		return storeErr, nil
	}
	if p := storedBuilderProblem(o.Builder, b); p != "" {
		return nil, &inputs.Error{Input: "builder", Problem: p}
	}
	return nil, nil
}
