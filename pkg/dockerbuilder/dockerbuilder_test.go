package dockerbuilder

import (
	"bufio"
	"context"
	"errors"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// workersOK plays `buildctl debug workers` answering.
func workersOK(_ io.Reader, stdout, _ io.Writer) int {
	io.WriteString(stdout, "ID  PLATFORMS\nabc linux/amd64\n")
	return 0
}

// echoStdio plays `buildctl dial-stdio` as a line echo server, standing in for buildkitd.
func echoStdio(stdin io.Reader, stdout, _ io.Writer) int {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		io.WriteString(stdout, "echo: "+sc.Text()+"\n")
	}
	return 0
}

func TestPlainEndpointsPassThroughWithoutDocker(t *testing.T) {
	ep, info, err := Resolve(ctxT(t), Options{Endpoint: "tcp://buildkitd:1234", TLSDir: "/certs",
		Env: Env{DockerHost: "unix:///nonexistent/docker.sock"}})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Address != "tcp://buildkitd:1234" || ep.TLSDir != "/certs" || ep.Dialer != nil || info.Mode != ModeEndpoint {
		t.Errorf("got %+v %+v, want the tcp endpoint untouched", ep, info)
	}
}

func TestNoDockerSocketSaysWhatToDo(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "docker.sock")
	_, _, err := Resolve(ctxT(t), Options{Env: Env{DockerHost: "unix://" + missing}})
	if err == nil {
		t.Fatal("want an error without a Docker socket")
	}
	for _, want := range []string{"no Docker socket at " + missing, "/var/run/docker.sock", "endpoint"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestBuilderNotFoundListsTheBuildersThatExist(t *testing.T) {
	d := newFakeDocker(t)
	d.addContainer("buildx_buildkit_builder-5e1f0", DefaultImage, true)
	d.addContainer("buildx_buildkit_other0", DefaultImage, false)
	d.addContainer("buildx_buildkit_builder-15340", DefaultImage, true) // names may end in digits
	d.addContainer("buildx_buildkit_other1", DefaultImage, true)        // a second node, same builder
	d.addContainer("postgres", "postgres:16", true)
	_, _, err := Resolve(ctxT(t), Options{Builder: "builder-typo", Env: d.env(nil)})
	var inErr *inputs.Error
	if !errors.As(err, &inErr) || inErr.Input != "builder" {
		t.Fatalf("want an input error on builder, got %v", err)
	}
	for _, want := range []string{`"builder-typo"`, "buildx_buildkit_builder-typo0", "builders here: builder-1534, builder-5e1f, other", "driver: docker-container"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "postgres") {
		t.Errorf("error lists a container that is no builder: %v", err)
	}
}

func TestDockerDriverBuilderIsRefusedByName(t *testing.T) {
	d := newFakeDocker(t)
	_, _, err := Resolve(ctxT(t), Options{Builder: "default", Env: d.env(nil)})
	var inErr *inputs.Error
	if !errors.As(err, &inErr) || inErr.Input != "builder" {
		t.Fatalf("want an input error on builder, got %v", err)
	}
	for _, want := range []string{"docker driver", "cannot export the gha layer cache", "driver: docker-container"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// The connection Resolve hands to the BuildKit client is `buildctl dial-stdio` in the
// builder's container: bytes written reach its stdin, its stdout comes back unframed.
func TestBuilderIsDialedThroughDialStdioInItsContainer(t *testing.T) {
	d := newFakeDocker(t)
	d.addContainer("buildx_buildkit_builder-5e1f0", DefaultImage, true)
	d.commands["buildctl dial-stdio"] = echoStdio
	ep, info, err := Resolve(ctxT(t), Options{Builder: "builder-5e1f", Env: d.env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode != ModeBuilder || info.Container != "buildx_buildkit_builder-5e1f0" || ep.Dialer == nil {
		t.Fatalf("got %+v %+v", ep, info)
	}
	if ep.Address != "docker-container://buildx_buildkit_builder-5e1f0" {
		t.Errorf("address %q", ep.Address)
	}
	conn, err := ep.Dialer(ctxT(t), ep.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	for _, msg := range []string{"hello", strings.Repeat("x", 70000)} {
		if _, err := io.WriteString(conn, msg+"\n"); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err != nil || got != "echo: "+msg+"\n" {
			t.Fatalf("round trip of %d bytes: got %d bytes, %v", len(msg), len(got), err)
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.execs) != 1 || d.execs["exec1"].Container != "buildx_buildkit_builder-5e1f0" {
		t.Errorf("execs %+v", d.execs)
	}
}

func TestDialStdioFailureCarriesItsStderr(t *testing.T) {
	d := newFakeDocker(t)
	d.addContainer("bk", "not-buildkit", true)
	ep, _, err := Resolve(ctxT(t), Options{Endpoint: "docker-container://bk", Env: d.env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ep.Dialer(ctxT(t), ep.Address)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = io.ReadAll(conn)
	if err == nil || !strings.Contains(err.Error(), "buildctl dial-stdio: not found") {
		t.Errorf("read error %v, want the command's stderr", err)
	}
}

func TestEndpointContainerThatDoesNotExist(t *testing.T) {
	d := newFakeDocker(t)
	_, _, err := Resolve(ctxT(t), Options{Endpoint: "docker-container://nope", Env: d.env(nil)})
	var inErr *inputs.Error
	if !errors.As(err, &inErr) || inErr.Input != "endpoint" || !strings.Contains(err.Error(), `no container "nope"`) {
		t.Fatalf("want an input error on endpoint naming the container, got %v", err)
	}
}

func TestStoppedBuilderIsStartedAndWaitedFor(t *testing.T) {
	d := newFakeDocker(t)
	d.addContainer("buildx_buildkit_b0", DefaultImage, false)
	d.commands["buildctl debug workers"] = workersOK
	_, info, err := Resolve(ctxT(t), Options{Builder: "b", Env: d.env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Started || !slices.Equal(d.started, []string{"buildx_buildkit_b0"}) {
		t.Errorf("started=%v, Docker started %v", info.Started, d.started)
	}
}

func TestOwnBuilderIsCreatedLikeSetupBuildxDoes(t *testing.T) {
	d := newFakeDocker(t)
	d.images[DefaultImage] = true
	d.commands["buildctl debug workers"] = workersOK
	var log []string
	_, info, err := Resolve(ctxT(t), Options{Env: d.env(nil), Logf: func(f string, a ...any) { log = append(log, f) }})
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode != ModeCreated || info.Builder != "warmbuild" || info.Container != "buildx_buildkit_warmbuild0" || !info.Started {
		t.Errorf("info %+v", info)
	}
	if len(d.created) != 1 {
		t.Fatalf("created %d containers", len(d.created))
	}
	c := d.created[0]
	if c.Config.Image != DefaultImage || !c.HostConfig.Privileged || c.HostConfig.RestartPolicy.Name != "unless-stopped" {
		t.Errorf("config %+v host %+v: want the default image, privileged, restart unless-stopped", c.Config, c.HostConfig)
	}
	if len(c.HostConfig.Mounts) != 1 || c.HostConfig.Mounts[0].Source != "buildx_buildkit_warmbuild0_state" || c.HostConfig.Mounts[0].Target != "/var/lib/buildkit" {
		t.Errorf("mounts %+v: want the state volume on /var/lib/buildkit", c.HostConfig.Mounts)
	}

	// A later step finds it again instead of creating another.
	_, again, err := Resolve(ctxT(t), Options{Env: d.env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if again.Mode != ModeReused || again.Container != info.Container || len(d.created) != 1 {
		t.Errorf("second step: %+v, %d creates", again, len(d.created))
	}
}

func TestOwnBuilderSecurityAndNetworkKnobs(t *testing.T) {
	d := newFakeDocker(t)
	d.images["example/buildkit:test"] = true
	d.commands["buildctl debug workers"] = workersOK
	_, info, err := Resolve(ctxT(t), Options{Image: "example/buildkit:test",
		Env: d.env(map[string]string{EnvSecurity: "unconfined", EnvNetwork: "host"})})
	if err != nil {
		t.Fatal(err)
	}
	if info.Builder == "warmbuild" || !strings.HasPrefix(info.Builder, "warmbuild-") {
		t.Errorf("another image must get a builder of its own, got %q", info.Builder)
	}
	hc := d.created[0].HostConfig
	if hc.Privileged || !slices.Contains(hc.CapAdd, "ALL") || !(slices.Contains(hc.CapDrop, "SYS_RESOURCE") || slices.Contains(hc.CapDrop, "CAP_SYS_RESOURCE")) ||
		!slices.Contains(hc.SecurityOpt, "seccomp=unconfined") || hc.MaskedPaths == nil || len(hc.MaskedPaths) > 0 || string(hc.NetworkMode) != "host" {
		t.Errorf("host config %+v", hc)
	}
	_, _, err = Resolve(ctxT(t), Options{Image: "other/buildkit", Env: d.env(map[string]string{EnvSecurity: "lax"})})
	if err == nil || !strings.Contains(err.Error(), EnvSecurity) {
		t.Errorf("a bad %s must be refused by name, got %v", EnvSecurity, err)
	}
}

func TestBuilderThatNeverAnswersFailsWithinTheWindow(t *testing.T) {
	d := newFakeDocker(t)
	d.addContainer("buildx_buildkit_b0", DefaultImage, false)
	d.commands["buildctl debug workers"] = func(_ io.Reader, _, stderr io.Writer) int {
		io.WriteString(stderr, "connection refused\n")
		return 1
	}
	start := time.Now()
	_, _, err := Resolve(ctxT(t), Options{Builder: "b", Env: d.env(nil), readyWindow: time.Second})
	for _, want := range []string{"not ready after 1s", "connection refused", "container log:\nbuildkitd: no worker"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("gave up after %s", el)
	}
}

// Where Docker cannot start a privileged container, and nobody asked for privileged, the
// builder is made again without it instead of failing the step.
func TestOwnBuilderFallsBackWhenPrivilegedIsRefused(t *testing.T) {
	d := newFakeDocker(t)
	d.images[DefaultImage] = true
	d.refusePrivileged = true
	d.commands["buildctl debug workers"] = workersOK
	_, info, err := Resolve(ctxT(t), Options{Env: d.env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode != ModeCreated || len(d.created) != 2 || !d.created[0].HostConfig.Privileged || d.created[1].HostConfig.Privileged {
		t.Fatalf("want a privileged attempt then an unprivileged builder; info %+v, %d creates", info, len(d.created))
	}
	if !slices.Equal(d.removed, []string{"buildx_buildkit_warmbuild0"}) || string(d.created[1].HostConfig.NetworkMode) != "host" {
		t.Errorf("removed %v, network %q", d.removed, d.created[1].HostConfig.NetworkMode)
	}

	// Asked for explicitly, privileged is not silently dropped.
	d2 := newFakeDocker(t)
	d2.images[DefaultImage] = true
	d2.refusePrivileged = true
	_, _, err = Resolve(ctxT(t), Options{Env: d2.env(map[string]string{EnvSecurity: "privileged"})})
	if err == nil || !strings.Contains(err.Error(), "unable to apply caps") {
		t.Errorf("explicit privileged on a host that refuses it: got %v", err)
	}
}

// Info says where the builder and the action's own container sit on Docker's networks,
// for the accelerator to know whether the builder reaches the action's container.
func TestResolveSaysWhichNetworksTheBuilderAndTheActionAreOn(t *testing.T) {
	d := newFakeDocker(t)
	d.addContainer("buildx_buildkit_builder-5e1f0", DefaultImage, true)
	d.addContainer("0a1b2c3d4e5f", "warmbuild", true)
	d.mu.Lock()
	d.containers["buildx_buildkit_builder-5e1f0"].Networks = map[string]Attachment{"bridge": {ID: "b1", IP: "172.17.0.2"}}
	d.containers["0a1b2c3d4e5f"].Networks = map[string]Attachment{"github_network_5f2e": {ID: "n9", IP: "172.18.0.3"}}
	d.mu.Unlock()
	d.commands["buildctl dial-stdio"] = echoStdio
	_, info, err := Resolve(ctxT(t), Options{Builder: "builder-5e1f", Self: "0a1b2c3d4e5f", Env: d.env(nil)})
	if err != nil {
		t.Fatal(err)
	}
	if !info.Net.Known || info.Net.Host || len(info.Net.Attached) != 1 || info.Net.Attached[0] != (Attachment{Name: "bridge", ID: "b1", IP: "172.17.0.2"}) {
		t.Errorf("builder networks %+v", info.Net)
	}
	if !info.Self.Known || len(info.Self.Attached) != 1 || info.Self.Attached[0].IP != "172.18.0.3" {
		t.Errorf("the action's networks %+v", info.Self)
	}
	if ip, _ := info.Net.Shared(info.Self); ip != "" {
		t.Errorf("the bridge and the job's network share nothing, got %q", ip)
	}

	// Not asked (the action runs on the host), or not a container here: not known.
	_, info, err = Resolve(ctxT(t), Options{Builder: "builder-5e1f", Self: "not-a-container", Env: d.env(nil)})
	if err != nil || info.Self.Known {
		t.Errorf("an unknown container gave %+v, %v", info.Self, err)
	}
	d.mu.Lock()
	d.containers["buildx_buildkit_builder-5e1f0"].HostNetwork = true
	d.mu.Unlock()
	if _, info, _ = Resolve(ctxT(t), Options{Builder: "builder-5e1f", Env: d.env(nil)}); !info.Net.Host {
		t.Errorf("a host-network builder: %+v", info.Net)
	}
}
