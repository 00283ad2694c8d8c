// Package imageload loads an image BuildKit exports into the Docker Engine, through the
// Engine's image load API (POST /images/load), the way `docker buildx build --load` does
// (docker/buildx util/dockerutil/client.go LoadImage): the exporter's tarball is streamed
// into the request through a pipe, never held in memory or written to disk, and the
// Engine's answer (a JSON message stream) is read to its end and checked for errors.
// No docker CLI is involved.
package imageload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/api/types/jsonstream"
	dockerclient "github.com/moby/moby/client"
)

// DefaultHost is where GitHub's runners mount the Docker socket into a container action
// (actions/runner src/Runner.Worker/Handlers/ContainerActionHandler.cs).
const DefaultHost = "unix:///var/run/docker.sock"

// Engine is a Docker Engine images are loaded into.
type Engine struct {
	host string
	c    *dockerclient.Client
	// OCIImporter is true when the Engine keeps images in the containerd image store,
	// which loads OCI tarballs with indexes and attestations (buildx util/dockerutil
	// Client.features: DriverStatus "driver-type" io.containerd.snapshotter.v1). The classic
	// store takes docker tarballs of one image per platform.
	OCIImporter bool
	// Version is the Engine's version, for the log.
	Version string
}

// Open connects to the Engine at host (DOCKER_HOST; empty: DefaultHost), negotiating the
// API version, and reads what its image store takes.
func Open(ctx context.Context, host string) (*Engine, error) {
	if host == "" {
		host = DefaultHost
	}
	if u, err := url.Parse(host); err == nil && u.Scheme == "unix" {
		if _, err := os.Stat(u.Path); err != nil {
			return nil, fmt.Errorf("no Docker socket at %s to load the image into: GitHub's runners mount /var/run/docker.sock into container actions; elsewhere set DOCKER_HOST", u.Path)
		}
	}
	c, err := dockerclient.New(dockerclient.WithHost(host), dockerclient.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("Docker client for %s: %w", host, err)
	}
	infoCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := c.Info(infoCtx, dockerclient.InfoOptions{})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("Docker Engine at %s, to load the image into, does not answer: %w", host, err)
	}
	e := &Engine{host: host, c: c, Version: res.Info.ServerVersion}
	for _, kv := range res.Info.DriverStatus {
		if kv[0] == "driver-type" && kv[1] == "io.containerd.snapshotter.v1" {
			e.OCIImporter = true
		}
	}
	return e, nil
}

// Host is the Engine's address.
func (e *Engine) Host() string { return e.host }

// Close closes the connection to the Engine.
func (e *Engine) Close() error { return e.c.Close() }

// Load is one image load in flight: the writer BuildKit's exporter writes the tarball to.
// The load starts with the first byte written; Close ends the tarball and waits for the
// Engine's answer, returning its error, if any.
type Load struct {
	ctx    context.Context
	engine *Engine
	logf   func(format string, args ...any)

	pr   *io.PipeReader
	pw   *io.PipeWriter
	once sync.Once
	done chan struct{}

	mu     sync.Mutex
	err    error
	loaded []string
}

// NewLoad prepares a load; logf receives the Engine's messages ("Loaded image: app:1"),
// already one line each, as the Engine wrote them (escape them for a log).
func (e *Engine) NewLoad(ctx context.Context, logf func(format string, args ...any)) *Load {
	pr, pw := io.Pipe()
	return &Load{ctx: ctx, engine: e, logf: logf, pr: pr, pw: pw, done: make(chan struct{})}
}

func (l *Load) start() {
	l.once.Do(func() { go l.run() })
}

func (l *Load) run() {
	defer close(l.done)
	// Not quiet, as buildx asks: the answer is then a JSON message stream on every API
	// version; readResponse drops the per-layer progress and keeps the result lines.
	resp, err := l.engine.c.ImageLoad(l.ctx, l.pr)
	if err == nil {
		var loaded []string
		loaded, err = readResponse(resp, l.logf)
		resp.Close()
		l.mu.Lock()
		l.loaded = loaded
		l.mu.Unlock()
	}
	if err != nil {
		err = fmt.Errorf("load into the Docker Engine at %s: %w", l.engine.host, err)
	}
	// The writer must not block once the Engine has stopped reading.
	if err != nil {
		l.pr.CloseWithError(err)
	} else {
		l.pr.CloseWithError(errors.New("the Docker Engine answered before the image tarball ended"))
	}
	l.mu.Lock()
	l.err = err
	l.mu.Unlock()
}

// Write sends tarball bytes to the Engine.
func (l *Load) Write(p []byte) (int, error) {
	l.start()
	n, err := l.pw.Write(p)
	if err != nil {
		if lerr := l.Err(); lerr != nil {
			return n, lerr
		}
	}
	return n, err
}

// Close ends the tarball and waits for the Engine to finish loading it.
func (l *Load) Close() error {
	l.start() // an empty tarball is still the Engine's to refuse
	l.pw.Close()
	<-l.done
	return l.Err()
}

// Err is the load's error, once Close returned.
func (l *Load) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Loaded lists what the Engine said it loaded ("app:1", or an image ID for an image
// without a name), once Close returned.
func (l *Load) Loaded() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.loaded...)
}

// readResponse reads the Engine's JSON message stream to its end (the load is finished
// only then), passing each stream line to logf, and returns what was loaded or the first
// error the Engine reported (buildx util/dockerutil/progress.go fromReader reads it so).
func readResponse(r io.Reader, logf func(string, ...any)) ([]string, error) {
	dec := json.NewDecoder(r)
	var loaded []string
	var first error
	for {
		var m struct {
			jsonstream.Message
			// Engines before API 1.4x sent only "error" with the text.
			ErrorText string `json:"error,omitempty"`
		}
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				break
			}
			if first != nil {
				return loaded, first
			}
			return loaded, fmt.Errorf("read the Engine's answer: %w", err)
		}
		switch {
		case m.Error != nil && m.Error.Message != "":
			if first == nil {
				first = errors.New(m.Error.Message)
			}
		case m.ErrorText != "":
			if first == nil {
				first = errors.New(m.ErrorText)
			}
		}
		for _, line := range strings.Split(strings.TrimRight(m.Stream, "\n"), "\n") {
			if line == "" {
				continue
			}
			if logf != nil {
				logf("%s", line)
			}
			for _, prefix := range []string{"Loaded image: ", "Loaded image ID: "} {
				if name, ok := strings.CutPrefix(line, prefix); ok {
					loaded = append(loaded, strings.TrimSpace(name))
				}
			}
		}
	}
	if first != nil {
		return loaded, first
	}
	if len(loaded) == 0 {
		return nil, errors.New("the Engine's answer names no loaded image")
	}
	return loaded, nil
}
