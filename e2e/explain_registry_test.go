//go:build e2e

package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/warmbuild/warmbuild/pkg/buildrecord"
)

// registryExplainJob is the registry backend's side of issue 17's cases: a cache-ref on
// the stack's registry that requires a login (scripts/stack/registry-auth.sh), the login
// in a docker config the action reads through DOCKER_CONFIG, as docker/login-action
// leaves it (an `auths` entry with a base64 user:password).
type registryExplainJob struct {
	registry, user, pass string
	repo, dockerConfig   string
	// recordTrouble is whether a run may say a record was not read or not saved.
	recordTrouble bool
}

func newRegistryExplainJob(t *testing.T) *registryExplainJob {
	t.Helper()
	needStack(t)
	j := &registryExplainJob{registry: stackEnv["AUTH_REGISTRY"], user: stackEnv["AUTH_REGISTRY_USER"], pass: stackEnv["AUTH_REGISTRY_PASSWORD"],
		repo: uniqueRepo(t, "explain"), dockerConfig: t.TempDir()}
	if j.registry == "" || j.pass == "" {
		t.Fatal("the stack has no login registry (AUTH_REGISTRY in its env): run scripts/stack/registry-auth.sh")
	}
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, j.registry, base64.StdEncoding.EncodeToString([]byte(j.user+":"+j.pass)))
	if err := os.WriteFile(filepath.Join(j.dockerConfig, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return j
}

// run is one push to main on a fresh builder with the registry layer cache.
func (j *registryExplainJob) run(t *testing.T, dir string, extra map[string]string) Result {
	t.Helper()
	in := map[string]string{"endpoint": freshBuilder(t).Endpoint, "cache-backend": "registry", "cache-ref": j.registry + "/" + j.repo + ":buildcache"}
	for k, v := range extra {
		in[k] = v
	}
	env := map[string]string{"DOCKER_CONFIG": j.dockerConfig}
	for k, v := range pushMain {
		env[k] = v
	}
	r := runAction(t, Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: env, Inputs: in})
	mustExit0(t, r)
	if strings.Contains(r.Log+r.Summary+fmt.Sprint(r.Outputs), j.pass) {
		t.Errorf("the registry password reached the log, the summary or the outputs")
	}
	if !j.recordTrouble && strings.Contains(r.Log, "Build record") {
		t.Errorf("a build record was not read or written:\n%s", tail(r.Log, 30))
	}
	return r
}

// get is an authenticated GET of the registry's API path, decoded into v.
func (j *registryExplainJob) get(t *testing.T, path, accept string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+j.registry+"/v2/"+path, nil)
	req.SetBasicAuth(j.user, j.pass)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// checkRecordBesideCache asserts what a user would find in the cache repository after a
