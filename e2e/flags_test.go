//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
)

// listKeys asks the agent at SSH_AUTH_SOCK for its identities with the agent protocol
// (SSH_AGENTC_REQUEST_IDENTITIES, RFC draft-miller-ssh-agent) and prints each key's SHA256
// fingerprint the way ssh-keygen -l does: the stack's base image has python3, not ssh-add.
const listKeys = `import base64, hashlib, os, socket, struct, sys
s = socket.socket(socket.AF_UNIX)
s.connect(os.environ["SSH_AUTH_SOCK"])
s.sendall(struct.pack(">IB", 1, 11))
def read(n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            sys.exit("the agent closed the connection")
        b += c
    return b
msg = read(struct.unpack(">I", read(4))[0])
assert msg[0] == 12, msg[0]
off = 5
for _ in range(struct.unpack(">I", msg[1:5])[0]):
    n = struct.unpack(">I", msg[off:off+4])[0]; blob = msg[off+4:off+4+n]; off += 4 + n
    n = struct.unpack(">I", msg[off:off+4])[0]; off += 4 + n
    print(sys.argv[1], "KEY SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("="))
`

// sshAgent starts a real ssh-agent (Debian's openssh-client) listening on sock, holding a
// new ed25519 key, and returns that key's fingerprint.
func sshAgent(t *testing.T, sock string) string {
	t.Helper()
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatalf("ssh-agent (scripts/stack/apt.sh installs openssh-client): %v", err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-agent did not listen on %s", sock)
		}
	}
	key := sshKey(t, "agent-key")
	add := exec.Command("ssh-add", key)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v\n%s", err, out)
	}
	return fingerprint(t, key)
}

// sshKey makes a passphrase-less ed25519 key with ssh-keygen and returns its path.
func sshKey(t *testing.T, name string) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return key
}

func fingerprint(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", key+".pub").Output()
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v", err)
	}
	f := strings.Fields(string(out)) // 256 SHA256:... comment (ED25519)
	if len(f) < 2 || !strings.HasPrefix(f[1], "SHA256:") {
		t.Fatalf("ssh-keygen -l printed %q", out)
	}
	return f[1]
}

func sshContext(t *testing.T) string {
	return writeContext(t, map[string]string{
		"listkeys.py": listKeys,
		"Dockerfile": "FROM python:3.11-slim\nCOPY listkeys.py /listkeys.py\n" +
			"ARG NONCE\n" +
			"RUN --mount=type=ssh echo $NONCE && python3 /listkeys.py default\n" +
			"RUN --mount=type=ssh,id=deploy python3 /listkeys.py deploy\n",
	})
}

// ssh: the agent at SSH_AUTH_SOCK (`default`) and a key file (`deploy=PATH`) answer inside
// RUN --mount=type=ssh with the keys they hold, and no private key reaches the log.
func TestSSHForwardsTheAgentAndAKeyFile(t *testing.T) {
	b := freshBuilder(t)
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agentFP := sshAgent(t, sock)
	deploy := sshKey(t, "deploy-key")
	res := runAction(t, Run{Dir: sshContext(t), Event: "push", Env: map[string]string{"SSH_AUTH_SOCK": sock}, Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "build-args": "NONCE=" + randomSuffix(),
		"ssh": "default\ndeploy=" + deploy,
	}})
	mustExit0(t, res)
	for _, want := range []string{"default KEY " + agentFP, "deploy KEY " + fingerprint(t, deploy)} {
		if !strings.Contains(res.Log, want) {
			t.Errorf("the build log lacks %q (the key listed inside RUN --mount=type=ssh):\n%s", want, tail(res.Log, 40))
		}
	}
	if strings.Contains(res.Log, "deploy KEY "+agentFP) {
		t.Errorf("id=deploy answered with the agent's key, not the key file's")
	}
	if k, _ := os.ReadFile(deploy); strings.Contains(res.Log, strings.Split(string(k), "\n")[1]) {
		t.Errorf("the private key file's content is in the log")
	}
}

