// Package goproxy is a stand-in for a Go module proxy in tests (GOPROXY protocol: GET
// <module>/@v/list, <version>.info, .mod, .zip): it serves a few modules made at test time
// on 127.0.0.1 and counts the requests per path, so a test can prove which modules go
// downloaded and which came from its module cache.
package goproxy

import (
	"archive/zip"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Module is one version of a module with no dependencies and one package.
type Module struct {
	Path, Version string // "wb.test/left", "v1.0.0"
}

// Proxy serves modules and counts what it was asked.
type Proxy struct {
	URL string

	srv   *http.Server
	files map[string][]byte // request path -> body
	mu    sync.Mutex
	reqs  map[string]int
}

// Start makes each module's files and serves them on a free port of 127.0.0.1.
func Start(mods ...Module) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("go module proxy stand-in: %w", err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), files: map[string][]byte{}, reqs: map[string]int{}}
	lists := map[string][]string{}
	for _, m := range mods {
		z, err := moduleZip(m)
		if err != nil {
			ln.Close()
			return nil, err
		}
		base := "/" + m.Path + "/@v/" + m.Version
		p.files[base+".info"] = fmt.Appendf(nil, `{"Version":%q,"Time":"2020-01-01T00:00:00Z"}`, m.Version)
		p.files[base+".mod"] = []byte(goMod(m))
		p.files[base+".zip"] = z
		lists[m.Path] = append(lists[m.Path], m.Version)
	}
	for path, vs := range lists {
		p.files["/"+path+"/@v/list"] = []byte(strings.Join(vs, "\n") + "\n")
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go p.srv.Serve(ln)
	return p, nil
}

// Close stops the server.
func (p *Proxy) Close() error { return p.srv.Close() }

// ZipPath is the request path of a module's zip.
func ZipPath(m Module) string { return "/" + m.Path + "/@v/" + m.Version + ".zip" }

// Requests is how many times each path was asked for, so far.
func (p *Proxy) Requests() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.reqs))
	for k, v := range p.reqs {
		out[k] = v
	}
	return out
}

// ZipRequests counts the requests for module zips, over all modules.
func (p *Proxy) ZipRequests() int {
	n := 0
	for k, v := range p.Requests() {
		if strings.HasSuffix(k, ".zip") {
			n += v
		}
	}
	return n
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.reqs[r.URL.Path]++
	p.mu.Unlock()
	body, ok := p.files[r.URL.Path]
	if !ok || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
		http.NotFound(w, r)
		return
	}
	w.Write(body)
}

func goMod(m Module) string { return "module " + m.Path + "\n\ngo 1.21\n" }

// moduleZip is the module zip go expects: every file under <path>@<version>/.
func moduleZip(m Module) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	name := m.Path[strings.LastIndex(m.Path, "/")+1:]
	for file, body := range map[string]string{
		"go.mod":     goMod(m),
		name + ".go": fmt.Sprintf("package %s\n\n// Version is the module's version.\nconst Version = %q\n", name, m.Version),
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: m.Path + "@" + m.Version + "/" + file, Method: zip.Deflate, Modified: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(body)); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
