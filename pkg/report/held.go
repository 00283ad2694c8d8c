package report

import (
	"io"
	"sync"
)

// maxHeld bounds what a HeldWriter keeps: a build's progress while a mount cache is
// injected is kilobytes, and past this a log out of order beats memory without bound.
const maxHeld = 1 << 20

// HeldWriter keeps what is written to it until Release, then writes it on in the writes
// it came in (BuildKit's progress printer writes lines, and the writers below rely on
// it), and every later write straight through. A build that starts beside the mount
// caches' injection logs into one, so that its log follows the restore's group rather
// than interleaving with it. Workflow commands do not go through it: a mask still
// precedes the text it hides.
type HeldWriter struct {
	mu       sync.Mutex
	w        io.Writer
	held     [][]byte
	size     int
	released bool
}

// Hold returns a HeldWriter on w.
func Hold(w io.Writer) *HeldWriter { return &HeldWriter{w: w} }

func (h *HeldWriter) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.released && h.size+len(p) <= maxHeld {
		h.held = append(h.held, append([]byte(nil), p...))
		h.size += len(p)
		return len(p), nil
	}
	if err := h.flush(); err != nil {
		return 0, err
	}
	return h.w.Write(p)
}

// Release writes out what was held; later writes go straight through.
func (h *HeldWriter) Release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.flush()
}

func (h *HeldWriter) flush() error {
	h.released = true
	for len(h.held) > 0 {
		p := h.held[0]
		h.held[0], h.held = nil, h.held[1:]
		if _, err := h.w.Write(p); err != nil {
			return err
		}
	}
	h.size = 0
	return nil
}
