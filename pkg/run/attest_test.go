package run

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// The default provenance follows the event payload's repository.private, as
// build-push-action's getAttestArgs decides it, with the run's URL as builder-id.
func TestDefaultProvenanceFollowsTheRepositorysVisibility(t *testing.T) {
	for _, tc := range []struct {
		payload, want string
	}{
		{`{"ref":"refs/heads/main","repository":{"full_name":"o/r","default_branch":"main","private":false}}`,
			"type=provenance,builder-id=https://github.com/o/r/actions/runs/77/attempts/1,mode=max"},
		{`{"ref":"refs/heads/main","repository":{"full_name":"o/r","default_branch":"main","private":true}}`,
			"type=provenance,builder-id=https://github.com/o/r/actions/runs/77/attempts/1,inline-only=true,mode=min"},
		{`{}`, // no repository in the payload: public, as `?.private ?? false` reads it
			"type=provenance,builder-id=https://github.com/o/r/actions/runs/77/attempts/1,mode=max"},
	} {
		event := filepath.Join(t.TempDir(), "event.json")
		if err := os.WriteFile(event, []byte(tc.payload), 0o644); err != nil {
			t.Fatal(err)
		}
		p := mustPlan(t, planEnv(t, map[string]string{
			"GITHUB_EVENT_PATH": event, "GITHUB_REPOSITORY": "o/r", "GITHUB_RUN_ID": "77",
		}))
		if got := p.Request.Attests["attest:provenance"]; got != tc.want {
			t.Errorf("payload %s: attest:provenance = %q, want %q", tc.payload, got, tc.want)
		}
	}
}

func TestProvenanceFalseSendsNoAttestation(t *testing.T) {
	p := mustPlan(t, planEnv(t, map[string]string{inputs.InputEnv("provenance"): "false"}))
	if len(p.Request.Attests) != 0 {
		t.Errorf("attests = %q, want none", p.Request.Attests)
	}
}

// buildx puts the annotations on every output (commands/build.go).
func TestAnnotationsLandOnEveryExport(t *testing.T) {
	dest := filepath.Join(t.TempDir(), "img.tar")
	p := mustPlan(t, planEnv(t, map[string]string{
		inputs.InputEnv("tags"):        "r.example/a:1",
		inputs.InputEnv("outputs"):     "type=image,push=true\ntype=oci,dest=" + dest,
		inputs.InputEnv("annotations"): "index:org.opencontainers.image.title=warm\nmanifest:org.opencontainers.image.vendor=octo",
	}))
	if len(p.Request.Exports) != 2 {
		t.Fatalf("exports = %+v", p.Request.Exports)
	}
	for _, e := range p.Request.Exports {
		if e.Attrs["annotation-index.org.opencontainers.image.title"] != "warm" || e.Attrs["annotation-manifest.org.opencontainers.image.vendor"] != "octo" {
			t.Errorf("%s export attrs = %q", e.Type, e.Attrs)
		}
	}
}

func TestBuildRefNamesBuilderNodeAndRef(t *testing.T) {
	p := mustPlan(t, planEnv(t, nil))
	if p.Request.Record == nil {
		t.Error("no build record: buildx.build.ref cannot be given")
	}
	if got := buildRefPrefix(dockerbuilder.Info{Builder: "builder-1f2e"}); got != "builder-1f2e/builder-1f2e0" {
		t.Errorf("prefix = %q", got)
	}
	if p.Request.MetadataProvenance != builder.MetadataProvenanceMin {
		t.Errorf("metadata provenance %q, want buildx's default min", p.Request.MetadataProvenance)
	}
	p = mustPlan(t, planEnv(t, map[string]string{"BUILDX_METADATA_PROVENANCE": "max"}))
	if p.Request.MetadataProvenance != builder.MetadataProvenanceMax {
		t.Errorf("BUILDX_METADATA_PROVENANCE=max gives %q", p.Request.MetadataProvenance)
	}
	if !strings.HasPrefix(buildRefPrefix(dockerbuilder.Info{}), "warmbuild/") {
		t.Error("an endpoint builder has warmbuild's name")
	}
}

func TestTheLogSaysWhatTheBuildAttests(t *testing.T) {
	if got := describeAttests(nil); got != "none" {
		t.Errorf("no attestations: %q", got)
	}
	got := describeAttests(map[string]string{"attest:sbom": "type=sbom", "attest:provenance": "type=provenance,mode=max"})
	if got != "provenance (type=provenance,mode=max), sbom (type=sbom)" {
		t.Errorf("got %q", got)
	}
}
