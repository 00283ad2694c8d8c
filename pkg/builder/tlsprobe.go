package builder

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// When a tcp:// daemon does not answer, gRPC's error says little about why: a client without
// certificates talking to a buildkitd started with --tlscert gets "error reading server
// preface: EOF", one whose client certificate the daemon rejects gets "write: broken pipe"
// (in TLS 1.3 the client finishes its handshake before the server checks its certificate, so
// the daemon's alert arrives after the client has moved on). One TLS handshake of our own,
// made only after the failure, reads what the daemon presents and what it answers.

// TLSProbe is what one TLS handshake with a tcp:// daemon found out, for error messages.
type TLSProbe struct {
	// DialErr: no TCP connection at all.
	DialErr error
	// HandshakeErr: the TLS handshake did not complete. NotTLS says the daemon answered
	// with something that is not TLS, or closed the connection at the ClientHello.
	HandshakeErr error
	NotTLS       bool
	// Server describes the daemon's certificate ("CN=buildkitd, issued by CN=team CA"), set
	// once the daemon has answered as a TLS server.
	Server string
	// RequestedCAs are the issuers the daemon asks client certificates to come from (the
	// CertificateRequest's certificate_authorities), empty when it asks for none.
	RequestedCAs []string
	// VerifyErr: ca.pem does not verify the daemon's certificate for the endpoint's host.
	VerifyErr error
	// ClientCert describes the client certificate in cert.pem, when there is one; ClientSent
	// says whether it was sent (a TLS client sends none that the daemon's CAs did not issue).
	ClientCert string
	ClientSent bool
	// Refused is what the daemon answered after the handshake when it did not accept the
	// client: its TLS alert ("remote error: tls: certificate required"), or the close.
	Refused error
}

// probeTimeout bounds the whole probe; acceptWait is how long a daemon that accepted the
// client may stay silent before the probe takes the silence for acceptance.
const (
	probeTimeout = 5 * time.Second
	acceptWait   = 1500 * time.Millisecond
)

// ProbeTLS makes one TLS handshake with the daemon at a tcp:// address, presenting the client
// certificate of tlsDir (if any) but verifying the daemon's certificate itself afterwards, so
// that it learns what the daemon presents even when ca.pem is wrong. Nothing is sent after the
// handshake. It returns nil for addresses that are not tcp://.
func ProbeTLS(ctx context.Context, address, tlsDir string) *TLSProbe {
	u, err := url.Parse(address)
	if err != nil || u.Scheme != "tcp" || u.Host == "" {
		return nil
	}
	host := u.Hostname()
	p := &TLSProbe{}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		p.DialErr = err
		return p
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)

	var roots *x509.CertPool
	var clientCert *tls.Certificate
	if tlsDir != "" {
		if pem, err := os.ReadFile(filepath.Join(tlsDir, "ca.pem")); err == nil {
			roots = x509.NewCertPool()
			roots.AppendCertsFromPEM(pem)
		}
		if kp, err := tls.LoadX509KeyPair(filepath.Join(tlsDir, "cert.pem"), filepath.Join(tlsDir, "key.pem")); err == nil {
			clientCert = &kp
			if kp.Leaf != nil {
				p.ClientCert = describeCert(kp.Leaf)
			}
		}
	}
	cfg := &tls.Config{
		// Verified below against ca.pem, after the handshake, to say what the daemon presents.
		InsecureSkipVerify: true, //nolint:gosec // a diagnostic handshake; nothing is sent over it
		NextProtos:         []string{"h2"},
		MinVersion:         tls.VersionTLS12,
		GetClientCertificate: func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			for _, dn := range cri.AcceptableCAs {
				p.RequestedCAs = append(p.RequestedCAs, decodeDN(dn))
			}
			// As crypto/tls does with Config.Certificates (and so as the BuildKit client does):
			// send the certificate only if the daemon's CAs could have issued it.
			if clientCert != nil && cri.SupportsCertificate(clientCert) == nil {
				p.ClientSent = true
				return clientCert, nil
			}
			return &tls.Certificate{}, nil
		},
	}
	if net.ParseIP(host) == nil {
		cfg.ServerName = host
	}
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		p.HandshakeErr = err
		var rh tls.RecordHeaderError
		// Not a TLS server: bytes that are no TLS record, or the connection closed or reset at
		// the ClientHello (a plain gRPC server drops a bogus HTTP/2 preface).
		p.NotTLS = errors.As(err, &rh) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
		return p
	}
	state := tc.ConnectionState()
	if len(state.PeerCertificates) > 0 {
		leaf := state.PeerCertificates[0]
		p.Server = describeCert(leaf)
		if roots != nil {
			inter := x509.NewCertPool()
			for _, c := range state.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			if _, p.VerifyErr = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: host}); p.VerifyErr != nil {
				return p // the client stops here too
			}
		}
	}
	// A TLS 1.3 server checks the client's certificate after its own Finished: a refusal
	// arrives as an alert on the first read. A daemon that accepted waits for the client's
	// HTTP/2 preface (or sends its settings): silence or data both mean accepted.
	tc.SetReadDeadline(time.Now().Add(acceptWait))
	if _, err := tc.Read(make([]byte, 1)); err != nil {
		var ne net.Error
		if !(errors.As(err, &ne) && ne.Timeout()) {
			p.Refused = err
		}
	}
	return p
}

