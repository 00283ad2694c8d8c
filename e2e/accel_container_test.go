//go:build e2e

package e2e

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
)

// The layer cache the way GitHub's runners run it: the action in its own container on
// Docker's bridge network (actions/runner starts container actions without --network
// host), the cache service and its storage somewhere the container reaches over the
// network, a builder container on the host's network that must reach the accelerator in
// the action's container. The first job saves through the accelerator; the second, on a
// new builder (a new runner), reads every step back through it.
func TestContainerActionLayerCacheGoesThroughTheAcceleratorAndIsReadBack(t *testing.T) {
	host := needDocker(t)
	image := buildActionImage(t, host)
	gateway := bridgeGateway(t, host)
	// The service and, through it, the storage at the gateway: the only address of the
	// host the action's container reaches.
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: cachetest.RuntimeToken("refs/heads/main"), ProxyBlobs: true, ListenAddr: gateway + ":0"})

	repo := uniqueRepo(t, "accel-container")
	run := func(n string) Result {
		name := "accel-" + n + "-" + randomSuffix()
		ctr := dockerbuilder.ContainerName(name)
		t.Cleanup(func() { removeBuilder(t, host, ctr) })
		args := append([]string{"run", "-d", "--name", ctr, "-v", ctr + "_state:/var/lib/buildkit"}, builderRunArgs()...)
		docker(t, host, append(args, "moby/buildkit:buildx-stable-1")...)
		return runActionContainer(t, host, ContainerRun{Image: image, Run: Run{
			Inputs: map[string]string{"builder": name, "tags": stackEnv["REGISTRY"] + "/" + repo + ":" + n, "push": "true",
				"mount-caches": "none"},
			Event: "push", Payload: "push-default-branch.json",
			Env: pushOnMain(map[string]string{
				"ACTIONS_RESULTS_URL":   srv.Getenv("ACTIONS_RESULTS_URL"),
				"ACTIONS_RUNTIME_TOKEN": srv.Getenv("ACTIONS_RUNTIME_TOKEN"),
			}),
		}})
	}

	first := run("1")
	mustExit0(t, first)
	// Through the container's own bridge address: the builder cannot reach its loopback.
	subnet := gateway[:strings.LastIndex(gateway, ".")+1] // the /24 of the bridge, e.g. 172.17.0.
	if !strings.Contains(first.Log, "layer cache: accelerated through http://"+subnet) {
		t.Fatalf("the first job did not go through the accelerator:\n%s", tail(first.Log, 60))
	}
	if up, err := strconv.ParseInt(first.Outputs["layer-cache-uploaded-bytes"], 10, 64); err != nil || up < 1<<20 {
		t.Errorf("layer-cache-uploaded-bytes %q: want the layers' size (over 1 MiB)", first.Outputs["layer-cache-uploaded-bytes"])
	}
	if len(srv.CallsTo(cachetest.FinalizeCacheEntryUpload)) == 0 {
		t.Fatalf("nothing reached the cache service from the accelerator:\n%s", tail(first.Log, 40))
	}

	second := run("2")
	mustExit0(t, second)
	if ratio := second.Outputs["layer-cache-hit-ratio"]; ratio != "1.00" {
		t.Errorf("a new builder reading the saved layer cache: hit ratio %q, want 1.00\n%s", ratio, tail(second.Log, 40))
	}
	if down, err := strconv.ParseInt(second.Outputs["layer-cache-downloaded-bytes"], 10, 64); err != nil || down <= 0 {
		t.Errorf("layer-cache-downloaded-bytes %q: want what the import fetched", second.Outputs["layer-cache-downloaded-bytes"])
	}
	if !strings.Contains(second.Summary, "Layer cache transfer") || strings.Contains(second.Summary, "BuildKit's own gha transfers") {
		t.Errorf("the summary should show the accelerated transfer:\n%s", second.Summary)
	}
	for _, r := range []Result{first, second} {
		// The ::add-mask:: commands carry the URLs to the runner, which hides them.
		all := logWithoutMasks(r.Log) + r.Summary
		if i := strings.Index(all, "sig="); i >= 0 {
			t.Errorf("a signed storage URL reached the log or the summary: …%s…", all[max(0, i-300):min(len(all), i+100)])
		}
	}
}

// bridgeGateway is the host's address on Docker's default bridge. The stack's Docker
// 20.10 sometimes lists the bridge's IPAM config with its subnet only (seen after a fresh
// boot: [{"Subnet":"172.17.0.0/16"}]); the gateway is then the subnet's first address,
// which is what docker0 carries (172.17.0.1).
func bridgeGateway(t *testing.T, host string) string {
	t.Helper()
	out := strings.TrimSpace(docker(t, host, "network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}}|{{.Subnet}}{{end}}"))
	gw, subnet, _ := strings.Cut(out, "|")
	if gw != "" {
		return gw
	}
	prefix, err := netip.ParsePrefix(strings.TrimSpace(subnet))
	if err != nil || !prefix.Addr().Is4() {
		t.Fatalf("Docker's bridge network has neither a gateway nor an IPv4 subnet: %q", out)
	}
	return prefix.Masked().Addr().Next().String()
}
