package inputs

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/docker/buildx/util/buildflags"
	dockeropts "github.com/docker/cli/opts"
	"golang.org/x/crypto/ssh"
)

// sshFixtures makes a listening agent-like socket and an unencrypted and an encrypted
// private key file.
func sshFixtures(t *testing.T) (sock, key, locked string) {
	t.Helper()
	dir := t.TempDir()
	sock = filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key = filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	locked = filepath.Join(dir, "id_locked")
	if err := os.WriteFile(locked, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return sock, key, locked
}

// ssh entries mean what buildx's --ssh means (util/buildflags/ssh.go), the agent of
// `default` taken from the step's SSH_AUTH_SOCK.
func TestSSHReadsLikeBuildx(t *testing.T) {
	sock, key, _ := sshFixtures(t)
	for _, in := range []string{"default", "default=" + sock, "github=" + key, "=" + key, "deploy=" + key + "\nagent=" + sock} {
		in := in
		got, err := Parse(env(map[string]string{"ssh": in}, "SSH_AUTH_SOCK="+sock))
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		want, err := buildflags.ParseSSHSpecs(strings.Split(in, "\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(want) != len(got.Flags.SSH) {
			t.Errorf("%q: buildx %v, ours %v", in, want, got.Flags.SSH)
			continue
		}
		for i, w := range want {
			g := got.Flags.SSH[i]
			wantID, wantPaths := w.ID, w.Paths
			if wantID == "" {
				wantID = "default" // sshprovider.NewSSHAgentProvider
			}
			if len(wantPaths) == 0 {
				wantPaths = []string{sock} // sshprovider reads SSH_AUTH_SOCK
			}
			if g.ID != wantID || !slices.Equal(g.Paths, wantPaths) {
				t.Errorf("%q: buildx %s=%v, ours %s=%v", in, wantID, wantPaths, g.ID, g.Paths)
			}
		}
	}
}

func TestSSHRefusesWhatTheBuildCouldNotUse(t *testing.T) {
	sock, key, locked := sshFixtures(t)
	garbage := filepath.Join(t.TempDir(), "notakey")
	if err := os.WriteFile(garbage, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ssh, authSock, want string
	}{
		{"default", "", "SSH_AUTH_SOCK, which is not set"},
		// webfactory/ssh-agent's default socket, under /tmp: not mounted into the container.
		{"default", "/tmp/ssh-XXXXabc/agent.123", "SSH_AUTH_SOCK=/tmp/ssh-XXXXabc/agent.123: not visible to warmbuild"},
		{"default=/home/runner/work/_temp/agent.sock", sock, "ssh-auth-sock: ${{ runner.temp }}/ssh-agent.sock"},
		{"deploy=/home/runner/work/_temp/key", sock, "ID=/github/runner_temp/FILE"},
		{"deploy=" + locked, "", "protected by a passphrase"},
		{"deploy=" + garbage, "", "neither an SSH agent socket nor a private key"},
		{"deploy=" + filepath.Dir(key), "", "is a directory"},
		{"deploy=/dev/null", "", "neither an SSH agent socket nor a regular file"},
		{"deploy=" + key + ",deploy=" + key, "", `"deploy" is given twice`},
	} {
		_, err := Parse(env(map[string]string{"ssh": c.ssh}, "SSH_AUTH_SOCK="+c.authSock))
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 || es[0].Input != "ssh" || !strings.Contains(es[0].Problem, c.want) {
			t.Errorf("ssh %q (SSH_AUTH_SOCK=%q): %v; want one error on ssh saying %q", c.ssh, c.authSock, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the error shows key material: %v", err)
		}
	}
}

// The frontend attributes are those buildx's toSolveOpt sets for the same flags (buildx
// build/opt.go, build/utils.go), written here from reading that code.
func TestFlagsBecomeBuildxsFrontendAttrs(t *testing.T) {
	in, err := Parse(env(map[string]string{
		"network":          "host",
		"add-hosts":        "docker:10.180.0.1,db=10.0.0.2\nv6:[::1]",
		"shm-size":         "2g",
		"ulimit":           "nproc=512\nnofile=1024:2048\nnproc=256:4096",
		"cgroup-parent":    "/actions_job",
		"allow":            "security.insecure",
		"no-cache-filters": "deps,test",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"force-network-mode": "host",
		"add-hosts":          "docker=10.180.0.1,db=10.0.0.2,v6=::1",
		"shm-size":           "2147483648",
		"ulimit":             "nofile=1024:2048,nproc=256:4096",
		"cgroup-parent":      "/actions_job",
		"no-cache":           "deps,test",
	}
	if got := in.Flags.FrontendAttrs(); !maps.Equal(got, want) {
		t.Errorf("frontend attrs\n got %v\nwant %v", got, want)
	}
	// network: host asks for network.host by itself, as buildx does.
	if got := in.Flags.Entitlements(); !slices.Equal(got, []string{"security.insecure", "network.host"}) {
		t.Errorf("entitlements %v", got)
	}

	none, err := Parse(env(map[string]string{"network": "default"}))
	if err != nil {
		t.Fatal(err)
	}
	if attrs := none.Flags.FrontendAttrs(); len(attrs) != 0 || len(none.Flags.Entitlements()) != 0 {
		t.Errorf("no flags given: attrs %v, entitlements %v; want none", attrs, none.Flags.Entitlements())
	}
}

// shm-size and ulimit read as docker's own options do (docker/cli opts MemBytes, UlimitOpt).
func TestShmSizeAndUlimitReadLikeDocker(t *testing.T) {
	for _, v := range []string{"2g", "64m", "1024", "1.5GB", "10x", "-1", "g"} {
		var want dockeropts.MemBytes
		wantErr := want.Set(v)
		in, err := Parse(env(map[string]string{"shm-size": v}))
		if (wantErr != nil) != (err != nil) {
			t.Errorf("shm-size %q: docker error %v, ours %v", v, wantErr, err)
			continue
		}
		if err == nil && in.Flags.ShmSize != want.Value() {
			t.Errorf("shm-size %q: docker %d, ours %d", v, want.Value(), in.Flags.ShmSize)
		}
	}
	for _, lines := range [][]string{
		{"nofile=1024:1024"}, {"nproc=10", "core=0:-1", "nproc=20:30"}, {"nofile=2048:1024"}, {"bogus=1"}, {"nofile"}, {"nofile=a"},
	} {
		want := dockeropts.NewUlimitOpt(nil)
		var wantErr error
		for _, l := range lines {
			if err := want.Set(l); err != nil {
				wantErr = err
			}
		}
		in, err := Parse(env(map[string]string{"ulimit": strings.Join(lines, "\n")}))
		if (wantErr != nil) != (err != nil) {
			t.Errorf("ulimit %q: docker error %v, ours %v", lines, wantErr, err)
			continue
		}
		if err != nil {
			continue
		}
		var w, g []string
		for _, u := range want.GetList() {
			w = append(w, u.String())
		}
		for _, u := range in.Flags.Ulimits {
			g = append(g, u.String())
		}
		if !slices.Equal(w, g) {
			t.Errorf("ulimit %q: docker %v, ours %v", lines, w, g)
		}
	}
}

func TestAllowReadsLikeBuildx(t *testing.T) {
	for _, v := range []string{"network.host", "security.insecure", "device", "device=/dev/fuse", "buildx.local.delete", "buildx.local.delete=1", "network", "sudo"} {
		want, wantDelete, wantErr := buildflags.ParseEntitlements([]string{v})
		in, err := Parse(env(map[string]string{"allow": v}))
		if (wantErr != nil) != (err != nil) {
			t.Errorf("allow %q: buildx error %v, ours %v", v, wantErr, err)
			continue
		}
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || es[0].Input != "allow" {
				t.Errorf("allow %q: %v does not name allow", v, err)
			}
			continue
		}
		if !slices.Equal(want, in.Flags.Allow) || wantDelete != in.Flags.AllowLocalDelete {
			t.Errorf("allow %q: buildx %v (local delete %v), ours %v (%v)", v, want, wantDelete, in.Flags.Allow, in.Flags.AllowLocalDelete)
		}
	}
}

func TestBadFlagsNameTheirInput(t *testing.T) {
	for _, c := range []struct {
		inputs     map[string]string
		name, want string
	}{
		{map[string]string{"network": "bridge"}, "network", `"bridge" is not supported`},
		{map[string]string{"add-hosts": "docker"}, "add-hosts", "write host:ip"},
		{map[string]string{"add-hosts": "docker:host-gateway"}, "add-hosts", "give the IP address"},
		{map[string]string{"add-hosts": "docker:10.0.0.300"}, "add-hosts", "not an IP address"},
		{map[string]string{"shm-size": "lots"}, "shm-size", "not a size"},
		{map[string]string{"ulimit": "nofile=2:1"}, "ulimit", "soft limit must be less"},
		{map[string]string{"no-cache": "true", "no-cache-filters": "test"}, "no-cache-filters", "cannot currently be used together"},
	} {
		_, err := Parse(env(c.inputs))
		var es Errors
		if !errors.As(err, &es) || len(es) != 1 || es[0].Input != c.name || !strings.Contains(es[0].Problem, c.want) {
			t.Errorf("%v: %v; want one error on %s saying %q", c.inputs, err, c.name, c.want)
		}
	}
}

// A local output with mode=delete outside the working directory needs
// allow: buildx.local.delete, as in buildx (build/opt.go ValidateLocalExportDelete).
func TestLocalDeleteOutsideTheWorkdirNeedsTheBuildxEntitlement(t *testing.T) {
	outside := t.TempDir()
	wd := t.TempDir()
	t.Chdir(wd)
	for _, c := range []struct {
		outputs, allow string
		ok             bool
	}{
		{"type=local,dest=out,mode=delete", "", true},
		{"type=local,dest=" + filepath.Join(outside, "out") + ",mode=delete", "", false},
		{"type=local,dest=.,mode=delete", "", false},
		{"type=local,dest=" + outside + ",mode=delete", "buildx.local.delete", true},
		{"type=local,dest=" + outside, "", true},
		{"type=local,dest=out,mode=move", "", false},
	} {
		_, err := Parse(env(map[string]string{"outputs": c.outputs, "allow": c.allow}))
		var es Errors
		switch {
		case c.ok && err != nil:
			t.Errorf("outputs %q, allow %q: %v", c.outputs, c.allow, err)
		case !c.ok && (!errors.As(err, &es) || es[0].Input != "outputs"):
			t.Errorf("outputs %q, allow %q: %v; want an error on outputs", c.outputs, c.allow, err)
		}
	}
}

// Whatever is written in the flag inputs, Parse either refuses it naming one of them or
// reads it as docker's and buildx's own parsers do, and the attributes it makes have the
// shape BuildKit's dockerfile frontend reads back.
func FuzzBuildFlags(f *testing.F) {
	f.Add("host", "docker:10.180.0.1,db=::1", "2g", "nofile=1024:1024\nnproc=10", "network.host,security.insecure", "deps,test")
	f.Add("none", "x:[::1]", "1.5 GiB", "core=-1", "device=/dev/fuse", "")
	f.Add("bridge", "=1.2.3.4", "-1", "nofile=2:1", "buildx.local.delete=1", ",,")
	f.Add("", "a:b:c", "9999999999999999999999t", "nofile=a:b:c", "network", "\n")
	names := []string{"network", "add-hosts", "shm-size", "ulimit", "allow", "no-cache-filters"}
	f.Fuzz(func(t *testing.T, network, hosts, shm, ulimit, allow, filters string) {
		values := []string{network, hosts, shm, ulimit, allow, filters}
		raw := map[string]string{}
		for i, n := range names {
			raw[n] = values[i]
		}
		in, err := Parse(env(raw))
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is not an input error: %v", err)
			}
			for _, e := range errs {
				if !slices.Contains(names, e.Input) {
					t.Fatalf("error names %q, an input not given: %v", e.Input, e)
				}
			}
			return
		}
		fl := in.Flags
		var mem dockeropts.MemBytes
		if v := strings.TrimSpace(shm); v != "" && (mem.Set(v) != nil || mem.Value() != fl.ShmSize) {
			t.Fatalf("shm-size %q: ours %d, docker %d", v, fl.ShmSize, mem.Value())
		}
		want := dockeropts.NewUlimitOpt(nil)
		for _, u := range fl.Ulimits {
			if err := want.Set(u.String()); err != nil {
				t.Fatalf("ulimit %s does not read back in docker: %v", u, err)
			}
		}
		if len(want.GetList()) != len(fl.Ulimits) {
			t.Fatalf("ulimits %v are not one per name", fl.Ulimits)
		}
		if _, _, err := buildflags.ParseEntitlements(fl.Allow); err != nil {
			t.Fatalf("allow %v refused by buildx: %v", fl.Allow, err)
		}
		attrs := fl.FrontendAttrs()
		for _, h := range strings.Split(attrs["add-hosts"], ",") {
			if h == "" {
				continue
			}
			host, ip, ok := strings.Cut(h, "=")
			if !ok || host == "" || net.ParseIP(ip) == nil {
				t.Fatalf("add-hosts attr %q: entry %q is not host=ip", attrs["add-hosts"], h)
			}
		}
		if m := attrs["force-network-mode"]; m != "" && m != "host" && m != "none" {
			t.Fatalf("network mode %q", m)
		}
		if slices.Contains(fl.NoCacheFilters, "") {
			t.Fatalf("an empty stage name in no-cache-filters: %q", fl.NoCacheFilters)
		}
	})
}
