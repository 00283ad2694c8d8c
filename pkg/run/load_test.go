package run

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// exportsOf lists a plan's exports as "type name=... push=... file/load".
func exportsOf(t *testing.T, with map[string]string) []client.ExportEntry {
	t.Helper()
	extra := map[string]string{}
	for k, v := range with {
		extra[inputs.InputEnv(k)] = v
	}
	return mustPlan(t, planEnv(t, extra)).Request.Exports
}

// load: true is buildx's --load: one docker export without a file, named by the tags, that
// prepareLoad connects to the Engine.
func TestLoadAddsADockerExportNamedByTheTags(t *testing.T) {
	exps := exportsOf(t, map[string]string{"load": "true", "tags": "app:1\napp:latest"})
	if len(exps) != 1 {
		t.Fatalf("exports = %+v, want one", exps)
	}
	e := exps[0]
	if e.Type != client.ExporterDocker || e.Attrs["name"] != "app:1,app:latest" || e.Output != nil {
		t.Errorf("export = %+v, want type docker, name app:1,app:latest, no file output", e)
	}
}

// buildx takes --push --load together: the image is pushed and loaded.
func TestPushAndLoadExportBoth(t *testing.T) {
	exps := exportsOf(t, map[string]string{"load": "true", "push": "true", "tags": "reg.example/app:1"})
	var pushed, loaded bool
	for _, e := range exps {
		switch {
		case e.Type == client.ExporterImage && e.Attrs["push"] == "true" && e.Attrs["name"] == "reg.example/app:1":
			pushed = true
		case e.Type == client.ExporterDocker && e.Output == nil && e.Attrs["name"] == "reg.example/app:1":
			loaded = true
		}
	}
	if !pushed || !loaded || len(exps) != 2 {
		t.Errorf("exports = %+v, want one pushed image export and one docker load", exps)
	}
}

// An output that already loads (type=docker, no dest) is not doubled by load: true; one
// with a file still writes it, and load adds the load.
func TestLoadIsNotDoubledByADockerOutputWithoutDest(t *testing.T) {
	exps := exportsOf(t, map[string]string{"load": "true", "outputs": "type=docker", "tags": "app:1"})
	if len(exps) != 1 || exps[0].Type != client.ExporterDocker || exps[0].Output != nil {
		t.Errorf("exports = %+v, want the one docker load", exps)
	}
	exps = exportsOf(t, map[string]string{"load": "true", "outputs": "type=docker,dest=" + t.TempDir() + "/img.tar", "tags": "app:1"})
	if len(exps) != 2 || exps[0].Output == nil || exps[1].Output != nil {
		t.Errorf("exports = %+v, want the tarball file, then the load", exps)
	}
}

// load: true without a Docker Engine at the runner's socket fails the step before any
// builder is contacted, naming the input and saying where the socket was looked for.
func TestLoadWithoutADockerSocketFailsBeforeTheBuild(t *testing.T) {
	getenv := planEnv(t, map[string]string{
		inputs.InputEnv("endpoint"): "unix:///nonexistent/buildkitd.sock",
		inputs.InputEnv("load"):     "true",
		inputs.InputEnv("tags"):     "app:test",
		"DOCKER_HOST":               "unix:///nonexistent/docker.sock",
	})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if code := Main(ctx, Env{Getenv: getenv, Stdout: &out}); code == 0 {
		t.Fatalf("exit code 0 without a Docker Engine to load into:\n%s", out.String())
	}
	log := out.String()
	if !strings.Contains(log, "::error title=Invalid input load::") || !strings.Contains(log, "no Docker socket at /nonexistent/docker.sock") {
		t.Errorf("want an error naming load and the socket:\n%s", log)
	}
	if strings.Contains(log, "Connect to BuildKit") {
		t.Errorf("the builder was contacted before the load was refused:\n%s", log)
	}
}

func TestALoadFailureIsShownOnlyWhenItFailedTheBuild(t *testing.T) {
	refused := errors.New("load into the Docker Engine at unix:///var/run/docker.sock: Error processing tar file(exit status 1): unexpected EOF")
	ok := loadState{loaded: []string{"app:1"}}

	// A push race: the first attempt's load was cut short, the second loaded.
	loaded, err := loadOutcome(nil, []loadState{{err: refused}, ok})
	if err != nil || len(loaded) != 1 || loaded[0] != "app:1" {
		t.Errorf("build ok after a retry: loaded %q, err %v; want [app:1], nil", loaded, err)
	}
	// The Engine refused the image: BuildKit's error carries the load's.
	_, err = loadOutcome(fmt.Errorf("exporting to docker image format: failed to solve: rpc error: code = Unknown desc = %v", refused), []loadState{{err: refused}})
	if err == nil || !strings.HasPrefix(err.Error(), "the image was built, but not loaded: load into the Docker Engine") {
		t.Errorf("refused load: %v, want the load's error", err)
	}
	// Another exporter failed first and cut the load short: its error stays.
	authErr := errors.New("failed to push reg.example/app:1: 401 Unauthorized")
	if _, err := loadOutcome(authErr, []loadState{{err: refused}}); err != authErr {
		t.Errorf("push refused: %v, want the push's error", err)
	}
	if _, err := loadOutcome(nil, nil); err == nil {
		t.Error("a build that exported nothing to the Engine must not pass as loaded")
	}
}
