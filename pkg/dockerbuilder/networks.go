package dockerbuilder

import (
	"context"
	"sort"
	"time"

	dockerclient "github.com/moby/moby/client"
)

// Networks is where a container sits on Docker's networks: whether it shares the host's
// network namespace, else its address on each network it is attached to. It tells whether
// the builder container reaches a server in the action's own container: a host-network
// builder reaches every bridge address of the host, a bridged one only the networks it is
// attached to. That matters because actions/runner starts container actions on the job's
// own network (github_network_<guid>) whenever the job has a container or services
// (src/Runner.Worker/ContainerOperationProvider.cs, Handlers/ContainerActionHandler.cs),
// and Docker isolates bridge networks from each other, while setup-buildx-action's
// docker-container builder sits on the default bridge.
type Networks struct {
	Known bool // the container was inspected
	Host  bool // network mode host
	// Attached are the networks the container is on, by name, sorted by name.
	Attached []Attachment
}

// Attachment is a container's endpoint on one network.
type Attachment struct {
	Name, ID, IP string
}

// Shared returns the address of self on a network both self and n are attached to, and
// that network's name ("" when they share none). The default bridge comes first: it is
// where both sit when the job has no container and no services.
func (n Networks) Shared(self Networks) (ip, network string) {
	for _, prefer := range []bool{true, false} {
		for _, s := range self.Attached {
			if (s.Name == "bridge") != prefer || s.IP == "" {
				continue
			}
			for _, b := range n.Attached {
				if b.ID == s.ID && b.ID != "" {
					return s.IP, s.Name
				}
			}
		}
	}
	return "", ""
}

// Names lists the names of the networks the container is attached to.
func (n Networks) Names() []string {
	out := make([]string, 0, len(n.Attached))
	for _, a := range n.Attached {
		out = append(out, a.Name)
	}
	return out
}

// networksOf inspects a container's networks; an unknown container (or any error) gives
// Networks{} (Known false), for the caller to decide without it.
func networksOf(ctx context.Context, d *dockerclient.Client, name string) Networks {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := d.ContainerInspect(ctx, name, dockerclient.ContainerInspectOptions{})
	if err != nil {
		return Networks{}
	}
	c := res.Container
	n := Networks{Known: true}
	if c.HostConfig != nil && c.HostConfig.NetworkMode.IsHost() {
		n.Host = true
		return n
	}
	if c.NetworkSettings == nil {
		return n
	}
	for name, ep := range c.NetworkSettings.Networks {
		if ep == nil {
			continue
		}
		a := Attachment{Name: name, ID: ep.NetworkID}
		if ep.IPAddress.IsValid() {
			a.IP = ep.IPAddress.String()
		}
		n.Attached = append(n.Attached, a)
	}
	sort.Slice(n.Attached, func(i, j int) bool { return n.Attached[i].Name < n.Attached[j].Name })
	return n
}
