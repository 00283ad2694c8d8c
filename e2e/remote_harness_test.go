//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A remote BuildKit as teams run one for their runners: buildkitd listening on tcp:// with
// mutual TLS, its certificates made by Debian's openssl. BuildKit's README ("Expose BuildKit
// as a TCP service", moby/buildkit README.md) starts it with --tlscacert/--tlscert/--tlskey and
// has clients pass the CA, a client certificate and its key; buildkitd then requires and
// verifies a client certificate signed by that CA (cmd/buildkitd/main.go serverCredentials:
// tls.RequireAndVerifyClientCert). warmbuild's endpoint-tls-dir holds ca.pem, cert.pem and
// key.pem, as buildx's remote driver's cacert/cert/key driver options name them.

// pki is one certificate authority and the certificates it signed, each kind in its own
// directory laid out as endpoint-tls-dir expects (ca.pem, cert.pem, key.pem).
type pki struct {
	Dir    string // the CA's own files: ca.pem, ca-key.pem
	Server string // buildkitd's: ca.pem (clients' CA), cert.pem, key.pem (SAN 127.0.0.1)
	Client string // a client's: ca.pem (the server's CA), cert.pem, key.pem
}

func openssl(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("openssl", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newPKI makes a CA and a server and a client certificate signed by it. EC P-256 keys: as
// good as RSA for the test and much faster to make on a loaded machine.
func newPKI(t *testing.T, name string) *pki {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatalf("openssl not found (scripts/stack/apt.sh installs it): %v", err)
	}
	root := t.TempDir()
	p := &pki{Dir: filepath.Join(root, "ca"), Server: filepath.Join(root, "server"), Client: filepath.Join(root, "client")}
	for _, d := range []string{p.Dir, p.Server, p.Client} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	key := []string{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"}
	openssl(t, p.Dir, append(append([]string{"req", "-x509"}, key...),
		"-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN="+name+" test CA",
		"-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")...)
	sign := func(dir, cn, ext string) {
		writeFile(t, filepath.Join(dir, "ext.cnf"), ext)
		openssl(t, dir, append(append([]string{"req"}, key...), "-keyout", "key.pem", "-out", "req.csr", "-subj", "/CN="+cn)...)
		openssl(t, dir, "x509", "-req", "-in", "req.csr", "-CA", filepath.Join(p.Dir, "ca.pem"),
			"-CAkey", filepath.Join(p.Dir, "ca-key.pem"), "-set_serial", fmt.Sprint(time.Now().UnixNano()),
			"-days", "2", "-out", "cert.pem", "-extfile", "ext.cnf")
		ca, err := os.ReadFile(filepath.Join(p.Dir, "ca.pem"))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "ca.pem"), string(ca))
		os.Remove(filepath.Join(dir, "req.csr"))
		os.Remove(filepath.Join(dir, "ext.cnf"))
	}
	sign(p.Server, "buildkitd", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
	sign(p.Client, name+"-client", "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature\n")
	return p
}

// tlsDaemon is a buildkitd on a fresh root listening on tcp://127.0.0.1:PORT with mutual TLS
// (and on a plain unix socket the test uses only to see that it is up).
type tlsDaemon struct {
	Endpoint string // tcp://127.0.0.1:PORT
	Root     string
	PKI      *pki
	log      *bytes.Buffer
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startTLSDaemon starts buildkitd from the stack's BUILDKIT_BIN_DIR with the stack's config,
// as scripts/stack/buildkitd-run.sh does (overlayfs snapshotter, native where overlayfs does
// not work), plus --tlscacert/--tlscert/--tlskey and a tcp:// address, and stops it when the
// test ends.
// extraConfig, when given, is appended to the stack's buildkitd.toml (e.g. one more plain-
// HTTP registry).
func startTLSDaemon(t *testing.T, p *pki, extraConfig ...string) *tlsDaemon {
	t.Helper()
	needStack(t)
	bin := stackEnv["BUILDKIT_BIN_DIR"]
	if bin == "" {
		t.Fatal("the stack env has no BUILDKIT_BIN_DIR")
	}
	dir, err := os.MkdirTemp("", "wb-bk-tls-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "buildkitd.sock")
	config := stackEnv["BUILDKITD_CONFIG"]
	if len(extraConfig) > 0 {
		base, err := os.ReadFile(config)
		if err != nil {
			t.Fatal(err)
		}
		config = filepath.Join(dir, "buildkitd.toml")
		writeFile(t, config, string(base)+"\n"+strings.Join(extraConfig, "\n")+"\n")
	}
	for _, snap := range []string{"overlayfs", "native"} {
		for try := 0; try < 3; try++ { // a free port can be taken between freePort and the listen
			d := &tlsDaemon{Endpoint: fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), Root: filepath.Join(dir, "root-"+snap), PKI: p, log: &bytes.Buffer{}}
			cmd := exec.Command(filepath.Join(bin, "buildkitd"), "--root", d.Root,
				"--addr", "unix://"+sock, "--addr", d.Endpoint, "--config", config,
				"--tlscacert", filepath.Join(p.Server, "ca.pem"), "--tlscert", filepath.Join(p.Server, "cert.pem"),
				"--tlskey", filepath.Join(p.Server, "key.pem"), "--oci-worker-snapshotter", snap)
			cmd.Stdout, cmd.Stderr = d.log, d.log
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatalf("start buildkitd: %v", err)
			}
			exited := make(chan struct{})
			go func() { cmd.Wait(); close(exited) }()
			if waitWorkers(bin, sock, exited) {
				t.Cleanup(func() {
					cmd.Process.Signal(syscall.SIGTERM)
					select {
					case <-exited:
					case <-time.After(15 * time.Second):
						cmd.Process.Kill()
						<-exited
					}
				})
				return d
			}
			cmd.Process.Kill()
			<-exited
			if !strings.Contains(d.log.String(), "address already in use") {
				t.Logf("buildkitd with %s did not start:\n%s", snap, tail(d.log.String(), 15))
				break
			}
		}
	}
	t.Fatal("buildkitd with TLS did not start")
	return nil
}

func waitWorkers(bin, sock string, exited <-chan struct{}) bool {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if exec.Command(filepath.Join(bin, "buildctl"), "--addr", "unix://"+sock, "debug", "workers").Run() == nil {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// manifestCounter is a relay in front of the stack's registry that counts the manifests
// pushed per tag, to tell "every cache written once" from "written, then overwritten".
type manifestCounter struct {
	Host string // 127.0.0.1:PORT, plain HTTP
	mu   sync.Mutex
	puts map[string]int // repo:tag -> manifest PUTs
}

func newManifestCounter(t *testing.T) *manifestCounter {
	t.Helper()
	target, err := url.Parse("http://" + stackEnv["REGISTRY"])
	if err != nil {
		t.Fatal(err)
	}
	mc := &manifestCounter{puts: map[string]int{}}
	proxy := httputil.NewSingleHostReverseProxy(target) // keeps the Host header: Locations point back here
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			if repo, ref, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/"), "/manifests/"); ok && !strings.Contains(ref, ":") {
				mc.mu.Lock()
				mc.puts[repo+":"+ref]++
				mc.mu.Unlock()
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	mc.Host = strings.TrimPrefix(srv.URL, "http://")
	return mc
}

// Config is the buildkitd.toml lines that let a daemon push to the relay over plain HTTP.
func (mc *manifestCounter) Config() string {
	return fmt.Sprintf("[registry.%q]\n  http = true\n", mc.Host)
}

func (mc *manifestCounter) Puts() map[string]int {
	mc.mu.Lock()
	defer mc.mu.Unlock()
	out := map[string]int{}
	for k, v := range mc.puts {
		out[k] = v
	}
	return out
}
