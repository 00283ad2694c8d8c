package builder

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// testCA is a certificate authority made in memory, for daemons and clients of the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue signs a leaf for server (SAN 127.0.0.1) or client authentication.
func (ca *testCA) issue(t *testing.T, cn string, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

// tlsDir writes an endpoint-tls-dir: ca.pem (to verify the daemon) and a client key pair.
func tlsDir(t *testing.T, serverCA *testCA, client *testCA, usage x509.ExtKeyUsage) string {
	t.Helper()
	dir := t.TempDir()
	cert, key := client.issue(t, "runner", usage)
	for name, b := range map[string][]byte{"ca.pem": serverCA.pem, "cert.pem": cert, "key.pem": key} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// mtlsDaemon listens as buildkitd does with --tlscacert/--tlscert/--tlskey: its own
// certificate from ca, client certificates required and verified against ca
// (moby/buildkit cmd/buildkitd/main.go serverCredentials). It completes handshakes and then
// holds the connection, as a gRPC server waiting for the client's preface.
func mtlsDaemon(t *testing.T, ca *testCA) string {
	t.Helper()
	certPEM, keyPEM := ca.issue(t, "buildkitd", x509.ExtKeyUsageServerAuth)
	kp, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{kp}, NextProtos: []string{"h2"},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, l, func(c net.Conn) {
		if c.(*tls.Conn).Handshake() == nil {
			time.Sleep(3 * time.Second)
		}
	})
}

// plainDaemon is a listener that is not TLS: it closes what it cannot read, as a gRPC
// server without --tlscert does with a ClientHello.
func plainDaemon(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, l, func(c net.Conn) { c.Read(make([]byte, 64)) })
}

func serve(t *testing.T, l net.Listener, handle func(net.Conn)) string {
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	return "tcp://" + l.Addr().String()
}

func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "tcp://" + addr
}

// grpcErr is the kind of error the BuildKit client returns when the transport failed.
var grpcErr = errors.New("failed to list workers: Unavailable: connection error: desc = \"error reading server preface: EOF\"")

func inputError(t *testing.T, err error) *inputs.Error {
	t.Helper()
	var ie *inputs.Error
	if !errors.As(err, &ie) {
		t.Fatalf("want an *inputs.Error naming the input, got %T: %v", err, err)
	}
	return ie
}

func wantAll(t *testing.T, msg string, words ...string) {
	t.Helper()
	for _, w := range words {
		if !strings.Contains(msg, w) {
			t.Errorf("message lacks %q:\n%s", w, msg)
		}
	}
}

func TestConnectErrorNamesEndpointTLSDirWhenTheDaemonSpeaksTLSAndNoCertsWereGiven(t *testing.T) {
	ca := newTestCA(t, "team CA")
	addr := mtlsDaemon(t, ca)
	p := ProbeTLS(context.Background(), addr, "")
	if p == nil || p.Server == "" {
		t.Fatalf("probe of a TLS daemon: %+v", p)
	}
	ie := inputError(t, ConnectError(Endpoint{Address: addr}, grpcErr, p))
	if ie.Input != "endpoint-tls-dir" {
		t.Errorf("input %q, want endpoint-tls-dir", ie.Input)
	}
	// What the daemon said: its certificate, the CA it wants clients from, and its alert.
	wantAll(t, ie.Problem, "is empty", addr, "speaks TLS", "CN=buildkitd, issued by CN=team CA",
		"asks for a client certificate issued by CN=team CA", "ca.pem", "cert.pem", "key.pem", "The daemon said: remote error: tls:")
}

func TestConnectErrorNamesAClientCertificateTheDaemonRefuses(t *testing.T) {
	ca, rogue := newTestCA(t, "team CA"), newTestCA(t, "other CA")
	addr := mtlsDaemon(t, ca)
	for name, dir := range map[string]string{
		"signed by another CA":  tlsDir(t, ca, rogue, x509.ExtKeyUsageClientAuth),
		"made for servers only": tlsDir(t, ca, ca, x509.ExtKeyUsageServerAuth),
	} {
		t.Run(name, func(t *testing.T) {
			p := ProbeTLS(context.Background(), addr, dir)
			if p.Refused == nil || p.VerifyErr != nil {
				t.Fatalf("probe: %+v", p)
			}
			ie := inputError(t, ConnectError(Endpoint{Address: addr, TLSDir: dir}, errors.New("failed to list workers: Unavailable: write: broken pipe"), p))
			if ie.Input != "endpoint-tls-dir" {
				t.Errorf("input %q", ie.Input)
			}
			wantAll(t, ie.Problem, "refused the client certificate", dir, "CN=runner", "accepts client certificates issued by CN=team CA", "The daemon said: remote error: tls:", "--tlscacert")
		})
	}
}

