package dockerbuilder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// writeStore writes a builder record as buildx does: json.Marshal of store.NodeGroup into
// instances/<name> (docker/buildx store/store.go Save), the node's TLS files as the remote
// driver's cacert/cert/key options where setup-buildx-action writes them
// (docker/actions-toolkit src/buildx/buildx.ts resolveCertsDriverOpts).
func writeStore(t *testing.T, name, record string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "instances"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "instances", name), []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

const remoteRecord = `{"Name":"remote-bk","Driver":"remote","Nodes":[{"Name":"remote-bk0","Endpoint":"tcp://buildkitd.example:1234","Platforms":null,` +
	`"DriverOpts":{"cacert":"/home/runner/work/_temp/docker/buildx/certs/cacert_buildkitd.example-1234.pem","cert":"/home/runner/work/_temp/docker/buildx/certs/cert_buildkitd.example-1234.pem","key":"/home/runner/work/_temp/docker/buildx/certs/key_buildkitd.example-1234.pem"},"Flags":null,"Files":null}],"Dynamic":false}`

const kubeRecord = `{"Name":"kube","Driver":"kubernetes","Nodes":[{"Name":"kube0","Endpoint":"kubernetes:///kube?deployment=kube0&kubeconfig=","Platforms":null,"DriverOpts":{"namespace":"ci","replicas":"2"},"Flags":null,"Files":null}],"Dynamic":false}`

// noDocker is an Env whose Docker socket does not exist: a remote or kubernetes builder must
// be answered without asking Docker anything.
func noDocker(t *testing.T) Env {
	return Env{DockerHost: "unix://" + filepath.Join(t.TempDir(), "no-docker.sock")}
}

func builderError(t *testing.T, err error) string {
	t.Helper()
	var ie *inputs.Error
	if !errors.As(err, &ie) || ie.Input != "builder" {
		t.Fatalf("want an input error on builder, got %T %v", err, err)
	}
	return ie.Problem
}

func TestRemoteDriverBuilderSaysToPassItsEndpointAndCertificates(t *testing.T) {
	dir := writeStore(t, "remote-bk", remoteRecord)
	_, _, err := Resolve(ctxT(t), Options{Builder: "Remote-BK", BuildxDir: dir, Env: noDocker(t)})
	msg := builderError(t, err)
	for _, want := range []string{
		`"Remote-BK" is a builder of buildx's remote driver`,
		"endpoint: ${{ fromJSON(steps.buildx.outputs.nodes)[0].endpoint }}",
		"(here tcp://buildkitd.example:1234)",
		"endpoint-tls-dir", "ca.pem, cert.pem and key.pem",
		"cacert=/home/runner/work/_temp/docker/buildx/certs/cacert_buildkitd.example-1234.pem",
		"BUILDER_NODE_0_AUTH_TLS_CACERT",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "Docker socket") {
		t.Errorf("a remote builder needs no Docker: %s", msg)
	}
}

func TestKubernetesDriverBuilderSaysToExposeItAsATCPService(t *testing.T) {
	dir := writeStore(t, "kube", kubeRecord)
	_, _, err := Resolve(ctxT(t), Options{Builder: "kube", BuildxDir: dir, Env: noDocker(t)})
	msg := builderError(t, err)
	for _, want := range []string{"kubernetes driver", "Kubernetes API", "endpoint: tcp://buildkitd.NAMESPACE.svc:1234", "endpoint-tls-dir", "examples/kubernetes"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

// Without buildx's store in sight (a container action whose job does not set DOCKER_CONFIG
// under runner.temp), a name with no container still says what to do for remote and
// kubernetes builders.
func TestUnknownBuilderWithoutAStoreMentionsTheRemoteWay(t *testing.T) {
	d := newFakeDocker(t)
	_, _, err := Resolve(ctxT(t), Options{Builder: "remote-bk", BuildxDir: t.TempDir(), Env: d.env(nil)})
	msg := builderError(t, err)
	for _, want := range []string{"no docker-container builder", "remote driver", "endpoint: ${{ fromJSON(steps.buildx.outputs.nodes)[0].endpoint }}", "kubernetes driver"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

// A docker-container builder in the store goes on to its container as before.
func TestDockerContainerBuilderInTheStoreIsUsed(t *testing.T) {
	d := newFakeDocker(t)
	d.addContainer("buildx_buildkit_builder-5e1f0", DefaultImage, true)
	dir := writeStore(t, "builder-5e1f", `{"Name":"builder-5e1f","Driver":"docker-container","Nodes":[{"Name":"builder-5e1f0","Endpoint":"unix:///var/run/docker.sock"}]}`)
	_, info, err := Resolve(ctxT(t), Options{Builder: "builder-5e1f", BuildxDir: dir, Env: d.env(nil)})
	if err != nil || info.Container != "buildx_buildkit_builder-5e1f0" {
		t.Fatalf("info %+v, err %v", info, err)
	}
}

func TestCorruptStoreRecordIsNamedNotFatal(t *testing.T) {
	d := newFakeDocker(t)
	dir := writeStore(t, "x", `{"Name":`)
	_, _, err := Resolve(ctxT(t), Options{Builder: "x", BuildxDir: dir, Env: d.env(nil)})
	if msg := builderError(t, err); !strings.Contains(msg, "buildx's store could not be read") {
		t.Errorf("message: %s", msg)
	}
}

func TestBuildxDirFollowsBuildxConfigThenDockerConfig(t *testing.T) {
	for _, c := range []struct{ bc, dc, want string }{
		{"/b", "/d", "/b"},
		{"", "/github/runner_temp/docker", "/github/runner_temp/docker/buildx"},
		{"", "", ""},
	} {
		if got := BuildxDir(c.bc, c.dc); got != c.want {
			t.Errorf("BuildxDir(%q, %q) = %q, want %q", c.bc, c.dc, got, c.want)
		}
	}
}

// A name that is no builder name is never used as a path into the store.
func TestBuilderNameIsNotAPathIntoTheStore(t *testing.T) {
	dir := t.TempDir()
	writeFile := func(p, c string) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(c), 0o600)
	}
	writeFile(filepath.Join(dir, "outside"), kubeRecord)
	_, _, err := Resolve(ctxT(t), Options{Builder: "../../outside", BuildxDir: filepath.Join(dir, "store"), Env: noDocker(t)})
	if err == nil || strings.Contains(err.Error(), "kubernetes driver:") {
		t.Errorf("the store was read through ../: %v", err)
	}
}

// On a runner without Docker (a self-hosted runner pointed at a remote daemon), a builder
// name buildx's store cannot tell about still gets the remote way in the error.
func TestBuilderWithoutDockerMentionsTheRemoteWay(t *testing.T) {
	_, _, err := Resolve(ctxT(t), Options{Builder: "remote-bk", Env: noDocker(t)})
	if err == nil || !strings.Contains(err.Error(), "fromJSON(steps.buildx.outputs.nodes)[0].endpoint") {
		t.Errorf("got %v", err)
	}
}
