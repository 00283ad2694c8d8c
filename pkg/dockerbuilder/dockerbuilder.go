// Package dockerbuilder finds the BuildKit daemon to build on when it lives in a Docker
// container, the way it does on GitHub's runners: the action runs in its own container with
// the host's Docker socket mounted and HOME=/github/home, so the host's buildx configuration is
// invisible and only the Docker API is left to find builders with.
//
// Three ways in, all through the Docker API (no docker or buildx binary in the image):
//   - input builder: the name docker/setup-buildx-action outputs; its docker-container
//     builder is the container buildx_buildkit_<name>0;
//   - endpoint docker-container://NAME: that container;
//   - neither: a docker-container builder warmbuild creates (or finds again by its stable
//     name) as setup-buildx-action would, and leaves running for later steps of the job.
//
// BuildKit is reached by exec'ing `buildctl dial-stdio` in the container and speaking gRPC
// over the exec's stdin/stdout, as buildx's docker-container driver does.
//
// Why not import buildx's driver packages: measured on this module (CGO_ENABLED=0, -trimpath
// -ldflags="-s -w", Nov 2026), the action binary is 20.18 MB; with
// github.com/docker/buildx/driver/docker-container linked in and used it is 22.16 MB (+1.98 MB,
// and a new module, github.com/docker/docker, in go.mod), with github.com/moby/moby/client
// doing the same calls 20.52 MB (+0.34 MB). The driver also hard-codes a privileged container,
// which some hosts refuse (see Security). So this package uses the Docker client directly and
// replicates the small part of the driver it needs, citing buildx v0.38.2's
// driver/docker-container/driver.go where it does.
package dockerbuilder

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	dockerclient "github.com/moby/moby/client"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

const (
	// containerPrefix and the trailing node index are buildx's names for a docker-container
	// builder's first node (buildx driver/driver.go BuilderName; node names are name+index).
	containerPrefix = "buildx_buildkit_"
	// stateSuffix names the volume that keeps the builder's cache across container restarts
	// (buildx driver/docker-container/driver.go volumeStateSuffix).
	stateSuffix = "_state"
	// DefaultImage is setup-buildx-action's default BuildKit image.
	DefaultImage = "moby/buildkit:buildx-stable-1"
	// AutoBuilderName is the builder warmbuild creates when given neither builder nor endpoint.
	AutoBuilderName = "warmbuild"
	// defaultDockerHost is where GitHub's runners mount the Docker socket into a container action.
	defaultDockerHost = "unix:///var/run/docker.sock"
	// labelBuilder marks containers warmbuild created, for people looking at `docker ps`.
	labelBuilder = "dev.warmbuild.builder"
)

// Environment knobs: the variables Options.Env holds (the action reads them once, in
// pkg/runnerenv).
const (
	// EnvSecurity chooses the created builder's security options: "privileged" (as buildx
	// and GitHub's runners do) or "unconfined": every capability but SYS_RESOURCE, no
	// seccomp/AppArmor profile, /sys/fs/cgroup mounted read-write, for hosts that refuse
	// privileged containers ("unable to apply caps"), such as this project's test machines.
	// Unset: privileged, falling back to unconfined when Docker cannot start it.
	EnvSecurity = "WARMBUILD_BUILDER_SECURITY"
	// EnvNetwork is the created builder's network mode; default host (see containerSpec),
	// "bridge" for Docker's default network as setup-buildx-action's builders have.
	EnvNetwork = "WARMBUILD_BUILDER_NETWORK"
	// EnvDockerHost is the Docker daemon address, as the docker CLI reads it.
	EnvDockerHost = "DOCKER_HOST"
)

// Options say where to build, straight from the inputs.
type Options struct {
	Endpoint string // input endpoint: unix://, tcp://, docker-container://NAME, or empty
	TLSDir   string // input endpoint-tls-dir
	Builder  string // input builder
	Image    string // input buildkit-image; empty means DefaultImage
	Env      Env
	// Logf, when set, receives one line per decision (found, created, started, waited).
	Logf func(format string, args ...any)
	// BuildxDir is where buildx keeps its builders (BuildxDir), read to recognise a builder
	// of the remote or kubernetes driver by its name; "" or unreadable: not consulted.
	BuildxDir string
	// Self names the container the action itself runs in (its hostname, which Docker
	// makes the container's short id), to learn its networks (Info.Self); "" when the
	// action is not a container action.
	Self string

	storeErr error // why buildx's store said nothing about Builder

	readyWindow time.Duration // tests shorten it; zero means defaultReadyWindow
}

// Env are the environment knobs, named by the Env* constants; empty fields take the defaults.
type Env struct {
	DockerHost string // EnvDockerHost; empty: the default socket
	Security   string // EnvSecurity
	Network    string // EnvNetwork
}

// Mode says how the daemon was found.
type Mode string

const (
	ModeEndpoint        Mode = "endpoint"         // a unix:// or tcp:// address, Docker not involved
	ModeDockerContainer Mode = "docker-container" // endpoint docker-container://NAME
	ModeBuilder         Mode = "builder"          // a setup-buildx-action builder
	ModeCreated         Mode = "created"          // warmbuild created its builder in this run
	ModeReused          Mode = "reused"           // warmbuild's builder from an earlier step
)

