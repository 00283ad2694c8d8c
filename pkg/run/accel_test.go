package run

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/client"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
)

func TestTheAcceleratorIsUsedOnlyWhereTheBuilderReachesIt(t *testing.T) {
	endpoint := dockerbuilder.Info{Mode: dockerbuilder.ModeEndpoint}
	created := dockerbuilder.Info{Mode: dockerbuilder.ModeCreated}
	for _, tc := range []struct {
		name        string
		info        dockerbuilder.Info
		address     string
		inContainer bool
		own         string
		host        string
	}{
		{"host build, unix socket", endpoint, "unix:///run/buildkit/buildkitd.sock", false, "", "127.0.0.1"},
		{"host build, tcp on loopback", endpoint, "tcp://127.0.0.1:1234", false, "", "127.0.0.1"},
		{"remote tcp endpoint", endpoint, "tcp://buildkit.internal:1234", false, "", ""},
		{"unix socket seen from the action container", endpoint, "unix:///run/buildkit/buildkitd.sock", true, "172.17.0.3", ""},
		{"builder container, action in its container", created, "docker-container://warmbuild", true, "172.17.0.3", "172.17.0.3"},
		{"builder container, action on the host", created, "docker-container://warmbuild", false, "", ""},
		{"action container without an address", created, "docker-container://warmbuild", true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host, fallback := accelReach(tc.info, tc.address, tc.inContainer, tc.own)
			if host != tc.host {
				t.Fatalf("host %q (fallback %q), want %q", host, fallback, tc.host)
			}
			if host == "" && fallback == "" {
				t.Fatal("no host and no reason for the summary")
			}
		})
	}
}

// A job with services or a job container puts container actions on the job's own
// network (actions/runner ContainerOperationProvider.cs), while setup-buildx-action's
// builder stays on the default bridge: Docker keeps the two apart, so the accelerator in
// the action's container is used only where the builder reaches it.
func TestTheAcceleratorIsUsedOnlyOnANetworkTheBuilderShares(t *testing.T) {
	bridge := dockerbuilder.Attachment{Name: "bridge", ID: "b1", IP: "172.17.0.4"}
	job := dockerbuilder.Attachment{Name: "github_network_5f2e", ID: "n9", IP: "172.18.0.3"}
	builderOn := func(a ...dockerbuilder.Attachment) dockerbuilder.Networks {
		for i := range a {
			a[i].IP = "172.17.0.2" // the builder's own address: never the one to listen on
		}
		return dockerbuilder.Networks{Known: true, Attached: a}
	}
	self := func(a ...dockerbuilder.Attachment) dockerbuilder.Networks {
		return dockerbuilder.Networks{Known: true, Attached: a}
	}
	for _, tc := range []struct {
		name     string
		net, me  dockerbuilder.Networks
		own      string
		host     string
		fallback string
	}{
		{"host-network builder, action on the job's network", dockerbuilder.Networks{Known: true, Host: true}, self(job), job.IP, job.IP, ""},
		{"both on the default bridge", builderOn(bridge), self(bridge), bridge.IP, bridge.IP, ""},
		{"both on the bridge, the action on the job's network too", builderOn(bridge), self(job, bridge), job.IP, bridge.IP, ""},
		{"builder attached to the job's network", builderOn(bridge, job), self(job), job.IP, job.IP, ""},
		{"builder on the bridge, action on the job's network", builderOn(bridge), self(job), job.IP, "", "github_network_5f2e"},
		{"the action's container unknown to Docker", builderOn(bridge), dockerbuilder.Networks{}, bridge.IP, bridge.IP, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info := dockerbuilder.Info{Mode: dockerbuilder.ModeBuilder, Container: "buildx_buildkit_builder-1f0", Net: tc.net, Self: tc.me}
			host, fallback := accelReach(info, "docker-container://buildx_buildkit_builder-1f0", true, tc.own)
			if host != tc.host {
				t.Fatalf("host %q (fallback %q), want %q", host, fallback, tc.host)
			}
			if tc.fallback != "" && (!strings.Contains(fallback, tc.fallback) || !strings.Contains(fallback, "bridge")) {
				t.Errorf("fallback %q should name both networks", fallback)
			}
		})
	}
}

func TestOnlyTheRunsOwnV2ServiceEntriesAreAccelerated(t *testing.T) {
	svc := cacheservice.Service{Protocol: cacheservice.ProtocolV2, URL: "https://results.example/"}
	ours := client.CacheOptionsEntry{Type: "gha", Attrs: map[string]string{"url_v2": "https://results.example/", "version": "2"}}
	forcedV1 := client.CacheOptionsEntry{Type: "gha", Attrs: map[string]string{"url_v2": "https://results.example/", "version": "1"}}
	elsewhere := client.CacheOptionsEntry{Type: "gha", Attrs: map[string]string{"url_v2": "https://other.example/"}}
	reg := client.CacheOptionsEntry{Type: "registry", Attrs: map[string]string{"ref": "r"}}
	got := ghaV2Entries(svc, []client.CacheOptionsEntry{ours, reg}, []client.CacheOptionsEntry{forcedV1, elsewhere})
	if len(got) != 1 || got[0].Attrs["version"] != "2" {
		t.Fatalf("got %v, want only the entry for the run's v2 service", got)
	}
	if ghaV2Entries(cacheservice.Service{Protocol: cacheservice.ProtocolV1, URL: "https://results.example/"}, []client.CacheOptionsEntry{ours}) != nil {
		t.Error("a v1 service was accelerated")
	}
}