func TestConnectErrorNamesACAThatDoesNotVerifyTheDaemon(t *testing.T) {
	ca, rogue := newTestCA(t, "team CA"), newTestCA(t, "other CA")
	addr := mtlsDaemon(t, ca)
	dir := tlsDir(t, rogue, ca, x509.ExtKeyUsageClientAuth) // ca.pem is the wrong CA
	p := ProbeTLS(context.Background(), addr, dir)
	gotErr := errors.New(`failed to list workers: Unavailable: connection error: desc = "transport: authentication handshake failed: tls: failed to verify certificate: x509: certificate signed by unknown authority"`)
	ie := inputError(t, ConnectError(Endpoint{Address: addr, TLSDir: dir}, gotErr, p))
	if ie.Input != "endpoint-tls-dir" {
		t.Errorf("input %q", ie.Input)
	}
	wantAll(t, ie.Problem, "ca.pem in "+dir+" does not verify", "CN=buildkitd, issued by CN=team CA", "unknown authority")
}

func TestProbeAcceptsTheRightCertificates(t *testing.T) {
	ca := newTestCA(t, "team CA")
	addr := mtlsDaemon(t, ca)
	p := ProbeTLS(context.Background(), addr, tlsDir(t, ca, ca, x509.ExtKeyUsageClientAuth))
	if p.Refused != nil || p.VerifyErr != nil || p.HandshakeErr != nil || !p.ClientSent {
		t.Fatalf("right certificates: %+v", p)
	}
	// Nothing the probe saw explains the failure: the plain error, unchanged.
	err := ConnectError(Endpoint{Address: addr, TLSDir: "/certs"}, grpcErr, p)
	var ie *inputs.Error
	if errors.As(err, &ie) || !errors.Is(err, grpcErr) || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("got %v", err)
	}
}

func TestConnectErrorForTLSAgainstAPlainDaemon(t *testing.T) {
	ca := newTestCA(t, "team CA")
	addr := plainDaemon(t)
	dir := tlsDir(t, ca, ca, x509.ExtKeyUsageClientAuth)
	p := ProbeTLS(context.Background(), addr, dir)
	if !p.NotTLS {
		t.Fatalf("probe: %+v", p)
	}
	ie := inputError(t, ConnectError(Endpoint{Address: addr, TLSDir: dir}, grpcErr, p))
	wantAll(t, ie.Input, "endpoint-tls-dir")
	wantAll(t, ie.Problem, "does not speak TLS", "leave endpoint-tls-dir empty")
}

func TestConnectErrorNamesEndpointWhenNothingListens(t *testing.T) {
	addr := closedPort(t)
	p := ProbeTLS(context.Background(), addr, "")
	ie := inputError(t, ConnectError(Endpoint{Address: addr}, grpcErr, p))
	if ie.Input != "endpoint" {
		t.Errorf("input %q", ie.Input)
	}
	wantAll(t, ie.Problem, addr, "connection refused")
}

func TestNoProbeForUnixSockets(t *testing.T) {
	if p := ProbeTLS(context.Background(), "unix:///run/buildkit/buildkitd.sock", ""); p != nil {
		t.Errorf("probe %+v", p)
	}
	err := ConnectError(Endpoint{Address: "unix:///run/buildkit/buildkitd.sock"}, grpcErr, nil)
	if want := fmt.Sprintf("BuildKit at unix:///run/buildkit/buildkitd.sock does not answer: %v", grpcErr); err.Error() != want {
		t.Errorf("got %q", err)
	}
}

// Connect itself: the certificate files are read before any dial, and a pair that does not
// belong together names endpoint-tls-dir.
func TestConnectWithMismatchedKeyNamesEndpointTLSDir(t *testing.T) {
	ca := newTestCA(t, "team CA")
	dir := tlsDir(t, ca, ca, x509.ExtKeyUsageClientAuth)
	_, otherKey := ca.issue(t, "someone else", x509.ExtKeyUsageClientAuth)
	os.WriteFile(filepath.Join(dir, "key.pem"), otherKey, 0o600)
	_, err := Connect(context.Background(), Endpoint{Address: mtlsDaemon(t, ca), TLSDir: dir})
	ie := inputError(t, err)
	wantAll(t, ie.Input, "endpoint-tls-dir")
	wantAll(t, ie.Problem, dir, "private key does not match")
}

// And end to end inside the package: Connect against a daemon that wants certificates.
func TestConnectWithoutCertificatesToAnMTLSDaemon(t *testing.T) {
	ca := newTestCA(t, "team CA")
	addr := mtlsDaemon(t, ca)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := Connect(ctx, Endpoint{Address: addr})
	ie := inputError(t, err)
	wantAll(t, ie.Input, "endpoint-tls-dir")
	wantAll(t, ie.Problem, "speaks TLS")
}
