package netmodel

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timing here is asserted only from below (a shaped transfer takes at least what its
// profile says): a loaded machine can make a transfer slower, never faster. How close to
// the caps a transfer gets is measured behind the bench tag (caps_bench_test.go).

// sinkServer answers each connection: it reads an 8-byte length n, then n bytes, and
// writes back their sha256 followed by want bytes of its own payload, then closes.
func sinkServer(t *testing.T, payload []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var hdr [8]byte
				if _, err := io.ReadFull(c, hdr[:]); err != nil {
					return
				}
				h := sha256.New()
				if _, err := io.CopyN(h, c, int64(binary.BigEndian.Uint64(hdr[:]))); err != nil {
					return
				}
				c.Write(h.Sum(nil))
				c.Write(payload)
			}()
		}
	}()
	return ln.Addr().String()
}

func random(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func startRelay(t *testing.T, target string, p Profile) *Relay {
	t.Helper()
	r, err := Start(target, p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// exchange sends up through the relay and returns what came back.
func exchange(t *testing.T, addr string, up []byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(len(up)))
	go func() {
		c.Write(hdr[:])
		c.Write(up)
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestEveryByteArrivesInOrderAndIsCounted(t *testing.T) {
	down := random(5<<20+123, 1)
	target := sinkServer(t, down)
	shaped := Profile{Name: "test", RTT: 4 * time.Millisecond, SetupRTTs: 1, PerConn: 400 * mb, Total: 800 * mb}
	for _, p := range []Profile{Loopback, shaped} {
		t.Run(p.Name, func(t *testing.T) {
			r := startRelay(t, target, p)
			up := random(3<<20+77, 2)
			got := exchange(t, r.Addr(), up)
			sum := sha256.Sum256(up)
			if len(got) != 32+len(down) || !bytes.Equal(got[:32], sum[:]) || !bytes.Equal(got[32:], down) {
				t.Fatalf("through the relay: got %d bytes back (want %d), upload hash equal: %v", len(got), 32+len(down), len(got) >= 32 && bytes.Equal(got[:32], sum[:]))
			}
			// The server's writes are counted before it closes; give the relay's copy of
			// the last chunk a moment to be counted after the client saw it.
			wantUp, wantDown := int64(8+len(up)), int64(32+len(down))
			deadline := time.Now().Add(5 * time.Second)
			for {
				u, d := r.Counts()
				if u == wantUp && d == wantDown {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("Counts() = %d up, %d down; want %d, %d", u, d, wantUp, wantDown)
				}
				time.Sleep(5 * time.Millisecond)
			}
			if n := r.Connections(); n != 1 {
				t.Errorf("Connections() = %d, want 1", n)
			}
		})
	}
}

func TestRoundTripsCostTheProfilesRTT(t *testing.T) {
	target := sinkServer(t, []byte("ok"))
	p := Profile{Name: "test", RTT: 60 * time.Millisecond, SetupRTTs: 2}
	r := startRelay(t, target, p)
	start := time.Now()
	got := exchange(t, r.Addr(), []byte("ping"))
	elapsed := time.Since(start)
	if !strings.HasSuffix(string(got), "ok") {
		t.Fatalf("answer %q", got)
	}
	// Two set-up round trips, then the request there and the answer back.
	if want := 3 * p.RTT; elapsed < want {
		t.Fatalf("a request and its answer took %v through a %v-RTT relay with %d set-up round trips; want at least %v", elapsed, p.RTT, p.SetupRTTs, want)
	}
}

func TestPerConnectionCap(t *testing.T) {
	const n = 400_000
	target := sinkServer(t, random(n, 3))
	p := Profile{Name: "test", PerConn: 1 * mb}
	r := startRelay(t, target, p)
	start := time.Now()
	got := exchange(t, r.Addr(), nil)
	elapsed := time.Since(start)
	if len(got) != 32+n {
		t.Fatalf("got %d bytes, want %d", len(got), 32+n)
	}
	// 400 kB at 1 MB/s: 0.4 s, less the burst the pacer forgives.
	if want := 400*time.Millisecond - burst - 20*time.Millisecond; elapsed < want {
		t.Fatalf("%d bytes at a %d B/s cap took %v; want at least %v", n, p.PerConn, elapsed, want)
	}
}

func TestTotalCapIsSharedByConnections(t *testing.T) {
	const n = 200_000
	target := sinkServer(t, random(n, 4))
	// Each connection alone could go at 10 MB/s; together they get 1 MB/s.
	p := Profile{Name: "test", PerConn: 10 * mb, Total: 1 * mb}
	r := startRelay(t, target, p)
	start := time.Now()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if got := exchange(t, r.Addr(), nil); len(got) != 32+n {
				t.Errorf("got %d bytes, want %d", len(got), 32+n)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if want := 400*time.Millisecond - burst - 20*time.Millisecond; elapsed < want {
		t.Fatalf("2 × %d bytes under a shared 1 MB/s cap took %v; want at least %v", n, elapsed, want)
	}
}

func TestSetProfileShapesNewConnections(t *testing.T) {
	target := sinkServer(t, []byte("ok"))
	r := startRelay(t, target, Loopback)
	exchange(t, r.Addr(), nil)
	slow := Profile{Name: "slow", RTT: 80 * time.Millisecond, SetupRTTs: 1}
	r.SetProfile(slow)
	if got := r.Profile().Name; got != "slow" {
		t.Fatalf("Profile() = %q after SetProfile(slow)", got)
	}
	start := time.Now()
	exchange(t, r.Addr(), nil)
	if elapsed := time.Since(start); elapsed < 2*slow.RTT {
		t.Fatalf("a connection after SetProfile(%v) took %v; want at least %v", slow, elapsed, 2*slow.RTT)
	}
}

func TestCloseCutsOpenConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // a server that never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	r, err := Start(ln.Addr().String(), Loopback)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for r.Connections() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with a connection open")
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client's connection is still open after Close")
	}
}

func TestByName(t *testing.T) {
	for _, name := range []string{"loopback", "near", "far"} {
		p, err := ByName(name)
		if err != nil || p.Name != name {
			t.Errorf("ByName(%q) = %v, %v", name, p, err)
		}
		if p.Basis == "" {
			t.Errorf("profile %q says nothing of what its figures rest on", name)
		}
	}
	_, err := ByName("mars")
	if err == nil || !strings.Contains(err.Error(), `"mars"`) || !strings.Contains(err.Error(), "loopback, near, far") {
		t.Fatalf("ByName(mars) error = %v; want it to name the value and the choices", err)
	}
	if Far.RTT <= Near.RTT || Far.PerConn >= Near.PerConn || Far.Total >= Near.Total {
		t.Errorf("far (%v) is not farther than near (%v)", Far, Near)
	}
}
