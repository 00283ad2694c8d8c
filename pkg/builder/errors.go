package builder

import (
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/solver/errdefs"
	"google.golang.org/grpc/status"
)

// BuildError is a failed build, located in the Dockerfile where BuildKit could tell.
type BuildError struct {
	File    string // the Dockerfile as the user named it
	Line    int    // 1-based; 0 when unknown
	EndLine int
	Step    string // the failing vertex, e.g. "[2/4] RUN pip install -r requirements.txt"
	Message string // BuildKit's message, without the stack of wrapping
	Log     string // last lines the failing step printed
	err     error
}

func (e *BuildError) Error() string {
	var b strings.Builder
	if e.Step != "" {
		fmt.Fprintf(&b, "%s: ", e.Step)
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.err }

func newBuildError(err error, dockerfile string, rec *stepRecorder) *BuildError {
	be := &BuildError{File: dockerfile, Message: cleanMessage(err), err: err}
	for _, src := range errdefs.Sources(err) {
		if src.Info == nil || len(src.Ranges) == 0 {
			continue
		}
		be.Line = int(src.Ranges[0].Start.Line)
		be.EndLine = int(src.Ranges[len(src.Ranges)-1].End.Line)
		break
	}
	rec.mu.Lock()
	for _, d := range rec.order {
		v := rec.vertices[d]
		if v.Error != "" && !strings.Contains(v.Error, "context canceled") {
			be.Step = v.Name
			if l := rec.logs[d]; l != nil {
				be.Log = lastLines(l.String(), 20)
			}
			break
		}
	}
	rec.mu.Unlock()
	return be
}

// cleanMessage drops gRPC's "rpc error: code = Unknown desc =" prefix that means nothing
// to a user.
func cleanMessage(err error) string {
	msg := err.Error()
	if st, ok := status.FromError(errors.Unwrap(err)); ok && st.Message() != "" {
		msg = st.Message()
	}
	for {
		i := strings.Index(msg, "desc = ")
		if i < 0 {
			break
		}
		msg = msg[i+len("desc = "):]
	}
	return strings.TrimSpace(msg)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
