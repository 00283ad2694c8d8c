//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The core promise: a push builds and pushes the image, the digest output is the registry's,
// and a new runner reading the registry cache the first run wrote skips the work.
func TestColdThenWarmOnAFreshBuilderThroughARegistryCache(t *testing.T) {
	repo := uniqueRepo(t, "app")
	image := stackEnv["REGISTRY"] + "/" + repo
	inputs := func(b *Builder) map[string]string {
		return map[string]string{
			"endpoint":      b.Endpoint,
			"tags":          image + ":1.0," + image + ":latest",
			"push":          "true",
			"cache-backend": "registry",
			"cache-ref":     image + ":buildcache",
			// The default provenance records the build's times and id, so its index differs
			// on every build (as with build-push-action); this test compares the image.
			"provenance": "false",
		}
	}
	env := map[string]string{"GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch"}

	cold := runAction(t, Run{Inputs: inputs(freshBuilder(t)), Event: "push", Payload: "push-default-branch.json", Env: env})
	mustExit0(t, cold)
	if got := cold.Outputs["layer-cache-hit-ratio"]; got != "0.00" {
		t.Errorf("cold build hit ratio = %q, want 0.00", got)
	}
	if cold.Outputs["cache-saved"] != "true" {
		t.Errorf("a push to the default branch must save the layer cache: cache-saved=%q (%s)", cold.Outputs["cache-saved"], cold.Outputs["cache-save-reason"])
	}
	if d := manifestDigest(t, repo, "1.0"); cold.Outputs["digest"] != d {
		t.Errorf("digest output %q, registry says %q", cold.Outputs["digest"], d)
	}
	if d := manifestDigest(t, repo, "latest"); cold.Outputs["digest"] != d {
		t.Errorf("second tag: digest output %q, registry says %q", cold.Outputs["digest"], d)
	}
	if !strings.HasPrefix(cold.Outputs["imageid"], "sha256:") || !strings.Contains(cold.Outputs["metadata"], cold.Outputs["digest"]) {
		t.Errorf("imageid %q / metadata %q", cold.Outputs["imageid"], cold.Outputs["metadata"])
	}
	total, _ := strconv.Atoi(cold.Outputs["layer-cache-steps-total"])
	if total < 3 {
		t.Errorf("layer-cache-steps-total = %d; the fixture has 3 RUN/COPY steps", total)
	}

	warm := runAction(t, Run{Inputs: inputs(freshBuilder(t)), Event: "push", Payload: "push-default-branch.json", Env: env})
	mustExit0(t, warm)
	ratio, err := strconv.ParseFloat(warm.Outputs["layer-cache-hit-ratio"], 64)
	if err != nil || ratio < 0.8 {
		t.Errorf("warm build on a fresh builder: hit ratio %q, want >= 0.8\n%s", warm.Outputs["layer-cache-hit-ratio"], tail(warm.Log, 40))
	}
	if warm.Outputs["digest"] != cold.Outputs["digest"] {
		t.Errorf("the same commit rebuilt from cache should give the same image: %s vs %s", warm.Outputs["digest"], cold.Outputs["digest"])
	}
	for _, want := range []string{repo, warm.Outputs["digest"], "steps cached"} {
		if !strings.Contains(warm.Summary, want) {
			t.Errorf("job summary lacks %q:\n%s", want, warm.Summary)
		}
	}
}

// A failing RUN fails the step with an error annotation on the Dockerfile line.
func TestFailingRunIsAnnotatedOnItsDockerfileLine(t *testing.T) {
	b := freshBuilder(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM python:3.11-slim\nRUN echo preparing\nRUN echo about to fail && exit 3\n",
	})
	res := runAction(t, Run{Dir: dir, Inputs: map[string]string{"endpoint": b.Endpoint, "cache-backend": "none"}, Event: "push"})
	if res.ExitCode == 0 {
		t.Fatalf("a failing RUN must fail the step:\n%s", tail(res.Log, 30))
	}
	var annotation string
	for _, l := range strings.Split(res.Log, "\n") {
		if strings.HasPrefix(l, "::error ") {
			annotation = l
		}
	}
	if !strings.Contains(annotation, "file=Dockerfile") || !strings.Contains(annotation, "line=3") || !strings.Contains(annotation, "exit code: 3") {
		t.Errorf("want an error annotation on Dockerfile line 3 with the exit code, got %q", annotation)
	}
	if strings.Contains(res.Log, "goroutine ") {
		t.Errorf("stack trace in the log")
	}
}

// Bad input is an annotation naming the input, before any build starts.
func TestBadInputFailsWithAnAnnotationNamingIt(t *testing.T) {
	res := runAction(t, Run{Inputs: map[string]string{"cache-from": "type=s4,bucket=x", "endpoint": "unix:///nonexistent.sock"}, Event: "push"})
	if res.ExitCode == 0 || !strings.Contains(res.Log, "::error title=Invalid input cache-from::") {
		t.Errorf("want an error annotation for cache-from, got exit %d:\n%s", res.ExitCode, res.Log)
	}
}

// Secrets reach the build through the session, are masked, and never land in the image.
func TestSecretsReachTheBuildAndStayOutOfLogsAndImage(t *testing.T) {
	b := freshBuilder(t)
	const secret = "s3cr3t-value-9f8e7d"
	// The build checks the secret's ending, so it must have arrived; the value itself is
	// never written into the Dockerfile or a build argument.
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM python:3.11-slim\n" +
			"RUN --mount=type=secret,id=token,required=true python3 -c \"import sys; v=open('/run/secrets/token').read(); sys.exit(0 if v.endswith('9f8e7d') else 1)\"\n",
	})
	out := filepath.Join(t.TempDir(), "image.tar")
	res := runAction(t, Run{Dir: dir, Event: "push", Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "secrets": "token=" + secret, "outputs": "type=oci,dest=" + out,
	}})
	mustExit0(t, res)
	for _, line := range strings.Split(res.Log, "\n") {
		if strings.Contains(line, secret) && !strings.HasPrefix(line, "::add-mask::") {
			t.Errorf("secret printed outside add-mask: %q", line)
		}
	}
	if !strings.Contains(res.Log, "::add-mask::"+secret) {
		t.Errorf("secret was not masked")
	}
	for k, v := range res.Outputs {
		if strings.Contains(v, secret) {
			t.Errorf("output %s contains the secret", k)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil || len(data) == 0 {
		t.Fatalf("oci output not written: %v", err)
	}
	if strings.Contains(string(data), secret) {
		t.Errorf("the secret is inside the exported image")
	}
}
