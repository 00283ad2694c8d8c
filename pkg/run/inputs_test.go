package run

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// A typo in mount-caches or a hash glob leaving the context fails the step before any
// builder is contacted (they used to be found after the builder had started), each with
// its own annotation naming the input.
func TestTyposInMountCacheInputsFailBeforeTheBuilderIsContacted(t *testing.T) {
	getenv := planEnv(t, map[string]string{
		inputs.InputEnv("endpoint"):               "unix:///nonexistent/buildkitd.sock",
		inputs.InputEnv("mount-caches"):           "auto,shop-pip",
		inputs.InputEnv("mount-cache-hash-files"): "requirements.txt\n../outside/*.txt",
	})
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if code := Main(ctx, Env{Getenv: getenv, Stdout: &out}); code == 0 {
		t.Fatalf("exit code 0 with bad inputs:\n%s", out.String())
	}
	log := out.String()
	for _, want := range []string{"::error title=Invalid input mount-caches::", "::error title=Invalid input mount-cache-hash-files::"} {
		if !strings.Contains(log, want) {
			t.Errorf("no %q in:\n%s", want, log)
		}
	}
	if strings.Contains(log, "Connect to BuildKit") {
		t.Errorf("the builder was contacted before the inputs were refused:\n%s", log)
	}
}
