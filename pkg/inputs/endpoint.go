package inputs

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Endpoint is where the BuildKit daemon listens.
type Endpoint struct {
	// Address is what the BuildKit client dials: unix:///path, tcp://host:port or
	// docker-container://name. Empty when no endpoint was given.
	Address string
	Scheme  string // unix, tcp, docker-container
	// TLSDir holds ca.pem, cert.pem and key.pem for tcp:// endpoints.
	TLSDir string
}

func (p *parser) endpoint() Endpoint {
	raw := p.str("endpoint", "")
	tlsDir := p.str("endpoint-tls-dir", "")
	if raw == "" {
		if tlsDir != "" {
			p.fail("endpoint-tls-dir", 0, "is set but endpoint is empty; give endpoint: tcp://host:port")
		}
		return Endpoint{}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		p.fail("endpoint", 0, fmt.Sprintf("%q is not an address; write unix:///run/buildkit/buildkitd.sock, tcp://host:1234 or docker-container://NAME", raw))
		return Endpoint{}
	}
	ep := Endpoint{Address: raw, Scheme: u.Scheme, TLSDir: tlsDir}
	switch u.Scheme {
	case "unix":
		if u.Path == "" {
			p.fail("endpoint", 0, fmt.Sprintf("%q has no socket path; write unix:///path/to/buildkitd.sock", raw))
		}
	case "tcp":
		if _, port, err := net.SplitHostPort(u.Host); err != nil || port == "" {
			p.fail("endpoint", 0, fmt.Sprintf("%q needs host:port, e.g. tcp://buildkitd:1234", raw))
		}
	case "docker-container":
		if u.Host == "" {
			p.fail("endpoint", 0, fmt.Sprintf("%q needs a container name, e.g. docker-container://buildx_buildkit_builder0", raw))
		}
	default:
		p.fail("endpoint", 0, fmt.Sprintf("scheme %q is not supported; use unix://, tcp:// or docker-container://", u.Scheme))
	}
	if tlsDir != "" {
		if u.Scheme != "tcp" {
			p.fail("endpoint-tls-dir", 0, fmt.Sprintf("TLS applies to tcp:// endpoints, not %s://", u.Scheme))
		}
		for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
			if err := fileReadable(filepath.Join(tlsDir, f)); err != nil {
				p.fail("endpoint-tls-dir", 0, fmt.Sprintf("%s: %v", f, err))
			}
		}
	}
	return ep
}

// fileReadable says in words why a path cannot be used as an input file.
func fileReadable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case os.IsNotExist(err):
		return fmt.Errorf("%s does not exist", path)
	case err != nil:
		return fmt.Errorf("cannot read %s: %v", path, unwrapPathError(err))
	case fi.IsDir():
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", path, unwrapPathError(err))
	}
	return f.Close()
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Has reports whether an endpoint was given.
func (e Endpoint) Has() bool { return strings.TrimSpace(e.Address) != "" }