// add-hosts, shm-size, ulimit and network: none are what a RUN step sees.
func TestRunStepsSeeAddHostsShmSizeUlimitAndNetwork(t *testing.T) {
	b := freshBuilder(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM python:3.11-slim AS probe\nARG NONCE\n" +
			"RUN mkdir /out && echo $NONCE && getent hosts wb-service > /out/hosts && df -k /dev/shm > /out/shm && " +
			"sh -c 'ulimit -n' > /out/nofile && python3 -c 'import socket; print(\" \".join(n for _, n in socket.if_nameindex()))' > /out/ifaces\n" +
			"FROM scratch\nCOPY --from=probe /out/ /\n",
	})
	out := t.TempDir()
	res := runAction(t, Run{Dir: dir, Event: "push", Inputs: map[string]string{
		"endpoint": b.Endpoint, "cache-backend": "none", "build-args": "NONCE=" + randomSuffix(),
		"outputs":   "type=local,dest=" + out,
		"add-hosts": "wb-service:10.180.0.7",
		"shm-size":  "256m",
		"ulimit":    "nofile=777:888",
		"network":   "none",
	}})
	mustExit0(t, res)
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatalf("the RUN step wrote no %s: %v\n%s", name, err, tail(res.Log, 30))
		}
		return strings.TrimSpace(string(b))
	}
	if h := read("hosts"); !strings.HasPrefix(h, "10.180.0.7") || !strings.Contains(h, "wb-service") {
		t.Errorf("getent hosts wb-service: %q, want 10.180.0.7 (add-hosts)", h)
	}
	if f := strings.Fields(read("shm")); len(f) < 2 || f[len(f)-5] != "262144" {
		t.Errorf("df -k /dev/shm: %q, want 262144 1K-blocks (shm-size: 256m)", f)
	}
	if n := read("nofile"); n != "777" {
		t.Errorf("ulimit -n in RUN: %q, want 777 (ulimit: nofile=777:888)", n)
	}
	if i := read("ifaces"); i != "lo" {
		t.Errorf("network interfaces in RUN: %q, want only lo (network: none)", i)
	}
}

// no-cache-filters rebuilds the named stage and keeps the cache of the others: each stage
// writes a random stamp, so equal stamps mean a step came from the cache.
func TestNoCacheFiltersRebuildOnlyTheNamedStage(t *testing.T) {
	b := freshBuilder(t)
	dir := writeContext(t, map[string]string{
		"Dockerfile": "FROM python:3.11-slim AS deps\nRUN cat /proc/sys/kernel/random/uuid > /deps\n" +
			"FROM python:3.11-slim AS test\nRUN cat /proc/sys/kernel/random/uuid > /test\n" +
			"FROM scratch\nCOPY --from=deps /deps /deps\nCOPY --from=test /test /test\n",
	})
	build := func(filters string) (deps, test string) {
		out := t.TempDir()
		res := runAction(t, Run{Dir: dir, Event: "push", Inputs: map[string]string{
			"endpoint": b.Endpoint, "cache-backend": "none", "outputs": "type=local,dest=" + out, "no-cache-filters": filters,
		}})
		mustExit0(t, res)
		d, err1 := os.ReadFile(filepath.Join(out, "deps"))
		s, err2 := os.ReadFile(filepath.Join(out, "test"))
		if err1 != nil || err2 != nil {
			t.Fatalf("stamps: %v %v", err1, err2)
		}
		return string(d), string(s)
	}
	deps1, test1 := build("")
	deps2, test2 := build("test")
	if deps2 != deps1 {
		t.Errorf("stage deps was rebuilt (stamp %q then %q); only test is in no-cache-filters", deps1, deps2)
	}
	if test2 == test1 {
		t.Errorf("stage test came from the cache (stamp %q twice); no-cache-filters: test must rebuild it", test1)
	}
}

