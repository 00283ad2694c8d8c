//go:build bench

package netmodel

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// How close to its caps the relay gets, measured over at least a second each. The upper
// bounds are firm (the relay must never go faster than its cap: a loaded machine only
// slows it); the lower bounds are generous, since this machine is shared.
//
//	go test -tags bench -run TestCaps -v ./internal/netmodel

// streamServer sends each connection n bytes and closes.
func streamServer(t *testing.T, n int64) string {
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
				io.CopyN(c, zeros{}, n)
			}()
		}
	}()
	return ln.Addr().String()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func measureRate(t *testing.T, addr string, conns int) (bytesPerSec float64) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var total int64
	start := time.Now()
	for range conns {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			n, _ := io.Copy(io.Discard, c)
			mu.Lock()
			total += n
			mu.Unlock()
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

func TestCapsPerConnection(t *testing.T) {
	// 40 MB at 30 MB/s per connection: about 1.3 s.
	r := startRelay(t, streamServer(t, 40*mb), Profile{Name: "cap", PerConn: 30 * mb})
	got := measureRate(t, r.Addr(), 1)
	t.Logf("one connection under a 30 MB/s cap: %.1f MB/s", got/mb)
	if got > 30*mb*1.05 || got < 30*mb*0.5 {
		t.Fatalf("one connection: %.1f MB/s; want at most 31.5 and at least 15", got/mb)
	}
}

func TestCapsTotal(t *testing.T) {
	// 8 connections of 20 MB, each capped at 30 MB/s, together at 60 MB/s: about 2.7 s.
	r := startRelay(t, streamServer(t, 20*mb), Profile{Name: "cap", PerConn: 30 * mb, Total: 60 * mb})
	got := measureRate(t, r.Addr(), 8)
	t.Logf("8 connections under a 60 MB/s total cap: %.1f MB/s", got/mb)
	if got > 60*mb*1.05 || got < 60*mb*0.5 {
		t.Fatalf("8 connections: %.1f MB/s; want at most 63 and at least 30", got/mb)
	}
}

func TestCapsFarProfile(t *testing.T) {
	// The far profile end to end: one stream near 30 MB/s, four near the 125 MB/s link.
	r := startRelay(t, streamServer(t, 60*mb), Far)
	one := measureRate(t, r.Addr(), 1)
	four := measureRate(t, r.Addr(), 4)
	t.Logf("far: one connection %.1f MB/s, four %.1f MB/s", one/mb, four/mb)
	if one > float64(Far.PerConn)*1.05 || four > float64(Far.Total)*1.05 {
		t.Fatalf("far went faster than its caps: one %.1f MB/s, four %.1f MB/s", one/mb, four/mb)
	}
	if four < 2*one*0.8 {
		t.Errorf("four connections (%.1f MB/s) are not much faster than one (%.1f MB/s)", four/mb, one/mb)
	}
}
