package netmodel

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// chunkSize is the most one read moves at once; the caps are paced per chunk.
const chunkSize = 64 << 10

// inFlight is how many chunks may be on the wire, each way, per connection: 4 MiB, more
// than a capped connection carries in a round trip (30 MB/s × 30 ms ≈ 0.9 MB; 100 MB/s ×
// 2 ms = 0.2 MB), so the window never becomes a cap of its own. It also bounds the
// relay's memory per connection.
const inFlight = 64

// burst is how far behind its schedule a paced stream may fall (a late timer on a busy
// machine) and still catch up, so an overslept wake-up does not lower the rate.
const burst = 10 * time.Millisecond

// Relay is a TCP relay in front of one target address, shaping every connection with a
// Profile. It counts the bytes each way: bytes on the wire, HTTP framing included.
type Relay struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	profile Profile
	total   [2]*pacer // the shared caps of the profile, one per direction
	conns   map[net.Conn]struct{}
	closed  bool

	up, down atomic.Int64 // client to target, target to client
	accepted atomic.Int64
	wg       sync.WaitGroup
}

// Start listens on 127.0.0.1 and relays every connection to target under p.
func Start(target string, p Profile) (*Relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netmodel relay to %s: %w", target, err)
	}
	r := &Relay{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	r.SetProfile(p)
	r.wg.Add(1)
	go r.serve()
	return r, nil
}

// Addr is the relay's host:port.
func (r *Relay) Addr() string { return r.ln.Addr().String() }

// SetProfile shapes the connections accepted from now on with p (connections already
// open keep the profile they started with, as a transfer in flight would).
func (r *Relay) SetProfile(p Profile) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.profile = p
	r.total = [2]*pacer{newPacer(p.Total), newPacer(p.Total)}
}

// Profile is the profile new connections get.
func (r *Relay) Profile() Profile {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.profile
}

// Counts returns the bytes relayed so far: up is client to target, down the other way.
// Bytes are counted as they are written, so a snapshot after a transfer finished sees
// all of it.
func (r *Relay) Counts() (up, down int64) { return r.up.Load(), r.down.Load() }

// Connections is how many connections the relay has accepted.
func (r *Relay) Connections() int64 { return r.accepted.Load() }

// Close stops listening, cuts every open connection and waits for them to end.
func (r *Relay) Close() error {
	err := r.ln.Close()
	r.mu.Lock()
	r.closed = true
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return err
}

func (r *Relay) serve() {
	defer r.wg.Done()
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			c.Close()
			return
		}
		r.conns[c] = struct{}{}
		p, total := r.profile, r.total
		r.mu.Unlock()
		r.accepted.Add(1)
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.relay(c, p, total)
			r.mu.Lock()
			delete(r.conns, c)
			r.mu.Unlock()
		}()
	}
}

func (r *Relay) relay(client net.Conn, p Profile, total [2]*pacer) {
	defer client.Close()
	server, err := net.DialTimeout("tcp", r.target, 10*time.Second)
	if err != nil {
		return // the client sees its connection closed, as with a refused connect
	}
	defer server.Close()
	r.mu.Lock()
	if r.closed {
		// Close ran while this connection dialled: it cut the client but could not see
		// this server connection, whose pipe would then wait on a silent server forever.
		r.mu.Unlock()
		return
	}
	r.conns[server] = struct{}{}
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.conns, server)
		r.mu.Unlock()
	}()
	// The handshakes a real connection pays before its request can leave. The client's
	// bytes wait in its socket meanwhile, as they would wait for the handshake.
	time.Sleep(time.Duration(p.SetupRTTs) * p.RTT)

	var wg sync.WaitGroup
	wg.Go(func() { pipe(server, client, p.RTT/2, newPacer(p.PerConn), total[0], &r.up) })
	pipe(client, server, p.RTT/2, newPacer(p.PerConn), total[1], &r.down)
	wg.Wait()
}

type chunk struct {
	data []byte
	at   time.Time // when it reaches the other side, before the caps
}

// pipe moves src to dst, each chunk delivered delay after it was read and no faster than
// both pacers allow, and half-closes dst when src ends. A chunk is read as soon as it
// arrives (up to inFlight chunks ahead), so a long delay does not slow a stream down:
// only the caps do. n counts what was written.
func pipe(dst, src net.Conn, delay time.Duration, conn, total *pacer, n *atomic.Int64) {
	ch := make(chan chunk, inFlight)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, chunkSize)
			k, err := src.Read(buf)
			if k > 0 {
				ch <- chunk{data: buf[:k], at: time.Now().Add(delay)}
			}
			if err != nil { // EOF or a reset: either way this direction is done
				return
			}
		}
	}()
	failed := false
	for c := range ch {
		if failed {
			continue // drain, so the reader is never stuck on a full channel
		}
		sleepUntil(c.at)
		sleepUntil(total.pace(len(c.data), conn.pace(len(c.data), time.Now())))
		k, err := dst.Write(c.data)
		n.Add(int64(k))
		if err != nil {
			failed = true
			src.Close() // the other end is gone: stop reading this side too
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok && !failed {
		_ = tc.CloseWrite()
	}
}

func sleepUntil(t time.Time) {
	if d := time.Until(t); d > 0 {
		time.Sleep(d)
	}
}

// pacer spaces bytes to a rate: a byte count reserved at a time is done no earlier than
// the rate allows after everything reserved before it.
type pacer struct {
	mu   sync.Mutex
	rate float64 // bytes per second; 0 is no cap
	next time.Time
}

func newPacer(rate int64) *pacer { return &pacer{rate: float64(rate)} }

// pace reserves n bytes that are ready at ready and returns when they may be written.
func (p *pacer) pace(n int, ready time.Time) time.Time {
	if p.rate == 0 {
		return ready
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	start := p.next
	if floor := ready.Add(-burst); start.Before(floor) {
		start = floor // idle or behind by more than the burst: no saved-up credit
	}
	p.next = start.Add(time.Duration(float64(n) / p.rate * float64(time.Second)))
	if p.next.Before(ready) {
		return ready
	}
	return p.next
}
