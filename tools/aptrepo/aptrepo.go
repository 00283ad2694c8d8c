// Package aptrepo is a stand-in for a Debian mirror in tests: a flat apt repository
// (sources.list: `deb [trusted=yes] <URL> ./`) serving a few packages made at test time,
// with an unsigned Release and a Packages index, on 127.0.0.1. It counts the requests
// per path, so a test can prove which .deb archives apt fetched and which it took from
// /var/cache/apt/archives.
//
// Formats: a flat repository's Release and Packages (https://wiki.debian.org/DebianRepository/Format,
// "Flat Repository Format"), a binary package as deb(5): an ar archive of debian-binary
// ("2.0\n"), control.tar.gz and data.tar.gz.
package aptrepo

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Package is one version of a package with no dependencies; it installs one file,
// /usr/share/<name>/version.
type Package struct {
	Name, Version string
}

// Repo serves packages and counts what it was asked.
type Repo struct {
	URL string // http://127.0.0.1:<port>

	srv   *http.Server
	files map[string][]byte // path -> content

	mu       sync.Mutex
	requests map[string]int
}

// Start builds each package's archive and the indexes, and serves them on a free port
// of 127.0.0.1.
func Start(pkgs ...Package) (*Repo, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("apt repository stand-in: %w", err)
	}
	r := &Repo{URL: "http://" + ln.Addr().String(), files: map[string][]byte{}, requests: map[string]int{}}
	var index bytes.Buffer
	for _, p := range pkgs {
		deb, err := Deb(p)
		if err != nil {
			ln.Close()
			return nil, err
		}
		r.files[DebPath(p)] = deb
		sum := sha256.Sum256(deb)
		fmt.Fprintf(&index, "Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: warmbuild tests <dev@warmbuild.invalid>\n"+
			"Filename: %s\nSize: %d\nSHA256: %s\nDescription: warmbuild test package\n\n", p.Name, p.Version, strings.TrimPrefix(DebPath(p), "/"), len(deb), hex.EncodeToString(sum[:]))
	}
	r.files["/Packages"] = index.Bytes()
	sum := sha256.Sum256(index.Bytes())
	r.files["/Release"] = []byte(fmt.Sprintf("Origin: warmbuild\nLabel: warmbuild\nDate: %s\nSHA256:\n %s %d Packages\n",
		time.Now().UTC().Format(time.RFC1123), hex.EncodeToString(sum[:]), index.Len()))
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// Close stops the server.
func (r *Repo) Close() error { return r.srv.Close() }

// SourcesLine is the sources.list line for the repository.
func (r *Repo) SourcesLine() string { return "deb [trusted=yes] " + r.URL + " ./" }

// DebPath is where a package's archive is served.
func DebPath(p Package) string { return "/" + p.Name + "_" + p.Version + "_all.deb" }

// Requests is how many times each path was asked for, so far.
func (r *Repo) Requests() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.requests))
	for k, v := range r.requests {
		out[k] = v
	}
	return out
}

// DebRequests counts the requests for archives (.deb), over all packages.
func (r *Repo) DebRequests() int {
	n := 0
	for p, c := range r.Requests() {
		if strings.HasSuffix(p, ".deb") {
			n += c
		}
	}
	return n
}

func (r *Repo) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	// apt asks a flat repository "./" for /./Release, /./<Filename>.
	p := path.Clean("/" + req.URL.Path)
	r.mu.Lock()
	r.requests[p]++
	r.mu.Unlock()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "read-only repository", http.StatusMethodNotAllowed)
		return
	}
	b, ok := r.files[p]
	if !ok {
		http.NotFound(w, req)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(b)
}

// Deb builds the package's binary archive (deb(5)).
func Deb(p Package) ([]byte, error) {
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: warmbuild tests <dev@warmbuild.invalid>\nDescription: warmbuild test package\n", p.Name, p.Version)
	ctl, err := tgz(map[string]string{"./control": control})
	if err != nil {
		return nil, err
	}
	// Some content, so an archive is more than its headers.
	data, err := tgz(map[string]string{"./usr/share/" + p.Name + "/version": p.Name + " " + p.Version + "\n" + strings.Repeat(p.Name+"\n", 512)})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for _, m := range []struct {
		name string
		data []byte
	}{{"debian-binary", []byte("2.0\n")}, {"control.tar.gz", ctl}, {"data.tar.gz", data}} {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8s%-10d`\n", m.name, 0, 0, 0, "100644", len(m.data))
		b.Write(m.data)
		if len(m.data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes(), nil
}

// tgz is a gzip-compressed tar of files (and the directories leading to them).
func tgz(files map[string]string) ([]byte, error) {
	var b bytes.Buffer
	gz := gzip.NewWriter(&b)
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for name, content := range files {
		parts := strings.Split(strings.TrimPrefix(name, "./"), "/")
		for i := 1; i < len(parts); i++ {
			d := "./" + strings.Join(parts[:i], "/") + "/"
			if dirs[d] {
				continue
			}
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
