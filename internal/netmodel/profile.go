// Package netmodel puts a network between the benchmarks and the local cache storage: a
// TCP relay that adds a round-trip time to every exchange and caps each connection's and
// the total bandwidth, with named profiles for where a runner sits relative to the
// Actions cache's blob storage. Benchmarks only; nothing in the action imports it.
package netmodel

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Profile is a network between a runner and the cache storage.
type Profile struct {
	Name string
	// RTT is the round-trip time: every byte reaches the other side RTT/2 after it was
	// sent, so a request answered at once costs one RTT.
	RTT time.Duration
	// SetupRTTs is how many round trips a new connection costs before its first request
	// leaves: 1 for TCP's handshake, plus 1 for TLS 1.3's (the storage is HTTPS).
	SetupRTTs int
	// PerConn and Total cap the bytes per second of one connection, each way, and of all
	// connections together, each way. Zero is no cap.
	PerConn int64
	Total   int64
	// Basis says which public figures the numbers rest on.
	Basis string
}

const mb = 1_000_000 // the profiles are in MB/s as network figures are, not MiB/s

// Loopback is the bench as it has been: Azurite on 127.0.0.1, nothing added.
var Loopback = Profile{
	Name:  "loopback",
	Basis: "nothing added: the storage is Azurite on 127.0.0.1, as in every result before issue 16",
}

// Near is a GitHub-hosted runner and the cache storage in the same Azure region.
//
//   - RTT 2 ms: Azure measures about 1 ms between VMs in one region and 1.5 ms across its
//     availability zones (simonpainter.com/azure-latency-1: same AZ 0.9 ms, cross AZ
//     1.6 ms; Microsoft's "Azure network round-trip latency statistics",
//     learn.microsoft.com/azure/networking/azure-network-latency, lists 3-5 ms for the
//     nearest region pairs); the storage front end and the TLS termination add to a VM's
//     ping, so 2 ms.
//   - 100 MB/s per connection, 400 MB/s in all: the figures; neither GitHub nor
//     Azure publishes a per-connection number. A single block blob has no target of its
//     own below the account's ("Up to storage account ingress/egress limits",
//     learn.microsoft.com/azure/storage/blobs/scalability-targets), GitHub does not name
//     its runners' VM size, and Azure's general-purpose v5 sizes with 2-4 vCPUs are
//     listed with up to 12.5 Gbit/s (learn.microsoft.com/azure/virtual-machines/sizes).
//     So the link is not the limit; one HTTP stream is held to the order of 100 MB/s by
//     TCP and the client's CPU, and a few streams by the runner's share of its host.
var Near = Profile{
	Name:      "near",
	RTT:       2 * time.Millisecond,
	SetupRTTs: 2,
	PerConn:   100 * mb,
	Total:     400 * mb,
	Basis:     "hosted runner, storage in its region: 2 ms RTT (Azure intra-region, ThousandEyes/Microsoft latency tables), ~100 MB/s per connection, ~400 MB/s in all (a 2-4 vCPU Azure VM's share of its NIC)",
}

// Far is a self-hosted runner in another region than the repository's cache storage.
//
//   - RTT 30 ms: Microsoft's latency table (learn.microsoft.com/azure/networking/
//     azure-network-latency) gives 5 to 72 ms between North American regions and 3 to
//     28 ms within Europe; 30 ms is e.g. East US to Central US, or a runner on an
//     office or colo line to the nearest region.
//   - 30 MB/s per connection: one TCP stream carries at most its window per round trip;
//     a 1 MiB window (a common Linux autotuned size on a path with loss) over 30 ms is
//     about 35 MB/s.
//   - 125 MB/s in all: a 1 Gbit/s uplink, the usual NIC of a self-hosted runner, so more
//     than four parallel streams buy nothing.
var Far = Profile{
	Name:      "far",
	RTT:       30 * time.Millisecond,
	SetupRTTs: 2,
	PerConn:   30 * mb,
	Total:     125 * mb,
	Basis:     "self-hosted runner in another region: 30 ms RTT (Azure inter-region, e.g. East US-Central US), ~30 MB/s per connection (a 1 MiB TCP window per 30 ms), ~125 MB/s in all (a 1 Gbit/s uplink)",
}

// Profiles are the named profiles, in the order the bench runs them.
var Profiles = []Profile{Loopback, Near, Far}

// ByName returns the profile called name.
func ByName(name string) (Profile, error) {
	i := slices.IndexFunc(Profiles, func(p Profile) bool { return p.Name == name })
	if i < 0 {
		names := make([]string, len(Profiles))
		for j, p := range Profiles {
			names[j] = p.Name
		}
		return Profile{}, fmt.Errorf("network profile %q: want one of %s", name, strings.Join(names, ", "))
	}
	return Profiles[i], nil
}

// String is the profile in one line, for logs and result tables.
func (p Profile) String() string {
	if p.RTT == 0 && p.PerConn == 0 && p.Total == 0 {
		return p.Name + " (nothing added)"
	}
	return fmt.Sprintf("%s (RTT %s, %s per connection, %s in all)", p.Name, p.RTT, rate(p.PerConn), rate(p.Total))
}

func rate(n int64) string {
	if n == 0 {
		return "no cap"
	}
	return fmt.Sprintf("%g MB/s", float64(n)/mb)
}