// Info describes the daemon Resolve settled on.
type Info struct {
	Mode      Mode
	Builder   string // builder name (ModeBuilder, ModeCreated, ModeReused)
	Container string // container name, when BuildKit runs in a container
	Image     string // the container's image
	Started   bool   // the container was stopped (or new) and this run started it
	// Net is where the builder container sits on Docker's networks, and Self where the
	// action's own container does (Options.Self; Known false when not asked or not a
	// container of this Docker): together they say whether the builder reaches a server
	// in the action's container.
	Net, Self Networks
}

// Resolve turns the endpoint/builder inputs into a BuildKit endpoint to connect to, finding,
// starting or creating the builder container as needed. Unix and tcp endpoints pass through
// untouched; everything else goes through the Docker API.
func Resolve(ctx context.Context, o Options) (builder.Endpoint, Info, error) {
	if o.Endpoint != "" && !strings.HasPrefix(o.Endpoint, "docker-container://") {
		return builder.Endpoint{Address: o.Endpoint, TLSDir: o.TLSDir}, Info{Mode: ModeEndpoint}, nil
	}
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if o.readyWindow == 0 {
		o.readyWindow = defaultReadyWindow
	}
	if o.Builder != "" && o.Endpoint == "" {
		var err error
		if o.storeErr, err = checkStoredBuilder(o); err != nil {
			return builder.Endpoint{}, Info{}, err
		}
	}
	host := o.Env.DockerHost
	if host == "" {
		host = defaultDockerHost
	}
	d, err := openDocker(ctx, host, o.Endpoint != "" || o.Builder != "")
	if err != nil {
		if o.Builder != "" && o.Endpoint == "" {
			err = fmt.Errorf("%w.%s", err, notFoundHint(o.storeErr))
		}
		return builder.Endpoint{}, Info{}, err
	}
	defer d.Close()

	var info Info
	switch {
	case o.Endpoint != "":
		info, err = useEndpointContainer(ctx, d, o)
	case o.Builder != "":
		info, err = useBuilder(ctx, d, o)
	default:
		info, err = useOwnBuilder(ctx, d, o)
	}
	if err != nil {
		return builder.Endpoint{}, Info{}, err
	}
	info.Net = networksOf(ctx, d, info.Container)
	if o.Self != "" {
		info.Self = networksOf(ctx, d, o.Self)
	}
	dialer := execDialer{host: host, container: info.Container}
	return builder.Endpoint{Address: "docker-container://" + info.Container, Dialer: dialer.Dial}, info, nil
}

