package ghaaccel

import "sync"

// Held blocks (1 MiB from azblob's UploadStream) and download ranges (RangeSize) are
// reused rather than left to the collector: under the action's 64 MiB soft memory limit
// (main.go) a fresh slice per block made the heap, not the budget, decide the footprint.
type bufferPool struct {
	small     sync.Pool // cap 1 MiB
	large     sync.Pool // cap largeSize
	largeSize int
}

const smallBuf = 1 << 20

func (p *bufferPool) get(n int) []byte {
	switch {
	case n <= smallBuf:
		if b, ok := p.small.Get().(*[]byte); ok {
			return (*b)[:n]
		}
		return make([]byte, n, smallBuf)
	case n <= p.largeSize:
		if b, ok := p.large.Get().(*[]byte); ok {
			return (*b)[:n]
		}
		return make([]byte, n, p.largeSize)
	}
	return make([]byte, n)
}

func (p *bufferPool) put(b []byte) {
	switch cap(b) {
	case smallBuf:
		b = b[:0]
		p.small.Put(&b)
	case p.largeSize:
		b = b[:0]
		p.large.Put(&b)
	}
}
