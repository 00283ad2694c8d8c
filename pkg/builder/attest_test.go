package builder

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What BuildKit v0.34 answered on the stack when the scanner image was not reachable.
const scannerNotFound = "resolve image config for docker-image://docker.io/docker/buildkit-syft-scanner:stable-1: failed to solve: " +
	"failed to resolve source metadata for docker.io/docker/buildkit-syft-scanner:stable-1: docker.io/docker/buildkit-syft-scanner:stable-1: not found"

func TestAnUnreachableSBOMScannerIsToldApartFromOtherFailures(t *testing.T) {
	sbom := Request{Attests: map[string]string{"attest:sbom": "type=sbom", "attest:provenance": "type=provenance,mode=max"}}
	custom := Request{Attests: map[string]string{"attest:sbom": "type=sbom,generator=ghcr.io/o/scanner:2@sha256:abc"}}
	for _, tc := range []struct {
		name string
		req  Request
		err  error
		want bool
	}{
		{"the default scanner not found", sbom, errors.New(scannerNotFound), true},
		{"a custom generator unreachable", custom, errors.New("failed to resolve source metadata for ghcr.io/o/scanner:2: dial tcp: lookup ghcr.io: no such host"), true},
		{"no sbom requested", Request{}, errors.New(scannerNotFound), false},
		{"the base image missing", sbom, errors.New("failed to resolve source metadata for docker.io/library/python:3.11-slim: not found"), false},
		{"a RUN that failed", sbom, &BuildError{Line: 3, err: errors.New(scannerNotFound)}, false},
		{"no error", sbom, nil, false},
	} {
		if got := ScannerUnavailable(tc.req, tc.err); got != tc.want {
			t.Errorf("%s: ScannerUnavailable = %v, want %v", tc.name, got, tc.want)
		}
	}
	again := sbom.withoutSBOM()
	if _, ok := again.Attests["attest:sbom"]; ok || again.Attests["attest:provenance"] == "" {
		t.Errorf("the build without SBOM: %+v (the provenance stays)", again)
	}
	if _, ok := sbom.Attests["attest:sbom"]; !ok {
		t.Error("withoutSBOM changed the original request")
	}
}

func TestAttestationsAndRefReachTheSolve(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	req := Request{
		ContextDir: dir, Dockerfile: filepath.Join(dir, "Dockerfile"), Auth: &RegistryAuth{},
		Attests: map[string]string{"attest:provenance": "type=provenance,mode=max"},
		Record:  &BuildRecord{},
	}
	so, err := solveOpt(req, solveConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if so.FrontendAttrs["attest:provenance"] != "type=provenance,mode=max" || so.Ref == "" || so.Ref != req.Record.Ref {
		t.Errorf("frontend attrs %q, ref %q (record %q)", so.FrontendAttrs, so.Ref, req.Record.Ref)
	}
	// A second solve of the same request (a retried push) is a new job for BuildKit.
	again, err := solveOpt(req, solveConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Ref == so.Ref || again.Ref != req.Record.Ref {
		t.Errorf("second solve ref %q, first %q, record %q: want a new ref, recorded", again.Ref, so.Ref, req.Record.Ref)
	}
}

func TestMetadataProvenanceModeIsBuildxs(t *testing.T) {
	for in, want := range map[string]MetadataProvenance{"": "min", "min": "min", "max": "max", "disabled": "disabled", "false": "disabled", "0": "disabled", "true": "min", "junk": "min"} {
		if got := ParseMetadataProvenance(in); got != want {
			t.Errorf("BUILDX_METADATA_PROVENANCE=%q: %q, want %q", in, got, want)
		}
	}
}

// buildx converts the record's SLSA v1 provenance to v0.2 and, in min mode, drops
// buildConfig and metadata (build/provenance.go encodeProvenance).
func TestMetadataProvenanceIsSLSA02AndMinDropsBuildConfig(t *testing.T) {
	v1 := `{"buildDefinition":{"buildType":"https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",` +
		`"externalParameters":{"configSource":{"path":"Dockerfile"},"request":{"frontend":"dockerfile.v0","args":{"build-arg:A":"1"}}},` +
		`"internalParameters":{"buildConfig":{"llbDefinition":[]}}},"runDetails":{"builder":{"id":"https://x/run"},"metadata":{"invocationId":"abc"}}}`
	for mode, wantConfig := range map[MetadataProvenance]bool{MetadataProvenanceMin: false, MetadataProvenanceMax: true} {
		out, err := encodeProvenance([]byte(v1), "https://slsa.dev/provenance/v1", mode)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		inv, _ := got["invocation"].(map[string]any)
		if !strings.Contains(string(out), `"entryPoint":"Dockerfile"`) || inv == nil || got["builder"] == nil {
			t.Errorf("%s: not the SLSA v0.2 shape: %s", mode, out)
		}
		if _, has := got["buildConfig"]; has != wantConfig {
			t.Errorf("%s: buildConfig present %v, want %v: %s", mode, has, wantConfig, out)
		}
	}
}