// Run as the runner runs a container action: an agent whose socket is under $RUNNER_TEMP
// (webfactory/ssh-agent's ssh-auth-sock) reaches the build through the path the runner
// translates SSH_AUTH_SOCK to, and the builder warmbuild creates grants network.host as
// setup-buildx-action's does (network: host, allow: security.insecure); an agent socket
// the container cannot see is an error naming ssh that says how to fix it.
func TestContainerActionForwardsTheAgentFromRunnerTemp(t *testing.T) {
	host := needDocker(t)
	image := buildActionImage(t, host)
	bkImage := "warmbuild-e2e/buildkit:" + randomSuffix()
	docker(t, host, "tag", "moby/buildkit:buildx-stable-1", bkImage)
	ctr := dockerbuilder.ContainerName(dockerbuilder.OwnBuilderName(bkImage))
	t.Cleanup(func() {
		removeBuilder(t, host, ctr)
		dockerErr(host, "rmi", bkImage)
	})

	temp := t.TempDir()
	sock := filepath.Join(temp, "ssh-agent.sock")
	agentFP := sshAgent(t, sock)
	dir := writeContext(t, map[string]string{
		"listkeys.py": listKeys,
		"Dockerfile": "FROM python:3.11-slim\nCOPY listkeys.py /listkeys.py\nARG NONCE\n" +
			"RUN --mount=type=ssh echo $NONCE && python3 /listkeys.py default && " +
			"python3 -c 'import socket; print(\"IFACES\", \" \".join(n for _, n in socket.if_nameindex()))'\n",
	})
	step := ContainerRun{Image: image, Workspace: dir, RunnerTemp: temp, Run: Run{
		Event: "push", Payload: "push-default-branch.json",
		Env: pushOnMain(map[string]string{"SSH_AUTH_SOCK": sock}),
		Inputs: map[string]string{
			"buildkit-image": bkImage, "cache-backend": "none", "build-args": "NONCE=" + randomSuffix(),
			"ssh": "default", "network": "host", "allow": "security.insecure",
		},
	}}
	res := runActionContainer(t, host, step)
	mustExit0(t, res)
	if !strings.Contains(res.Log, "default KEY "+agentFP) {
		t.Errorf("the agent's key is not listed inside RUN --mount=type=ssh:\n%s", tail(res.Log, 40))
	}
	var ifaces string
	for _, l := range strings.Split(res.Log, "\n") {
		if i := strings.Index(l, "IFACES "); i >= 0 {
			ifaces = l[i+len("IFACES "):]
		}
	}
	if strings.TrimSpace(ifaces) == "lo" || ifaces == "" {
		t.Errorf("network: host: RUN saw interfaces %q, want the host's", ifaces)
	}

	// An agent under /tmp (webfactory/ssh-agent's default) is not mounted into the container.
	hidden := filepath.Join(os.TempDir(), "wb-e2e-agent-"+randomSuffix()+".sock")
	sshAgent(t, hidden)
	t.Cleanup(func() { os.Remove(hidden) })
	step.Env = pushOnMain(map[string]string{"SSH_AUTH_SOCK": hidden})
	bad := runActionContainer(t, host, step)
	if bad.ExitCode == 0 || !strings.Contains(bad.Log, "::error title=Invalid input ssh::") || !strings.Contains(bad.Log, "runner.temp") {
		t.Errorf("an agent socket outside the runner's mounts: exit %d, want an error annotation on ssh saying to use $RUNNER_TEMP:\n%s", bad.ExitCode, tail(bad.Log, 20))
	}
	if bytes.Contains([]byte(bad.Log), []byte("goroutine ")) {
		t.Errorf("stack trace in the log")
	}
}

// network: host on a BuildKit daemon started without --allow-insecure-entitlement (the
// stack's, as a self-managed one might be) fails the build with BuildKit's refusal, the
// input that asked for it and how to fix it.
func TestNetworkHostOnABuilderThatRefusesItSaysHowToFixIt(t *testing.T) {
	b := freshBuilder(t)
	dir := writeContext(t, map[string]string{"Dockerfile": "FROM python:3.11-slim\nRUN echo host network\n"})
	res := runAction(t, Run{Dir: dir, Event: "push", Inputs: map[string]string{"endpoint": b.Endpoint, "cache-backend": "none", "network": "host"}})
	if res.ExitCode == 0 {
		t.Fatalf("network: host on a builder without the entitlement must fail:\n%s", tail(res.Log, 30))
	}
	for _, want := range []string{"granting entitlement network.host is not allowed", `input "network" asks for network.host`, "--allow-insecure-entitlement network.host"} {
		if !strings.Contains(res.Log, want) {
			t.Errorf("the log lacks %q:\n%s", want, tail(res.Log, 30))
		}
	}
}
