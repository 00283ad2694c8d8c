package builder

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/moby/buildkit/session/secrets"
)

// A Git context goes to the frontend as buildx sends it: the URL as the context attr, the
// Dockerfile's path in the repository as filename, and no local context mount.
func TestGitContextIsTheFrontendsContextAttr(t *testing.T) {
	so, err := solveOpt(Request{GitContext: "https://h/o/r.git#main:app", Dockerfile: "docker/Dockerfile.prod", Auth: &RegistryAuth{}}, solveConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if so.FrontendAttrs["context"] != "https://h/o/r.git#main:app" || so.FrontendAttrs["filename"] != "docker/Dockerfile.prod" {
		t.Errorf("attrs = %v", so.FrontendAttrs)
	}
	if len(so.LocalMounts) != 0 || so.FrontendAttrs["dockerfilekey"] != "" {
		t.Errorf("a Git context sends no local mounts: %v, dockerfilekey %q", so.LocalMounts, so.FrontendAttrs["dockerfilekey"])
	}

	// An absolute Dockerfile is a local file: its directory is the dockerfile mount.
	dir := t.TempDir()
	so, err = solveOpt(Request{GitContext: "https://h/o/r.git", Dockerfile: filepath.Join(dir, "Dockerfile"), Auth: &RegistryAuth{}}, solveConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := so.LocalMounts["dockerfile"]; !ok || so.FrontendAttrs["dockerfilekey"] != "dockerfile" || so.FrontendAttrs["filename"] != "Dockerfile" {
		t.Errorf("absolute Dockerfile: mounts %v attrs %v", so.LocalMounts, so.FrontendAttrs)
	}
}

// BuildKit skips an optional secret it is told is not found (a Git context's
// GIT_AUTH_TOKEN, source/git/source.go getAuthToken); any other error fails the fetch.
func TestASecretNotGivenIsNotFoundForBuildKit(t *testing.T) {
	_, err := secretStore{secrets: []Secret{{ID: "a", Value: []byte("x")}}}.GetSecret(context.Background(), "GIT_AUTH_TOKEN.github.com")
	if !errors.Is(err, secrets.ErrNotFound) {
		t.Errorf("err = %v, want secrets.ErrNotFound", err)
	}
}
