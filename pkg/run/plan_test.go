package run

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

func planEnv(t *testing.T, extra map[string]string) func(string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		inputs.InputEnv("context"): dir,
		"GITHUB_EVENT_NAME":        "push",
		"GITHUB_REF":               "refs/heads/main",
		"GITHUB_REF_NAME":          "main",
	}
	for k, v := range extra {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// act in host mode hands the container a GITHUB_EVENT_PATH on the host: the run goes on,
// decides from the variables, and says so.
func TestUnreadableEventPayloadIsAWarningNotAFailure(t *testing.T) {
	getenv := planEnv(t, map[string]string{"GITHUB_EVENT_PATH": "/nonexistent/event.json"})
	in, err := inputs.Parse(getenv)
	if err != nil {
		t.Fatal(err)
	}
	p, err := MakePlan(in, runnerenv.Read(getenv))
	if err != nil {
		t.Fatalf("an unreadable payload must not fail the run: %v", err)
	}
	if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "GITHUB_EVENT_PATH") {
		t.Errorf("warnings = %q", p.Warnings)
	}
	if p.Decision.Save {
		t.Errorf("without the payload the default branch is unknown, so nothing saves by default: %+v", p.Decision)
	}
}

func TestMissingDockerfileNamesTheFileInput(t *testing.T) {
	getenv := planEnv(t, map[string]string{inputs.InputEnv("file"): "nope/Dockerfile"})
	in, err := inputs.Parse(getenv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = MakePlan(in, runnerenv.Read(getenv))
	var ie *inputs.Error
	if !errors.As(err, &ie) || ie.Input != "file" {
		t.Errorf("want an error naming file, got %v", err)
	}
}

// Push with tags exports one image with every tag as its name and push=true, as buildx does.
func TestPushExportsTheTaggedImage(t *testing.T) {
	getenv := planEnv(t, map[string]string{inputs.InputEnv("tags"): "r.example/a:1,r.example/a:latest", inputs.InputEnv("push"): "true"})
	p := mustPlan(t, getenv)
	ex := p.Request.Exports
	if len(ex) != 1 || ex[0].Type != "image" || ex[0].Attrs["push"] != "true" || ex[0].Attrs["name"] != "r.example/a:1,r.example/a:latest" {
		t.Errorf("exports = %+v", ex)
	}
}

// push: true beside a local output keeps the output and pushes the image too, as buildx's
// --push does with --output type=local (an image output it would push is added).
func TestPushBesideALocalOutputAlsoPushesTheImage(t *testing.T) {
	getenv := planEnv(t, map[string]string{
		inputs.InputEnv("tags"): "r.example/a:1", inputs.InputEnv("push"): "true",
		inputs.InputEnv("outputs"): "type=local,dest=out",
	})
	p := mustPlan(t, getenv)
	ex := p.Request.Exports
	if len(ex) != 2 || ex[0].Type != "local" || ex[1].Type != "image" || ex[1].Attrs["push"] != "true" || ex[1].Attrs["name"] != "r.example/a:1" {
		t.Errorf("exports = %+v", ex)
	}
}

// With push and load the pushed image's export goes last: BuildKit keeps the last
// exporter's containerimage.digest, and digest must name what the registry holds.
func TestPushAndLoadReportThePushedDigest(t *testing.T) {
	getenv := planEnv(t, map[string]string{
		inputs.InputEnv("tags"): "r.example/a:1", inputs.InputEnv("push"): "true", inputs.InputEnv("load"): "true",
	})
	p := mustPlan(t, getenv)
	ex := p.Request.Exports
	if len(ex) != 2 || ex[0].Type != "docker" || ex[1].Type != "image" || ex[1].Attrs["push"] != "true" {
		t.Errorf("exports = %+v, want the docker load first and the pushed image last", ex)
	}
}

// An oci output with tar=false is a directory (an OCI layout), as buildx exports it; with
// tar left out it is a tarball file.
func TestOCIOutputWithTarFalseIsADirectory(t *testing.T) {
	getenv := planEnv(t, map[string]string{inputs.InputEnv("outputs"): "type=oci,dest=layout,tar=false\ntype=oci,dest=image.tar"})
	ex := mustPlan(t, getenv).Request.Exports
	if len(ex) != 2 || ex[0].OutputDir != "layout" || ex[0].Output != nil || ex[1].OutputDir != "" || ex[1].Output == nil {
		t.Errorf("exports = %+v, want a directory then a file", ex)
	}
}
