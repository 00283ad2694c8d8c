package run

// accel (issue 16): the layer cache accelerator around the build (pkg/ghaaccel).

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/moby/buildkit/client"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
	"github.com/warmbuild/warmbuild/pkg/ghaaccel"
	"github.com/warmbuild/warmbuild/pkg/report"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// accelReach says where a builder reaches an accelerator in this process: the host to
// listen on and to put in url_v2, or, when it is not known to reach one, why not (the
// layer cache then takes BuildKit's own path).
//   - a daemon on this machine's network (a unix socket, tcp:// on loopback) with the
//     action on the host: 127.0.0.1;
//   - the action in its container (actions/runner starts container actions without
//     --network host, on the default bridge, or on the job's github_network_<guid> when
//     the job has services or a container) with a builder container on the host's
//     network, which reaches every bridge address: the action container's own address;
//     with a builder container on a network the action's container is also on: its
//     address there; on none it shares: BuildKit's own path, said why;
//   - anything else (tcp:// elsewhere, a unix socket seen from inside a container, a
//     builder container seen from the host): BuildKit's own path.
func accelReach(info dockerbuilder.Info, address string, inContainer bool, ownAddr string) (host, fallback string) {
	if info.Mode == dockerbuilder.ModeEndpoint || info.Mode == "" {
		u, err := url.Parse(address)
		switch {
		case err != nil:
			return "", "the endpoint is not a URL the accelerator can judge"
		case u.Scheme == "unix" && !inContainer:
			return "127.0.0.1", ""
		case u.Scheme == "tcp" && !inContainer && isLoopback(u.Hostname()):
			return "127.0.0.1", ""
		case u.Scheme == "unix":
			return "", "BuildKit at a unix socket seen from inside the action's container may not share its network"
		default:
			return "", "a BuildKit endpoint at " + u.Scheme + "://" + u.Host + " (possibly remote) may not reach the action's accelerator"
		}
	}
	if !inContainer {
		return "", "a builder container cannot reach the action's loopback address"
	}
	switch {
	case info.Net.Known && info.Net.Host && ownAddr != "":
		// The host's network namespace routes to every bridge address of the host.
		return ownAddr, ""
	case info.Net.Known && info.Self.Known:
		if ip, _ := info.Net.Shared(info.Self); ip != "" {
			return ip, ""
		}
		return "", fmt.Sprintf("the builder container %s is on %s and the action's container on %s, networks Docker keeps apart (the runner puts container actions on the job's own network when the job has services or a container); attach the builder to it, or use warmbuild's own builder (builder left empty)",
			info.Container, networkList(info.Net), networkList(info.Self))
	case ownAddr != "":
		// Docker could not say (the action's hostname is not its container's): the
		// default bridge, where both sit in a job without services, is assumed.
		return ownAddr, ""
	}
	return "", "the action's container has no address the builder container can reach"
}

func networkList(n dockerbuilder.Networks) string {
	names := n.Names()
	if len(names) == 0 {
		return "no network"
	}
	return "network " + strings.Join(names, ", ")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// containerAction tells whether the action runs as the runner's container action: the
// runner mounts the workspace at /github/workspace and says so in GITHUB_WORKSPACE
// (actions/runner ContainerActionHandler.cs; ../shared/reference/actions-runtime.md). A
// probe like /.dockerenv would not do: self-hosted runners, and this project's own test
// machine, run the whole runner in a container, where a host-network builder still
// reaches 127.0.0.1.
func containerAction(workspace string) bool { return workspace == "/github/workspace" }

// selfContainer is the action's own container for dockerbuilder to inspect, "" when
// the action is not the runner's container action.
func (r *runner) selfContainer() string {
	if !containerAction(r.renv.Workspace) {
		return ""
	}
	return r.renv.Hostname
}

// ownAddress is the first non-loopback IPv4 address of this network namespace: in the
// action's container, its bridge address.
func ownAddress() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}

// ghaV2Entries are the cache entries that talk to the run's v2 cache service.
func ghaV2Entries(svc cacheservice.Service, lists ...[]client.CacheOptionsEntry) []client.CacheOptionsEntry {
	var out []client.CacheOptionsEntry
	if svc.Protocol != cacheservice.ProtocolV2 || svc.URL == "" {
		return nil
	}
	for _, l := range lists {
		for _, e := range l {
			if e.Type == "gha" && e.Attrs["version"] != "1" && strings.TrimRight(e.Attrs["url_v2"], "/") == strings.TrimRight(svc.URL, "/") {
				out = append(out, e)
			}
		}
	}
	return out
}

