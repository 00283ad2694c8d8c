package report

import (
	"io"
	"sync"
)

// lineGuard is the one writer under the log: it serialises BuildKit's progress, plain log
// lines and workflow commands, and starts a command on a line of its own. The runner
// takes a command only at the start of a line, and BuildKit's plain progress writes a
// step's log text and its newline in two writes (moby/buildkit v0.34.2
// util/progress/progressui/printer.go: `"#%d %s"`, then `Fprintln`), or leaves a partial
// line open: a command issued meanwhile (a cache client masking a signed URL while the
// build runs) would be printed as text — an ::add-mask:: showing the very value it was to
// hide.
type lineGuard struct {
	mu  sync.Mutex
	w   io.Writer
	mid bool // the last write did not end its line
}

func (g *lineGuard) write(p []byte, command bool) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if command && g.mid {
		if _, err := g.w.Write([]byte{'\n'}); err != nil {
			return 0, err
		}
		g.mid = false
	}
	n, err := g.w.Write(p)
	if n > 0 {
		g.mid = p[n-1] != '\n'
	}
	return n, err
}

// guardedWriter is one side of a lineGuard: commands (the go-githubactions writer) or
// text (progress, plain lines).
type guardedWriter struct {
	g       *lineGuard
	command bool
}

func (w guardedWriter) Write(p []byte) (int, error) { return w.g.write(p, w.command) }