// saving run: the cache tag and, beside it, the build record's tag holding an OCI artifact
// of the record's type. It returns the record's manifest digest.
func (j *registryExplainJob) checkRecordBesideCache(t *testing.T) string {
	t.Helper()
	var tags struct{ Tags []string }
	j.get(t, j.repo+"/tags/list", "", &tags)
	var cacheTag, recordTag string
	for _, tg := range tags.Tags {
		if strings.HasSuffix(tg, buildrecord.TagSuffix) {
			recordTag = tg
		} else if strings.HasPrefix(tg, "buildcache-") {
			cacheTag = tg
		}
	}
	if cacheTag == "" || recordTag != cacheTag+buildrecord.TagSuffix {
		t.Fatalf("tags %v: want the cache tag and <cache tag>%s beside it", tags.Tags, buildrecord.TagSuffix)
	}
	var m struct {
		ArtifactType string `json:"artifactType"`
		Layers       []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	j.get(t, j.repo+"/manifests/"+recordTag, "application/vnd.oci.image.manifest.v1+json", &m)
	if m.ArtifactType != buildrecord.MediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != buildrecord.MediaType {
		t.Fatalf("%s is not a build record: %+v", recordTag, m)
	}
	return m.Layers[0].Digest
}

// (b) on the registry backend: a requirements change names COPY requirements.txt and the
// file, from the record the first run pushed beside its registry cache with the login.
func TestExplainARequirementsChangeOnTheRegistryBackendNamesTheCopyAndTheFile(t *testing.T) {
	j := newRegistryExplainJob(t)
	dir := writeContext(t, map[string]string{"Dockerfile": explainDockerfile, "requirements.txt": "flask==3.0.0\n", "app.py": "print('hi')\n"})
	first := j.run(t, dir, nil)
	if first.Outputs["layer-cache-miss-reason"] != "cold" || first.Outputs["cache-saved"] != "true" {
		t.Errorf("first run: reason %q, cache-saved %q; want cold and true\n%s", first.Outputs["layer-cache-miss-reason"], first.Outputs["cache-saved"], tail(first.Log, 30))
	}
	before := j.checkRecordBesideCache(t)
	if err := os.WriteFile(filepath.Join(dir, "requirements.txt"), []byte("flask==3.0.0\nrequests==2.32.3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	second := j.run(t, dir, nil)
	checkMiss(t, second, "[3/6] COPY requirements.txt .", "4", "files", "- `requirements.txt`")
	if after := j.checkRecordBesideCache(t); after == before {
		t.Errorf("the second run did not replace the record (%s): the next run would compare with a stale one", after)
	}
}

// (c) on the registry backend: a build-arg change names the arg, never its value.
func TestExplainABuildArgChangeOnTheRegistryBackendNamesTheArg(t *testing.T) {
	j := newRegistryExplainJob(t)
	dir := writeContext(t, map[string]string{"Dockerfile": explainDockerfile, "requirements.txt": "flask==3.0.0\n", "app.py": "print('hi')\n"})
	j.run(t, dir, map[string]string{"build-args": "APP_VERSION=1.0.0-alpha"})
	j.checkRecordBesideCache(t)
	second := j.run(t, dir, map[string]string{"build-args": "APP_VERSION=2.0.0-beta"})
	checkMiss(t, second, "[4/6] RUN cp requirements.txt /installed.txt", "5", "build-arg", "build args changed: APP_VERSION")
	if strings.Contains(second.Outputs["layer-cache-miss-reason"], "beta") || strings.Contains(second.Outputs["layer-cache-first-miss"], "beta") {
		t.Errorf("the miss outputs hold the build arg's value: %q", second.Outputs)
	}
}

// raw is an authenticated request of the registry's API path: its status, body and
// headers.
func (j *registryExplainJob) raw(t *testing.T, method, path, contentType string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+j.registry+"/v2/"+path, bytes.NewReader(body))
	req.SetBasicAuth(j.user, j.pass)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// A record's tag that holds something else (here: a copy of the cache manifest, as a
// branch named "main.warmbuild-record" would leave there) is untrusted input that is no
// record: the run is not misled by it, does not overwrite it, and says so in the log;
// the build and the cache save go on.
func TestExplainARegistryTagThatIsNoRecordIsNeitherReadNorOverwritten(t *testing.T) {
	j := newRegistryExplainJob(t)
	dir := writeContext(t, map[string]string{"Dockerfile": explainDockerfile, "requirements.txt": "flask==3.0.0\n", "app.py": "print('hi')\n"})
	j.run(t, dir, nil)
	j.checkRecordBesideCache(t)
	cacheTag := "buildcache-dockerfile-main"
	status, manifest, h := j.raw(t, http.MethodGet, j.repo+"/manifests/"+cacheTag, "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET the cache manifest %s: %d", cacheTag, status)
	}
	if status, body, _ := j.raw(t, http.MethodPut, j.repo+"/manifests/"+cacheTag+buildrecord.TagSuffix, h.Get("Content-Type"), manifest); status != http.StatusCreated {
		t.Fatalf("PUT the cache manifest under the record's tag: %d %s", status, body)
	}
	planted := digest.FromBytes(manifest).String()

	// A change after cached steps: with a record the reason would be files.
	if err := os.WriteFile(filepath.Join(dir, "app.py"), []byte("print('hello')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	j.recordTrouble = true
	second := j.run(t, dir, nil)
	if got := second.Outputs["layer-cache-miss-reason"]; got != "unknown" {
		t.Errorf("reason %q, want unknown: the tag holds no record to compare with\n%s", got, tail(second.Log, 30))
	}
	if second.Outputs["cache-saved"] != "true" {
		t.Errorf("cache-saved = %q, want true", second.Outputs["cache-saved"])
	}
	if !strings.Contains(second.Log, "not overwritten") || !strings.Contains(second.Log, "something other than a warmbuild build record") {
		t.Errorf("the log does not say the tag was left alone:\n%s", tail(second.Log, 30))
	}
	_, _, h = j.raw(t, http.MethodHead, j.repo+"/manifests/"+cacheTag+buildrecord.TagSuffix, "", nil)
	if got := h.Get("Docker-Content-Digest"); got != planted {
		t.Errorf("the record's tag now holds %s, want what was there (%s)", got, planted)
	}
}
