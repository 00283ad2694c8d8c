//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// ociIndex is the part of an image index (or manifest) the tests read back.
type ociIndex struct {
	MediaType   string            `json:"mediaType"`
	Annotations map[string]string `json:"annotations"`
	Manifests   []struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
		Platform    *struct {
			OS           string `json:"os"`
			Architecture string `json:"architecture"`
		} `json:"platform"`
	} `json:"manifests"`
	Layers []struct {
		MediaType   string            `json:"mediaType"`
		Digest      string            `json:"digest"`
		Annotations map[string]string `json:"annotations"`
	} `json:"layers"`
}

// registryGet reads one manifest (by tag or digest) or blob from the stack's registry, as
// `docker buildx imagetools inspect --raw` would.
func registryGet(t *testing.T, repo, kind, ref string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/v2/%s/%s/%s", stackEnv["REGISTRY"], repo, kind, ref), nil)
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.index.v1+json",
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("registry: GET %s %s/%s: HTTP %d: %s", repo, kind, ref, resp.StatusCode, body)
	}
	return body
}

func readIndex(t *testing.T, repo, ref string) (ociIndex, []byte) {
	t.Helper()
	raw := registryGet(t, repo, "manifests", ref)
	var idx ociIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("manifest %s@%s: %v\n%s", repo, ref, err, raw)
	}
	return idx, raw
}

// attestationManifests are the index entries buildx and BuildKit mark as attestations.
func attestationManifests(idx ociIndex) []string {
	var out []string
	for _, m := range idx.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			out = append(out, m.Digest)
		}
	}
	return out
}

const attestSecret = "s3cr3t-attest-value-9f27"

func attestContext(t *testing.T) string {
	return writeContext(t, map[string]string{
		"Dockerfile": "FROM python:3.11-slim\n" +
			"ARG GREETING\n" +
			"RUN --mount=type=secret,id=token test -s /run/secrets/token && echo \"$GREETING\" > /greeting\n",
	})
}

