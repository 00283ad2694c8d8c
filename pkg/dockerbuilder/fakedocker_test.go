package dockerbuilder

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	dockerclient "github.com/moby/moby/client"
)

// fakeDocker is the part of the Docker Engine API this package uses, served on a unix
// socket: containers (inspect, list, create, start), images (inspect), and execs whose
// commands are played by Go functions over the real hijacked-stream protocol and framing.
type fakeDocker struct {
	t    *testing.T
	host string // unix:///.../docker.sock

	mu         sync.Mutex
	containers map[string]*fakeContainer // by name
	images     map[string]bool
	execs      map[string]*fakeExec
	created    []dockerclient.ContainerCreateOptions // create requests, in order
	started    []string
	removed    []string
	// refusePrivileged makes starting a privileged container fail, as on hosts whose
	// capability bounding set is short ("unable to apply caps").
	refusePrivileged bool
	// commands play an exec'd command: stdin in, stdout/stderr frames out, exit code back.
	commands map[string]func(stdin io.Reader, stdout, stderr io.Writer) int
}

type fakeContainer struct {
	Name       string
	Image      string
	Running    bool
	Privileged bool
	// HostNetwork or Networks (name -> endpoint) are what inspect reports.
	HostNetwork bool
	Networks    map[string]Attachment
}

type fakeExec struct {
	Container string
	Cmd       []string
	ExitCode  int
	Done      bool
}

func newFakeDocker(t *testing.T) *fakeDocker {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "docker.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDocker{
		t: t, host: "unix://" + sock,
		containers: map[string]*fakeContainer{}, images: map[string]bool{}, execs: map[string]*fakeExec{},
		commands: map[string]func(io.Reader, io.Writer, io.Writer) int{},
	}
	srv := &http.Server{Handler: http.HandlerFunc(f.serve), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return f
}

// env points Options at the fake daemon; extra holds knobs by variable name.
func (f *fakeDocker) env(extra map[string]string) Env {
	e := Env{DockerHost: f.host, Security: extra[EnvSecurity], Network: extra[EnvNetwork]}
	if v, ok := extra[EnvDockerHost]; ok {
		e.DockerHost = v
	}
	return e
}

func (f *fakeDocker) addContainer(name, image string, running bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.containers[name] = &fakeContainer{Name: name, Image: image, Running: running}
}