func describeCert(c *x509.Certificate) string {
	return fmt.Sprintf("%s, issued by %s", c.Subject, c.Issuer)
}

func decodeDN(der []byte) string {
	var rdn pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &rdn); err != nil {
		return "(undecodable name)"
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdn)
	return n.String()
}

// ConnectError says why the daemon at ep did not answer the first call (err), naming the
// input to change when the probe shows whose fault it is, with what the daemon said. Without
// a probe (unix sockets, containers) or a conclusion it is the plain "does not answer" error.
func ConnectError(ep Endpoint, err error, p *TLSProbe) error {
	plain := fmt.Errorf("BuildKit at %s does not answer: %w", ep.Address, err)
	if p == nil {
		return plain
	}
	said := cleanMessage(err)
	if p.Refused != nil {
		said = p.Refused.Error()
	}
	requested := ""
	if len(p.RequestedCAs) > 0 {
		requested = " and asks for a client certificate issued by " + strings.Join(p.RequestedCAs, " or ")
	}
	switch {
	case p.DialErr != nil:
		return &inputs.Error{Input: "endpoint", Problem: fmt.Sprintf(
			"nothing accepts connections at %s (%s): check the host and port, and that buildkitd listens there (buildkitd --addr tcp://0.0.0.0:PORT)", ep.Address, unwrapOp(p.DialErr))}
	case ep.TLSDir == "" && p.Server != "":
		return &inputs.Error{Input: "endpoint-tls-dir", Problem: fmt.Sprintf(
			"is empty, but BuildKit at %s speaks TLS (its certificate: %s)%s. Give endpoint-tls-dir: a directory with ca.pem (the CA that signed the daemon's certificate), cert.pem and key.pem (a client certificate the daemon's CA signed, and its key), the files buildctl takes as --tlscacert, --tlscert and --tlskey. The daemon said: %s",
			ep.Address, p.Server, requested, said)}
	case ep.TLSDir != "" && p.Server == "" && p.NotTLS:
		return &inputs.Error{Input: "endpoint-tls-dir", Problem: fmt.Sprintf(
			"is set, but BuildKit at %s does not speak TLS (%s): a buildkitd started without --tlscert and --tlskey serves plain gRPC; leave endpoint-tls-dir empty for it, or check the port. The client got: %s",
			ep.Address, unwrapOp(p.HandshakeErr), cleanMessage(err))}
	case ep.TLSDir != "" && p.VerifyErr != nil:
		return &inputs.Error{Input: "endpoint-tls-dir", Problem: fmt.Sprintf(
			"ca.pem in %s does not verify the certificate of BuildKit at %s (%s): %v. ca.pem must hold the CA that signed the daemon's certificate (buildkitd --tlscert). The client got: %s",
			ep.TLSDir, ep.Address, p.Server, p.VerifyErr, cleanMessage(err))}
	case ep.TLSDir != "" && p.Refused != nil:
		cert := "cert.pem"
		if p.ClientCert != "" {
			cert += " (" + p.ClientCert + ")"
		}
		if !p.ClientSent && len(p.RequestedCAs) > 0 {
			cert += " was not even sent: its issuer is not one the daemon accepts"
		}
		accepts := ""
		if len(p.RequestedCAs) > 0 {
			accepts = " The daemon accepts client certificates issued by " + strings.Join(p.RequestedCAs, " or ") + "."
		}
		return &inputs.Error{Input: "endpoint-tls-dir", Problem: fmt.Sprintf(
			"BuildKit at %s refused the client certificate in %s: %s.%s The daemon said: %s. cert.pem must be signed by the CA the daemon trusts (buildkitd --tlscacert) and allow client authentication (extendedKeyUsage clientAuth)",
			ep.Address, ep.TLSDir, cert, accepts, said)}
	}
	return plain
}

// unwrapOp drops net.OpError's "dial tcp 127.0.0.1:1234:" prefix, said already.
func unwrapOp(err error) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}
