//go:build e2e

package mountcache

import (
	"context"
	"github.com/warmbuild/warmbuild/internal/stackenv"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/builder"
)

// Tests that need BuildKit find the local stack through $WARMBUILD_STACK/env and skip
// without it, unless WARMBUILD_REQUIRE_STACK=1.

func stackEnv(t *testing.T) map[string]string {
	t.Helper()
	env, err := stackenv.Read()
	if err != nil {
		if os.Getenv("WARMBUILD_REQUIRE_STACK") == "1" {
			t.Fatalf("local stack: %v", err)
		}
		t.Skipf("local stack not up: %v", err)
	}
	return env
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// freshDaemon starts a buildkitd on a new empty state directory (a new runner) and
// returns a client of it; both go away when the test ends.
func freshDaemon(t *testing.T) *client.Client {
	t.Helper()
	env := stackEnv(t)
	var envList []string
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	dir, err := os.MkdirTemp("", "wb-mc-bk-")
	if err != nil {
		t.Fatal(err)
	}
	root, sock := filepath.Join(dir, "root"), filepath.Join(dir, "bk.sock")
	scripts := filepath.Join(repoRoot(), "scripts", "stack")
	cmd := exec.Command("bash", filepath.Join(scripts, "buildkitd-run.sh"), root, sock)
	cmd.Env = append(os.Environ(), envList...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("start buildkitd: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		stop := exec.Command("bash", filepath.Join(scripts, "buildkitd-stop.sh"), root)
		stop.Env = append(os.Environ(), envList...)
		if out, err := stop.CombinedOutput(); err != nil {
			t.Logf("stop buildkitd: %v\n%s", err, out)
		}
		os.RemoveAll(dir)
	})
	c, err := builder.Connect(context.Background(), builder.Endpoint{Address: "unix://" + sock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestMain(m *testing.M) {
	code := m.Run()
	if helperPath != "" {
		os.RemoveAll(filepath.Dir(helperPath))
	}
	os.Exit(code)
}

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
	helperOut  []byte
)

// helperBinary builds the action binary statically, as the release does, once per
// test process.
func helperBinary(t *testing.T) string {
	t.Helper()
	helperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "wb-mc-bin-")
		if err != nil {
			helperErr = err
			return
		}
		helperPath = filepath.Join(dir, "warmbuild")
		cmd := exec.Command("go", "build", "-o", helperPath, ".")
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		helperOut, helperErr = cmd.CombinedOutput()
	})
	if helperErr != nil {
		t.Fatalf("build the action binary: %v\n%s", helperErr, helperOut)
	}
	return helperPath
}
