//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
)

// A job with services (or a job container) makes the runner start container actions on
// the job's own network, github_network_<guid> (actions/runner
// ContainerOperationProvider.cs), while setup-buildx-action's docker-container builder sits
// on Docker's default bridge: Docker keeps the two networks apart, so the builder cannot
// reach an accelerator in the action's container. The first job must see that, take
// BuildKit's own path and still save the layer cache; the second, whose builder is also
// attached to the job's network, goes through the accelerator on that network and reads
// every step back.
func TestContainerActionOnTheJobsNetworkUsesTheAcceleratorOnlyWhereTheBuilderReachesIt(t *testing.T) {
	host := needDocker(t)
	image := buildActionImage(t, host)
	gateway := bridgeGateway(t, host)
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: cachetest.RuntimeToken("refs/heads/main"), ProxyBlobs: true, ListenAddr: gateway + ":0"})

	jobNet := "github_network_" + randomSuffix()
	docker(t, host, "network", "create", "--label", "dev.warmbuild.e2e=1", jobNet)
	t.Cleanup(func() { _, _ = dockerErr(host, "network", "rm", jobNet) })

	// A bridged builder cannot reach the stack's registry on the host's loopback, so the
	// build starts FROM scratch: its COPY steps are what the layer cache holds.
	ws := t.TempDir()
	for name, body := range map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a.txt /a.txt\nCOPY b.txt /b.txt\n",
		"a.txt":      strings.Repeat("a", 3<<20),
		"b.txt":      "b\n",
	} {
		if err := os.WriteFile(filepath.Join(ws, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(n string, attach bool) Result {
		name := "accel-net-" + n + "-" + randomSuffix()
		ctr := dockerbuilder.ContainerName(name)
		t.Cleanup(func() { removeBuilder(t, host, ctr) })
		// setup-buildx-action's builder: the default bridge (no --network host).
		args := []string{"run", "-d", "--name", ctr, "-v", ctr + "_state:/var/lib/buildkit"}
		for _, a := range builderRunArgs() {
			if a == "--network" || a == "host" {
				continue
			}
			args = append(args, a)
		}
		docker(t, host, append(args, "moby/buildkit:buildx-stable-1")...)
		if attach {
			docker(t, host, "network", "connect", jobNet, ctr)
		}
		return runActionContainer(t, host, ContainerRun{Image: image, Workspace: ws, Network: jobNet, Run: Run{
			Inputs: map[string]string{"builder": name, "push": "false", "mount-caches": "none"},
			Event:  "push", Payload: "push-default-branch.json",
			Env: pushOnMain(map[string]string{
				"ACTIONS_RESULTS_URL":   srv.Getenv("ACTIONS_RESULTS_URL"),
				"ACTIONS_RUNTIME_TOKEN": srv.Getenv("ACTIONS_RUNTIME_TOKEN"),
			}),
		}})
	}

	first := run("1", false)
	mustExit0(t, first)
	if !strings.Contains(first.Log, "layer cache: not accelerated: the builder container") || !strings.Contains(first.Log, jobNet) {
		t.Fatalf("the first job's builder cannot reach the action's network, yet no fallback was said:\n%s", tail(first.Log, 60))
	}
	if !strings.Contains(first.Summary, "BuildKit's own gha transfers") {
		t.Errorf("the summary should say the layer cache took BuildKit's own path:\n%s", first.Summary)
	}
	if len(srv.CallsTo(cachetest.FinalizeCacheEntryUpload)) == 0 {
		t.Fatalf("BuildKit's own path saved nothing:\n%s", tail(first.Log, 40))
	}

	second := run("2", true)
	mustExit0(t, second)
	subnet := strings.TrimSpace(docker(t, host, "network", "inspect", jobNet, "-f", "{{(index .IPAM.Config 0).Subnet}}"))
	prefix := subnet[:strings.LastIndex(subnet, ".")+1]
	if !strings.Contains(second.Log, "layer cache: accelerated through http://"+prefix) {
		t.Fatalf("a builder attached to the job's network should reach the accelerator there (%s):\n%s", subnet, tail(second.Log, 60))
	}
	if ratio := second.Outputs["layer-cache-hit-ratio"]; ratio != "1.00" {
		t.Errorf("a new builder reading the layer cache saved by BuildKit's own path: hit ratio %q, want 1.00\n%s", ratio, tail(second.Log, 40))
	}
}
