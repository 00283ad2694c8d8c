// Package builder connects to a BuildKit daemon and runs Dockerfile builds on it through
// the BuildKit Go client and the daemon's built-in dockerfile.v0 frontend. No docker or
// buildctl binary is involved.
package builder

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// Endpoint says where a BuildKit daemon listens.
type Endpoint struct {
	Address string // unix:///path or tcp://host:port
	TLSDir  string // ca.pem, cert.pem, key.pem for tcp://
	// Dialer, when set, carries the connection instead of the address's own transport
	// (a docker-container builder is reached through the Docker API).
	Dialer func(ctx context.Context, addr string) (net.Conn, error)
}

// Connect dials the daemon and checks it answers, so a wrong address fails here with a
// clear message instead of in the middle of a build. When a tcp:// daemon does not answer,
// a TLS probe (tlsprobe.go) finds out what it expects, and the error names the input to fix
// (endpoint or endpoint-tls-dir) and what the daemon said.
func Connect(ctx context.Context, ep Endpoint) (*client.Client, error) {
	var opts []client.ClientOpt
	if ep.TLSDir != "" {
		opts = append(opts,
			client.WithServerConfig("", filepath.Join(ep.TLSDir, "ca.pem")),
			client.WithCredentials(filepath.Join(ep.TLSDir, "cert.pem"), filepath.Join(ep.TLSDir, "key.pem")))
	}
	if ep.Dialer != nil {
		opts = append(opts, client.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return ep.Dialer(ctx, addr)
		}))
	}
	c, err := client.New(ctx, ep.Address, opts...)
	if err != nil {
		if ep.TLSDir != "" {
			// The client loads ca.pem and the key pair before it dials
			// (moby/buildkit client/client.go loadCredentials).
			return nil, &inputs.Error{Input: "endpoint-tls-dir", Problem: fmt.Sprintf("the certificates in %s cannot be used for %s: %s (ca.pem: the CA that signed the daemon's certificate; cert.pem and key.pem: a client certificate and its private key, PEM)", ep.TLSDir, ep.Address, cleanMessage(err))}
		}
		return nil, fmt.Errorf("connect to BuildKit at %s: %w", ep.Address, err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := c.ListWorkers(pingCtx); err != nil {
		c.Close()
		var probe *TLSProbe
		if ep.Dialer == nil {
			probe = ProbeTLS(ctx, ep.Address, ep.TLSDir)
		}
		return nil, ConnectError(ep, err, probe)
	}
	return c, nil
}