// The default provenance build-push-action asks for on a public repository (mode=max)
// lands in the pushed index as an attestation manifest whose in-toto provenance names the
// Dockerfile and the build args, and not the secret; the metadata output carries buildx's
// buildx.build.ref and buildx.build.provenance. Annotations land where their prefixes say.
func TestDefaultProvenanceAndAnnotationsArePushedWithTheImage(t *testing.T) {
	b := freshBuilder(t)
	repo := uniqueRepo(t, "attest")
	res := runAction(t, Run{Inputs: map[string]string{
		"endpoint":      b.Endpoint,
		"context":       attestContext(t),
		"tags":          stackEnv["REGISTRY"] + "/" + repo + ":1.0",
		"push":          "true",
		"cache-backend": "none",
		"build-args":    "GREETING=hello-provenance",
		"secrets":       "token=" + attestSecret,
		"annotations": "index:org.opencontainers.image.title=warm attest\n" +
			"manifest:org.opencontainers.image.vendor=octo-org\n" +
			"org.opencontainers.image.description=plain key, on the manifest",
	}, Event: "push", Payload: "push-default-branch.json", Env: map[string]string{"GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "3"}})
	mustExit0(t, res)
	for _, line := range strings.Split(res.Log, "\n") {
		if strings.Contains(line, attestSecret) && !strings.HasPrefix(line, "::add-mask::") {
			t.Errorf("the secret value is printed outside ::add-mask::: %q", line)
		}
	}

	if want := "Attestations: provenance (type=provenance,builder-id=https://github.com/octo-org/warm-app/actions/runs/4242/attempts/3,mode=max)"; !strings.Contains(res.Log, want) {
		t.Errorf("the log does not say %q:\n%s", want, tail(res.Log, 40))
	}
	idx, raw := readIndex(t, repo, "1.0")
	if d := manifestDigest(t, repo, "1.0"); res.Outputs["digest"] != d || res.Outputs["imageid"] != d {
		t.Errorf("digest %q, imageid %q: want both the index's digest %s, as buildx's iidfile gives it", res.Outputs["digest"], res.Outputs["imageid"], d)
	}
	if strings.Contains(string(raw), attestSecret) {
		t.Errorf("the secret value is in the index")
	}
	if idx.Annotations["org.opencontainers.image.title"] != "warm attest" {
		t.Errorf("index annotations %v: want the index: annotation\n%s", idx.Annotations, raw)
	}
	atts := attestationManifests(idx)
	if len(atts) != 1 {
		t.Fatalf("index has %d attestation manifests, want 1 (default provenance):\n%s", len(atts), raw)
	}
	var image string
	for _, m := range idx.Manifests {
		if m.Annotations["vnd.docker.reference.type"] == "" {
			image = m.Digest
		}
	}
	man, manRaw := readIndex(t, repo, image)
	if man.Annotations["org.opencontainers.image.vendor"] != "octo-org" || man.Annotations["org.opencontainers.image.description"] != "plain key, on the manifest" {
		t.Errorf("image manifest annotations %v: want the manifest: and unprefixed annotations\n%s", man.Annotations, manRaw)
	}

	att, attRaw := readIndex(t, repo, atts[0])
	var statement []byte
	for _, l := range att.Layers {
		if l.MediaType == "application/vnd.in-toto+json" && strings.HasPrefix(l.Annotations["in-toto.io/predicate-type"], "https://slsa.dev/provenance/") {
			statement = registryGet(t, repo, "blobs", l.Digest)
		}
	}
	if statement == nil {
		t.Fatalf("the attestation manifest has no SLSA provenance layer:\n%s", attRaw)
	}
	if strings.Contains(string(statement), attestSecret) {
		t.Errorf("the secret value is in the provenance")
	}
	var st struct {
		PredicateType string `json:"predicateType"`
		Predicate     struct {
			BuildDefinition struct {
				ExternalParameters struct {
					ConfigSource struct {
						Path string `json:"path"`
					} `json:"configSource"`
					Request struct {
						Args    map[string]string `json:"args"`
						Secrets []struct {
							ID string `json:"id"`
						} `json:"secrets"`
					} `json:"request"`
				} `json:"externalParameters"`
			} `json:"buildDefinition"`
			RunDetails struct {
				Builder struct {
					ID string `json:"id"`
				} `json:"builder"`
				Metadata struct {
					BuildKitMetadata struct {
						Layers map[string]any `json:"layers"`
					} `json:"buildkit_metadata"`
				} `json:"metadata"`
			} `json:"runDetails"`
		} `json:"predicate"`
	}
	if err := json.Unmarshal(statement, &st); err != nil {
		t.Fatalf("provenance statement: %v\n%s", err, statement)
	}
	ext := st.Predicate.BuildDefinition.ExternalParameters
	if ext.ConfigSource.Path != "Dockerfile" {
		t.Errorf("provenance configSource.path = %q, want Dockerfile\n%s", ext.ConfigSource.Path, statement)
	}
	if ext.Request.Args["build-arg:GREETING"] != "hello-provenance" {
		t.Errorf("provenance request args %v: want build-arg:GREETING", ext.Request.Args)
	}
	if len(ext.Request.Secrets) != 1 || ext.Request.Secrets[0].ID != "token" {
		t.Errorf("provenance secrets %+v: want the id token (never its value)", ext.Request.Secrets)
	}
	if want := "https://github.com/octo-org/warm-app/actions/runs/4242/attempts/3"; st.Predicate.RunDetails.Builder.ID != want {
		t.Errorf("builder id %q, want the workflow run %s", st.Predicate.RunDetails.Builder.ID, want)
	}
	if len(st.Predicate.RunDetails.Metadata.BuildKitMetadata.Layers) == 0 {
		t.Errorf("no layer metadata in the provenance: mode=max expected on a public repository\n%s", statement)
	}

	var meta map[string]json.RawMessage
	if err := json.Unmarshal([]byte(res.Outputs["metadata"]), &meta); err != nil {
		t.Fatalf("metadata output: %v\n%s", err, res.Outputs["metadata"])
	}
	var ref string
	_ = json.Unmarshal(meta["buildx.build.ref"], &ref)
	if parts := strings.Split(ref, "/"); len(parts) != 3 || parts[2] == "" {
		t.Errorf("buildx.build.ref = %q, want <builder>/<node>/<ref>", ref)
	}
	var prov struct {
		BuildType  string `json:"buildType"`
		Invocation struct {
			ConfigSource struct {
				EntryPoint string `json:"entryPoint"`
			} `json:"configSource"`
			Parameters struct {
				Args map[string]string `json:"args"`
			} `json:"parameters"`
		} `json:"invocation"`
		BuildConfig any `json:"buildConfig"`
	}
	if err := json.Unmarshal(meta["buildx.build.provenance"], &prov); err != nil {
		t.Fatalf("buildx.build.provenance: %v\n%s", err, res.Outputs["metadata"])
	}
	if prov.Invocation.ConfigSource.EntryPoint != "Dockerfile" || prov.Invocation.Parameters.Args["build-arg:GREETING"] != "hello-provenance" {
		t.Errorf("buildx.build.provenance %s: want the SLSA v0.2 shape buildx writes, naming the Dockerfile and the build arg", meta["buildx.build.provenance"])
	}
	if prov.BuildConfig != nil {
		t.Errorf("buildx.build.provenance has buildConfig: BUILDX_METADATA_PROVENANCE's default is min")
	}
}

// provenance: false pushes the image alone: no attestation manifest.
func TestProvenanceFalsePushesNoAttestation(t *testing.T) {
	b := freshBuilder(t)
	repo := uniqueRepo(t, "attest-off")
	res := runAction(t, Run{Inputs: map[string]string{
		"endpoint":      b.Endpoint,
		"context":       attestContext(t),
		"tags":          stackEnv["REGISTRY"] + "/" + repo + ":1.0",
		"push":          "true",
		"cache-backend": "none",
		"secrets":       "token=" + attestSecret,
		"provenance":    "false",
	}, Event: "push", Payload: "push-default-branch.json"})
	mustExit0(t, res)
	idx, raw := readIndex(t, repo, "1.0")
	if atts := attestationManifests(idx); len(atts) != 0 {
		t.Errorf("provenance: false, yet %d attestation manifests:\n%s", len(atts), raw)
	}
	// buildx reads buildx.build.provenance from BuildKit's build record, which holds a
	// provenance whatever the build attests (buildx build/provenance.go): still there.
	if !strings.Contains(res.Outputs["metadata"], `"buildx.build.provenance"`) {
		t.Errorf("metadata has no buildx.build.provenance: %s", res.Outputs["metadata"])
	}
}

// sbom: true needs BuildKit's scanner image, which the stack cannot pull (no network, not
// mirrored): the build still pushes the image, with the provenance, and a warning says the
// SBOM was not generated and why.
func TestSBOMScannerThatCannotBePulledIsAWarning(t *testing.T) {
	b := freshBuilder(t)
	repo := uniqueRepo(t, "attest-sbom")
	res := runAction(t, Run{Inputs: map[string]string{
		"endpoint":      b.Endpoint,
		"context":       attestContext(t),
		"tags":          stackEnv["REGISTRY"] + "/" + repo + ":1.0",
		"push":          "true",
		"cache-backend": "none",
		"secrets":       "token=" + attestSecret,
		"sbom":          "true",
	}, Event: "push", Payload: "push-default-branch.json"})
	mustExit0(t, res)
	var warned bool
	for _, l := range strings.Split(res.Log, "\n") {
		if strings.HasPrefix(l, "::warning ") && strings.Contains(l, "SBOM not generated") && strings.Contains(l, "docker/buildkit-syft-scanner") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no ::warning says the SBOM was not generated and names the scanner:\n%s", tail(res.Log, 40))
	}
	idx, raw := readIndex(t, repo, "1.0")
	if len(attestationManifests(idx)) != 1 {
		t.Errorf("want the image with its provenance attestation:\n%s", raw)
	}
	if res.Outputs["digest"] == "" || res.Outputs["digest"] != manifestDigest(t, repo, "1.0") {
		t.Errorf("digest output %q does not name the pushed index", res.Outputs["digest"])
	}
}

// On a private repository (the payload's repository.private) the default provenance is
// build-push-action's mode=min,inline-only=true: still attached to the pushed image, without
// the build's definition.
func TestPrivateRepositoryGetsMinimalProvenance(t *testing.T) {
	b := freshBuilder(t)
	repo := uniqueRepo(t, "attest-private")
	payload := writeContext(t, map[string]string{"event.json": `{"ref":"refs/heads/main","repository":{"full_name":"octo-org/warm-app","default_branch":"main","private":true}}`})
	res := runAction(t, Run{Inputs: map[string]string{
		"endpoint":      b.Endpoint,
		"context":       attestContext(t),
		"tags":          stackEnv["REGISTRY"] + "/" + repo + ":1.0",
		"push":          "true",
		"cache-backend": "none",
		"secrets":       "token=" + attestSecret,
		"build-args":    "GREETING=hello-private",
	}, Event: "push", Env: map[string]string{"GITHUB_EVENT_PATH": payload + "/event.json", "GITHUB_RUN_ID": "7"}})
	mustExit0(t, res)
	idx, raw := readIndex(t, repo, "1.0")
	atts := attestationManifests(idx)
	if len(atts) != 1 {
		t.Fatalf("index has %d attestation manifests, want 1:\n%s", len(atts), raw)
	}
	att, _ := readIndex(t, repo, atts[0])
	var statement []byte
	for _, l := range att.Layers {
		if strings.HasPrefix(l.Annotations["in-toto.io/predicate-type"], "https://slsa.dev/provenance/") {
			statement = registryGet(t, repo, "blobs", l.Digest)
		}
	}
	if statement == nil {
		t.Fatal("no provenance layer")
	}
	s := string(statement)
	if strings.Contains(s, `"buildConfig"`) || strings.Contains(s, `"layers"`) {
		t.Errorf("private repository: the provenance has mode=max's build definition:\n%s", s)
	}
	if !strings.Contains(s, `"path":"Dockerfile"`) || !strings.Contains(s, "actions/runs/7/attempts/1") {
		t.Errorf("the minimal provenance still names the Dockerfile and the workflow run:\n%s", s)
	}
}
