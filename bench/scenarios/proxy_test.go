//go:build bench

package scenarios

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingProxy is a TCP relay in front of Azurite that counts the bytes each way. Every
// blob the cache service hands out a signed URL for goes through it (the test points
// AZURITE_BLOB_URL at it), whoever moves the bytes: the action, the dance's steps or
// BuildKit's gha backend inside buildkitd. The counts are bytes on the wire, HTTP framing
// included; the small twirp JSON calls to the cache service itself are not counted.
type countingProxy struct {
	ln     net.Listener
	target string
	up     atomic.Int64 // client to storage: uploads
	down   atomic.Int64 // storage to client: downloads
	wg     sync.WaitGroup
}

func startCountingProxy(t testing.TB, target string) *countingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("counting proxy: %v", err)
	}
	p := &countingProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *countingProxy) Addr() string { return p.ln.Addr().String() }

// Counts returns the bytes uploaded and downloaded so far.
func (p *countingProxy) Counts() (up, down int64) { return p.up.Load(), p.down.Load() }

func (p *countingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.relay(c)
	}
}

func (p *countingProxy) relay(client net.Conn) {
	defer client.Close()
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyCounting(server, client, &p.up)
		if tc, ok := server.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}()
	copyCounting(client, server, &p.down)
	if tc, ok := client.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
	<-done
}

// copyCounting copies src to dst, adding every byte written to n as it goes (not at the
// end), so a snapshot between runs sees all of a finished run's traffic.
func copyCounting(dst io.Writer, src io.Reader, n *atomic.Int64) {
	buf := make([]byte, 256<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			w, werr := dst.Write(buf[:k])
			n.Add(int64(w))
			if werr != nil {
				return
			}
		}
		if err != nil { // io.EOF or a reset: either way this direction is done
			return
		}
	}
}
