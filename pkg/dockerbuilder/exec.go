package dockerbuilder

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	dockerclient "github.com/moby/moby/client"
)

// execDialer reaches BuildKit in a container through `buildctl dial-stdio` (buildx
// driver/docker-container/driver.go Dial). Each dial gets its own short-lived Docker client:
// the exec's hijacked connection outlives the client, so nothing has to be closed later.
type execDialer struct {
	host      string
	container string
}

// Dial starts `buildctl dial-stdio` in the container and returns its stdin/stdout as a
// connection to buildkitd.
func (x execDialer) Dial(ctx context.Context, _ string) (net.Conn, error) {
	c, err := newDockerClient(x.host)
	if err != nil {
		return nil, fmt.Errorf("Docker client for %s: %w", x.host, err)
	}
	defer c.Close()
	conn, _, err := startExec(ctx, c, x.container, []string{"buildctl", "dial-stdio"})
	if err != nil {
		return nil, fmt.Errorf("dial BuildKit in container %s: %w", x.container, err)
	}
	return newStdioConn(conn), nil
}

// startExec runs cmd in the container with stdin, stdout and stderr attached.
func startExec(ctx context.Context, c *dockerclient.Client, ctr string, cmd []string) (net.Conn, string, error) {
	ex, err := c.ExecCreate(ctx, ctr, dockerclient.ExecCreateOptions{
		Cmd: cmd, AttachStdin: true, AttachStdout: true, AttachStderr: true,
	})
	if err != nil {
		return nil, "", fmt.Errorf("exec %s: %w", strings.Join(cmd, " "), err)
	}
	if ex.ID == "" {
		return nil, "", fmt.Errorf("exec %s: Docker returned no exec ID", strings.Join(cmd, " "))
	}
	att, err := c.ExecAttach(ctx, ex.ID, dockerclient.ExecAttachOptions{})
	if err != nil {
		return nil, "", fmt.Errorf("attach to exec %s: %w", strings.Join(cmd, " "), err)
	}
	return att.Conn, ex.ID, nil
}

// execOutput runs cmd in the container to completion and returns its combined output; a
// non-zero exit is an error.
func execOutput(ctx context.Context, c *dockerclient.Client, ctr string, cmd []string) (string, error) {
	conn, id, err := startExec(ctx, c, ctr, cmd)
	if err != nil {
		return "", err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var out limitedBuffer
	out.max = 4096
	_, copyErr := stdcopy.StdCopy(&out, &out, conn)
	conn.Close()
	if copyErr != nil {
		return out.String(), fmt.Errorf("read exec output: %w", copyErr)
	}
	res, err := c.ExecInspect(ctx, id, dockerclient.ExecInspectOptions{})
	if err != nil {
		return out.String(), fmt.Errorf("inspect exec: %w", err)
	}
	if res.ExitCode != 0 {
		return out.String(), fmt.Errorf("%s exited with code %d", strings.Join(cmd, " "), res.ExitCode)
	}
	return out.String(), nil
}

// containerLogTail is the end of a container's log, for an error message; empty on failure.
func containerLogTail(ctx context.Context, c *dockerclient.Client, name string) string {
	rc, err := c.ContainerLogs(ctx, name, dockerclient.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "20"})
	if err != nil {
		return ""
	}
	defer rc.Close()
	var out limitedBuffer
	out.max = 8192
	if _, err := stdcopy.StdCopy(&out, &out, rc); err != nil && out.Len() == 0 {
		return ""
	}
	if s := strings.TrimSpace(out.String()); s != "" {
		return "\ncontainer log:\n" + s
	}
	return ""
}

// stdioConn is the exec's connection with Docker's stdout/stderr framing taken off reads:
// writes go to the process's stdin as they are, reads return its stdout, and its stderr is
// kept (the tail) to explain a stream that ends early.
type stdioConn struct {
	net.Conn
	stdout *io.PipeReader
	stderr *limitedBuffer
}

func newStdioConn(c net.Conn) *stdioConn {
	pr, pw := io.Pipe()
	sc := &stdioConn{Conn: c, stdout: pr, stderr: &limitedBuffer{max: 4096}}
	go func() {
		_, err := stdcopy.StdCopy(pw, sc.stderr, c)
		if err == nil && sc.stderr.Len() > 0 {
			// The process ended; what it said on stderr is why (buildctl missing, no daemon).
			err = fmt.Errorf("buildctl dial-stdio ended: %s", strings.TrimSpace(sc.stderr.String()))
		}
		pw.CloseWithError(err)
	}()
	return sc
}

func (s *stdioConn) Read(p []byte) (int, error) { return s.stdout.Read(p) }

func (s *stdioConn) Close() error {
	err := s.Conn.Close()
	s.stdout.Close()
	return err
}

// limitedBuffer keeps the last max bytes written to it; safe for concurrent use.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *limitedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}
