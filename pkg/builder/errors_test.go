package builder

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// The messages below are BuildKit v0.34's, as the stack's login registry (Debian's
// docker-registry with htpasswd, scripts/stack/registry-auth.sh) gave them, and as users
// reported them from ghcr.io and Docker Hub.
func TestARegistryRefusingTheLoginIsToldApartFromABrokenDockerfile(t *testing.T) {
	login := base64.StdEncoding.EncodeToString([]byte("ci-user:s3cret-pass"))
	a, err := LoadRegistryAuth(writeConfig(t, `{"auths":{"127.0.0.1:5001":{"auth":"`+login+`"}}}`), ghcrToken)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := LoadRegistryAuth(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, msg            string
		auth                 *RegistryAuth
		registry, op, source string // registry "" = not a login problem
		fix                  string // in Fix()
	}{
		{
			name:     "push without a login (stack registry)",
			msg:      "failed to push 127.0.0.1:5001/probe/app:1: unexpected status from HEAD request to http://127.0.0.1:5001/v2/probe/app/blobs/sha256:48d69fca74f91dde0036f2f5e02bd397ddcee73dc0fe84f2b67664dcbdd4afbc: 401 Unauthorized",
			auth:     empty,
			registry: "127.0.0.1:5001", op: "push",
			fix: `echo "DOCKER_CONFIG=$RUNNER_TEMP/docker" >> "$GITHUB_ENV"`,
		},
		{
			name:     "push with a wrong password (stack registry)",
			msg:      "failed to push 127.0.0.1:5001/probe/app:1: unexpected status from HEAD request to http://127.0.0.1:5001/v2/probe/app/blobs/sha256:e66b68080dcbe037a0c6c61ebaa07f6c2411cc819afd2c6ab7711ba0c99f576a: 401 Unauthorized",
			auth:     a,
			registry: "127.0.0.1:5001", op: "push", source: "config.json",
			fix: "rejected the credentials",
		},
		{
			name:     "base image pull without a login (stack registry)",
			msg:      "127.0.0.1:5001/probe/app:1: failed to resolve source metadata for 127.0.0.1:5001/probe/app:1: unexpected status from HEAD request to http://127.0.0.1:5001/v2/probe/app/manifests/1: 401 Unauthorized",
			auth:     empty,
			registry: "127.0.0.1:5001", op: "pull",
			fix: "registry: 127.0.0.1:5001",
		},
		{
			name:     "ghcr.io push with a token that may not write packages",
			msg:      "failed to push ghcr.io/insightsengineering/debian-gcc-devel:2023.12.07: unexpected status from POST request to https://ghcr.io/v2/insightsengineering/debian-gcc-devel/blobs/uploads/: 403 Forbidden",
			auth:     a,
			registry: "ghcr.io", op: "push", source: GitHubTokenSource,
			fix: "permissions: packages: write",
		},
		{
			name:     "Docker Hub push without a login",
			msg:      "failed to push docker.io/octo/app:1: push access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed",
			auth:     empty,
			registry: "docker.io", op: "push",
			fix: "docker.io, or leave registry empty",
		},
		{
			name: "a failing RUN step that prints 401",
			msg:  `process "/bin/sh -c curl -f https://example.com/x" did not complete successfully: exit code: 22: 401 Unauthorized`,
			auth: empty,
		},
		{
			name: "a push race is not a login problem",
			msg:  "failed to push 127.0.0.1:5000/e2e/app:1.0: unknown: blob unknown to registry",
			auth: empty,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &BuildError{File: "Dockerfile", Message: tc.msg, err: errors.New(tc.msg)}
			got := asRegistryAuthError(be, tc.auth)
			if tc.registry == "" {
				if got != nil {
					t.Fatalf("classified as a login problem with %s: %v", got.Registry, got)
				}
				return
			}
			if got == nil {
				t.Fatalf("not classified as a login problem: %s", tc.msg)
			}
			if got.Registry != tc.registry || got.Op != tc.op {
				t.Errorf("registry %q op %q, want %q %q", got.Registry, got.Op, tc.registry, tc.op)
			}
			if !strings.HasSuffix(got.Source, tc.source) || (tc.source == "") != (got.Source == "") {
				t.Errorf("source %q, want %q", got.Source, tc.source)
			}
			if fix := got.Fix(); !strings.Contains(fix, tc.fix) || !strings.Contains(fix, tc.registry) {
				t.Errorf("fix does not say %q for %s:\n%s", tc.fix, tc.registry, fix)
			}
			if !strings.HasPrefix(got.Error(), tc.registry+" refused the "+tc.op) {
				t.Errorf("message %q", got.Error())
			}
			var asBuild *BuildError
			if !errors.As(got, &asBuild) {
				t.Error("a RegistryAuthError should still unwrap to its BuildError (step statistics, log)")
			}
			for _, s := range []string{got.Error(), got.Fix()} {
				if strings.Contains(s, "s3cret-pass") || strings.Contains(s, "ghs_token") {
					t.Errorf("a credential reached the message: %s", s)
				}
			}
		})
	}
}