// openDocker connects to the Docker daemon and checks it answers, with messages that say
// what to do when it is not there.
func openDocker(ctx context.Context, host string, asked bool) (*dockerclient.Client, error) {
	why := "endpoint is empty, so warmbuild creates a BuildKit builder through Docker"
	if asked {
		why = "the builder is a Docker container"
	}
	if u, err := url.Parse(host); err == nil && u.Scheme == "unix" {
		if _, err := os.Stat(u.Path); err != nil {
			return nil, fmt.Errorf("no Docker socket at %s (%s): GitHub's runners mount /var/run/docker.sock into container actions; elsewhere make Docker reachable (DOCKER_HOST) or set endpoint to a BuildKit address (unix:// or tcp://)", u.Path, why)
		}
	}
	c, err := newDockerClient(host)
	if err != nil {
		return nil, fmt.Errorf("Docker client for %s: %w", host, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := c.Ping(pingCtx, dockerclient.PingOptions{NegotiateAPIVersion: true}); err != nil {
		c.Close()
		return nil, fmt.Errorf("Docker at %s does not answer (%s): %w", host, why, err)
	}
	return c, nil
}

func newDockerClient(host string) (*dockerclient.Client, error) {
	return dockerclient.New(dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
}

// validName follows Docker's rule for container names: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
func validName(s string) bool {
	for i, r := range s {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || !strings.ContainsRune("_.-", r)) {
			return false
		}
	}
	return s != ""
}

// ContainerName is the container of a buildx docker-container builder's first node.
func ContainerName(builderName string) string { return containerPrefix + builderName + "0" }

func useEndpointContainer(ctx context.Context, d *dockerclient.Client, o Options) (Info, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Host == "" {
		return Info{}, &inputs.Error{Input: "endpoint", Problem: fmt.Sprintf("%q needs a container name, e.g. docker-container://buildx_buildkit_builder0", o.Endpoint)}
	}
	name := u.Host
	info := Info{Mode: ModeDockerContainer, Container: name}
	ctr, err := d.ContainerInspect(ctx, name, dockerclient.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return Info{}, &inputs.Error{Input: "endpoint", Problem: fmt.Sprintf("no container %q on this Docker%s", name, existingBuildersSentence(ctx, d))}
	}
	if err != nil {
		return Info{}, fmt.Errorf("inspect container %s: %w", name, err)
	}
	info.Image = ctr.Container.Config.Image
	info.Started, err = ensureRunning(ctx, d, ctr.Container, o)
	return info, err
}

func useBuilder(ctx context.Context, d *dockerclient.Client, o Options) (Info, error) {
	name := o.Builder
	if name == "default" {
		return Info{}, &inputs.Error{Input: "builder", Problem: dockerDriverProblem(name)}
	}
	if !validName(name) {
		return Info{}, &inputs.Error{Input: "builder", Problem: fmt.Sprintf("%q is not a builder name (letters, digits, '_', '.', '-'); give the name output of docker/setup-buildx-action", name)}
	}
	cname := ContainerName(name)
	info := Info{Mode: ModeBuilder, Builder: name, Container: cname}
	ctr, err := d.ContainerInspect(ctx, cname, dockerclient.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return Info{}, &inputs.Error{Input: "builder", Problem: fmt.Sprintf(
			"no docker-container builder %q on this Docker (no container %s)%s. A builder of the docker driver (setup-buildx-action with driver: docker) has no container and cannot export the gha layer cache: use driver: docker-container, setup-buildx-action's default.%s",
			name, cname, existingBuildersSentence(ctx, d), notFoundHint(o.storeErr))}
	}
	if err != nil {
		return Info{}, fmt.Errorf("inspect builder container %s: %w", cname, err)
	}
	info.Image = ctr.Container.Config.Image
	o.Logf("Builder %s: container %s (%s)", name, cname, info.Image)
	info.Started, err = ensureRunning(ctx, d, ctr.Container, o)
	return info, err
}

func dockerDriverProblem(name string) string {
	return fmt.Sprintf("%q is a builder of the docker driver (Docker's built-in BuildKit), which cannot export the gha layer cache; use docker/setup-buildx-action with driver: docker-container (its default) and pass its name output, or leave builder empty and warmbuild creates a docker-container builder", name)
}

// existingBuildersSentence lists the docker-container builders Docker has, for error messages.
func existingBuildersSentence(ctx context.Context, d *dockerclient.Client) string {
	names, err := ExistingBuilders(ctx, d)
	switch {
	case err != nil:
		return ""
	case len(names) == 0:
		return "; there are no docker-container builders on this Docker"
	default:
		return "; builders here: " + strings.Join(names, ", ")
	}
}

// ExistingBuilders lists the names of the docker-container builders whose containers Docker
// has (running or not), derived from buildx's container names.
func ExistingBuilders(ctx context.Context, d *dockerclient.Client) ([]string, error) {
	listCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := d.ContainerList(listCtx, dockerclient.ContainerListOptions{
		All:     true,
		Filters: make(dockerclient.Filters).Add("name", containerPrefix),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var names []string
	for _, c := range res.Items {
		for _, n := range c.Names {
			n = strings.TrimPrefix(n, "/")
			if !strings.HasPrefix(n, containerPrefix) {
				continue
			}
			// Every builder has a node 0; its name may itself end in digits (builder-1e53).
			if b, ok := strings.CutSuffix(strings.TrimPrefix(n, containerPrefix), "0"); ok && b != "" {
				names = append(names, b)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// ensureRunning starts a stopped builder container (as buildx boots an inactive node) and
// waits until BuildKit answers in a container that started moments ago.
func ensureRunning(ctx context.Context, d *dockerclient.Client, ctr container.InspectResponse, o Options) (bool, error) {
	name := strings.TrimPrefix(ctr.Name, "/")
	started := false
	if ctr.State == nil || !ctr.State.Running {
		o.Logf("Starting stopped container %s", name)
		if _, err := d.ContainerStart(ctx, name, dockerclient.ContainerStartOptions{}); err != nil {
			return false, fmt.Errorf("start builder container %s: %w", name, err)
		}
		started = true
	} else if t, err := time.Parse(time.RFC3339Nano, ctr.State.StartedAt); err == nil && time.Since(t) > o.readyWindow {
		// Docker reports "running" before buildkitd has bound its socket; past the start-up
		// window, a builder that does not answer is broken and Connect says so promptly
		// (buildx driver/docker-container/driver.go clientWaitReady).
		return false, nil
	}
	return started, waitReady(ctx, d, name, o.readyWindow)
}

// defaultReadyWindow is how long after its start a builder may still be getting ready
// (buildx's buildkitdStartupWindow).
const defaultReadyWindow = 20 * time.Second

// waitReady polls `buildctl debug workers` in the container until it succeeds, as buildx's
// driver does after starting a node (driver/docker-container/driver.go wait), within window.
func waitReady(ctx context.Context, d *dockerclient.Client, name string, window time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var last error
	for try := 1; ; try++ {
		out, err := execOutput(ctx, d, name, []string{"buildctl", "debug", "workers"})
		if err == nil {
			return nil
		}
		if ctx.Err() != nil && last != nil {
			// Cut short by the deadline: the previous attempt's answer says more.
			err = last
		} else if out != "" {
			err = fmt.Errorf("%w: %s", err, strings.TrimSpace(out))
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("BuildKit in container %s is not ready after %s: %w%s", name, window, last, containerLogTail(context.WithoutCancel(ctx), d, name))
		case <-time.After(time.Duration(min(try, 10)*120) * time.Millisecond):
		}
	}
}