func (f *fakeDocker) serve(w http.ResponseWriter, r *http.Request) {
	path := regexp.MustCompile(`^/v[0-9.]+`).ReplaceAllString(r.URL.Path, "")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	w.Header().Set("Api-Version", "1.41")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case path == "/_ping":
		io.WriteString(w, "OK")
	case path == "/containers/json":
		var out []container.Summary
		for _, c := range f.containers {
			out = append(out, container.Summary{Names: []string{"/" + c.Name}, Image: c.Image})
		}
		writeJSON(w, out)
	case path == "/containers/create":
		var body struct {
			container.Config
			HostConfig *container.HostConfig
		}
		json.NewDecoder(r.Body).Decode(&body)
		name := r.URL.Query().Get("name")
		if _, ok := f.containers[name]; ok {
			http.Error(w, `{"message":"Conflict. The container name is already in use"}`, http.StatusConflict)
			return
		}
		cfg := body.Config
		f.created = append(f.created, dockerclient.ContainerCreateOptions{Name: name, Config: &cfg, HostConfig: body.HostConfig})
		f.containers[name] = &fakeContainer{Name: name, Image: body.Image, Privileged: body.HostConfig != nil && body.HostConfig.Privileged}
		writeJSON(w, container.CreateResponse{ID: name})
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "json":
		c, ok := f.containers[parts[1]]
		if !ok {
			http.Error(w, `{"message":"No such container: `+parts[1]+`"}`, http.StatusNotFound)
			return
		}
		started := time.Now().Add(-time.Hour).Format(time.RFC3339Nano)
		resp := container.InspectResponse{ID: c.Name, Name: "/" + c.Name, Config: &container.Config{Image: c.Image},
			State: &container.State{Running: c.Running, StartedAt: started}, HostConfig: &container.HostConfig{},
			NetworkSettings: &container.NetworkSettings{Networks: map[string]*network.EndpointSettings{}}}
		if c.HostNetwork {
			resp.HostConfig.NetworkMode = "host"
		}
		for name, a := range c.Networks {
			ep := &network.EndpointSettings{NetworkID: a.ID}
			ep.IPAddress, _ = netip.ParseAddr(a.IP)
			resp.NetworkSettings.Networks[name] = ep
		}
		writeJSON(w, resp)
	case r.Method == http.MethodDelete && len(parts) == 2 && parts[0] == "containers":
		delete(f.containers, parts[1])
		f.removed = append(f.removed, parts[1])
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "logs":
		frameWriter{w, 2}.Write([]byte("buildkitd: no worker found\n"))
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "start":
		c, ok := f.containers[parts[1]]
		if !ok {
			http.Error(w, `{"message":"No such container"}`, http.StatusNotFound)
			return
		}
		if c.Privileged && f.refusePrivileged {
			http.Error(w, `{"message":"OCI runtime create failed: unable to apply caps: operation not permitted"}`, http.StatusInternalServerError)
			return
		}
		c.Running = true
		f.started = append(f.started, c.Name)
		w.WriteHeader(http.StatusNoContent)
	case len(parts) == 3 && parts[0] == "containers" && parts[2] == "exec":
		var req container.ExecCreateRequest
		json.NewDecoder(r.Body).Decode(&req)
		if c, ok := f.containers[parts[1]]; !ok || !c.Running {
			http.Error(w, `{"message":"container not running"}`, http.StatusConflict)
			return
		}
		id := fmt.Sprintf("exec%d", len(f.execs)+1)
		f.execs[id] = &fakeExec{Container: parts[1], Cmd: req.Cmd}
		writeJSON(w, container.ExecCreateResponse{ID: id})
	case len(parts) == 3 && parts[0] == "exec" && parts[2] == "start":
		ex := f.execs[parts[1]]
		play := f.commands[strings.Join(ex.Cmd, " ")]
		io.Copy(io.Discard, r.Body) // the start request's JSON is not stdin
		f.mu.Unlock()
		f.hijack(w, ex, play)
		f.mu.Lock()
	case len(parts) == 3 && parts[0] == "exec" && parts[2] == "json":
		ex := f.execs[parts[1]]
		code := ex.ExitCode
		writeJSON(w, container.ExecInspectResponse{ID: parts[1], ExitCode: &code, Running: !ex.Done})
	case len(parts) >= 3 && parts[0] == "images" && parts[len(parts)-1] == "json":
		name := strings.Join(parts[1:len(parts)-1], "/")
		if !f.images[name] {
			http.Error(w, `{"message":"No such image: `+name+`"}`, http.StatusNotFound)
			return
		}
		writeJSON(w, map[string]any{"Id": "sha256:0", "RepoTags": []string{name}})
	default:
		f.t.Errorf("fake Docker: unexpected %s %s", r.Method, r.URL.Path)
		http.Error(w, `{"message":"not implemented by the fake"}`, http.StatusNotImplemented)
	}
}

// hijack answers an exec start the way dockerd does: 101, then the raw stream with stdout
// and stderr framed (8-byte headers), stdin read unframed.
func (f *fakeDocker) hijack(w http.ResponseWriter, ex *fakeExec, play func(io.Reader, io.Writer, io.Writer) int) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		f.t.Errorf("hijack: %v", err)
		return
	}
	defer conn.Close()
	fmt.Fprint(buf, "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.multiplexed-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
	buf.Flush()
	code := 127
	if play != nil {
		code = play(buf.Reader, frameWriter{conn, 1}, frameWriter{conn, 2})
	} else {
		frameWriter{conn, 2}.Write([]byte("exec: " + strings.Join(ex.Cmd, " ") + ": not found\n"))
	}
	f.mu.Lock()
	ex.ExitCode, ex.Done = code, true
	f.mu.Unlock()
}

type frameWriter struct {
	w      io.Writer
	stream byte
}

func (fw frameWriter) Write(p []byte) (int, error) {
	hdr := make([]byte, 8)
	hdr[0] = fw.stream
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
	if _, err := fw.w.Write(append(hdr, p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
