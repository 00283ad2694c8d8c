//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// outputs type=oci,tar=false writes an OCI image layout directory, as buildx exports it
// (build/opt.go: tar=false is a directory, anything else a tarball), and push: true beside
// it still pushes the image; a tarball output beside them is a file.
func TestOCIOutputWithTarFalseIsALayoutDirectoryBesideAPush(t *testing.T) {
	b := freshBuilder(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM scratch\nCOPY hello.txt /\n", "hello.txt": "hello\n"})
	out := t.TempDir()
	repo := uniqueRepo(t, "outputs")
	res := runAction(t, Run{Dir: dir, Event: "push", Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "provenance": "false",
		"tags": stackEnv["REGISTRY"] + "/" + repo + ":1", "push": "true",
		"outputs": "type=oci,dest=" + filepath.Join(out, "layout") + ",tar=false\ntype=oci,dest=" + filepath.Join(out, "image.tar"),
	}})
	mustExit0(t, res)

	data, err := os.ReadFile(filepath.Join(out, "layout", "index.json"))
	if err != nil {
		t.Fatalf("tar=false did not write an OCI layout directory: %v", err)
	}
	var index struct {
		Manifests []struct{ Digest string } `json:"manifests"`
	}
	if err := json.Unmarshal(data, &index); err != nil || len(index.Manifests) == 0 {
		t.Fatalf("layout/index.json = %s (%v)", data, err)
	}
	if fi, err := os.Stat(filepath.Join(out, "image.tar")); err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 {
		t.Errorf("the tarball output is not a file: %v", err)
	}
	if got := manifestDigest(t, repo, "1"); got != res.Outputs["digest"] {
		t.Errorf("registry has %s for %s:1, digest output %q", got, repo, res.Outputs["digest"])
	}
}