func hasGHA(lists ...[]client.CacheOptionsEntry) bool {
	for _, l := range lists {
		for _, e := range l {
			if e.Type == "gha" {
				return true
			}
		}
	}
	return false
}

// startLayerAccel puts the accelerator between BuildKit's gha backend and the cache
// service when the layer cache uses the v2 service and the builder can reach it; the
// returned stop ends it and records what moved. The v1 service (GitHub Enterprise Server,
// act) is passed by: its REST protocol has no signed storage URLs to speed up here.
func (r *runner) startLayerAccel(ep builder.Endpoint, info dockerbuilder.Info) (stop func()) {
	entries := ghaV2Entries(r.plan.CacheService, r.plan.Request.CacheImports, r.plan.Request.CacheExports)
	if len(entries) == 0 {
		if r.plan.CacheService.Protocol == cacheservice.ProtocolV1 && hasGHA(r.plan.Request.CacheImports, r.plan.Request.CacheExports) {
			r.res.LayerTransfer = "BuildKit's own gha transfers: the v1 cache service (GitHub Enterprise Server, act) is not accelerated"
		}
		return func() {}
	}
	if r.renv.LayerAccel == runnerenv.LayerAccelOff {
		r.res.LayerTransfer = "BuildKit's own gha transfers (" + runnerenv.EnvLayerAccel + "=off)"
		return func() {}
	}
	in := containerAction(r.renv.Workspace)
	own := ""
	if in {
		own = ownAddress()
	}
	host, fallback := accelReach(info, ep.Address, in, own)
	if fallback != "" {
		r.res.LayerTransfer = "BuildKit's own gha transfers: " + fallback
		r.rep.Infof("layer cache: not accelerated: %s", fallback)
		return func() {}
	}
	p, err := ghaaccel.Start(net.JoinHostPort(host, "0"), ghaaccel.Options{
		Upstream:        r.plan.CacheService.URL,
		StreamDownloads: r.renv.LayerAccel == runnerenv.LayerAccelUploads,
		Logf:            r.rep.Infof,
	})
	if err != nil {
		r.res.LayerTransfer = "BuildKit's own gha transfers: " + cacheservice.Redact(err.Error())
		r.rep.Infof("layer cache: not accelerated: %v", err)
		return func() {}
	}
	local := p.URL(host)
	for _, l := range [][]client.CacheOptionsEntry{r.plan.Request.CacheImports, r.plan.Request.CacheExports} {
		for _, e := range l {
			if e.Type == "gha" && strings.TrimRight(e.Attrs["url_v2"], "/") == strings.TrimRight(r.plan.CacheService.URL, "/") && e.Attrs["version"] != "1" {
				e.Attrs["url_v2"] = local // Attrs is the entry's own map: the request sees it
			}
		}
	}
	how := "parallel blocks and ranges"
	if r.renv.LayerAccel == runnerenv.LayerAccelUploads {
		how = "parallel blocks; downloads streamed (" + runnerenv.EnvLayerAccel + "=uploads)"
	}
	r.rep.Infof("layer cache: accelerated through %s (%s to the cache's storage)", local, how)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_ = p.Close(ctx)
		st := p.Stats()
		if r.renv.LayerAccel != runnerenv.LayerAccelUploads && st.DownloadWay != "" {
			// What the first big blob's rate chose (ghaaccel downloadWay).
			how = fmt.Sprintf("parallel blocks; downloads in %s (one connection: %s/s)", st.DownloadWay, report.Bytes(st.ProbedRate))
		}
		r.res.LayerTransfer = "accelerated: " + how
		r.res.LayerBytesKnown = true
		r.res.LayerUploadedBytes, r.res.LayerDownloadedBytes = st.UploadedBytes, st.DownloadedBytes
		r.res.LayerRateLimitWaits, r.res.LayerRateLimitWait = st.RateLimitWaits, st.RateLimitWait
		if st.RateLimitWaits > 0 {
			r.res.Hints = append(r.res.Hints, "layer cache paced: the cache service limited uploads; waited "+fmt.Sprintf("%.1fs", st.RateLimitWait.Seconds())+" in all as its Retry-After asked")
		}
	}
}
