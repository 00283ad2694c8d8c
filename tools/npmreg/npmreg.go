// Package npmreg is a stand-in for the npm registry in tests: it serves a few packages
// made at test time (packuments and tarballs, as registry.npmjs.org does: GET /<name>
// and GET /<name>/-/<name>-<version>.tgz) on 127.0.0.1, and counts the requests per
// path, so a test can prove which tarballs npm, pnpm or yarn fetched and which came from
// their caches. A client asking for the abbreviated metadata (Accept:
// application/vnd.npm.install-v1+json, as pnpm and npm do) gets it, as from the real
// registry (npm/registry docs/responses/package-metadata.md).
package npmreg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Package is one version of a package with no dependencies.
type Package struct {
	Name, Version string
}

// Registry serves packages and counts what it was asked.
type Registry struct {
	URL string // http://127.0.0.1:<port>

	srv      *http.Server
	ln       net.Listener
	tarballs map[string][]byte // path -> .tgz
	pkgs     map[string][]Package

	mu       sync.Mutex
	requests map[string]int
}

// Start makes each package's tarball and serves them on a free port of 127.0.0.1.
func Start(pkgs ...Package) (*Registry, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("npm registry stand-in: %w", err)
	}
	r := &Registry{URL: "http://" + ln.Addr().String(), ln: ln, tarballs: map[string][]byte{}, pkgs: map[string][]Package{}, requests: map[string]int{}}
	for _, p := range pkgs {
		tgz, err := tarball(p)
		if err != nil {
			ln.Close()
			return nil, err
		}
		r.tarballs[TarballPath(p)] = tgz
		r.pkgs[p.Name] = append(r.pkgs[p.Name], p)
	}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 10 * time.Second}
	go r.srv.Serve(ln)
	return r, nil
}

// Close stops the server.
func (r *Registry) Close() error { return r.srv.Close() }

// TarballPath is where a package's tarball is served, as on the real registry.
func TarballPath(p Package) string {
	return "/" + p.Name + "/-/" + p.Name + "-" + p.Version + ".tgz"
}

// Tarball is the URL of the package's tarball (a lockfile's "resolved").
func (r *Registry) Tarball(p Package) string { return r.URL + TarballPath(p) }

// Integrity is the package's tarball's sha512 integrity (a lockfile's "integrity").
func (r *Registry) Integrity(p Package) string {
	sum := sha512.Sum512(r.tarballs[TarballPath(p)])
	return "sha512-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Requests is how many times each path was asked for, so far.
func (r *Registry) Requests() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.requests))
	for k, v := range r.requests {
		out[k] = v
	}
	return out
}

// TarballRequests counts the requests for tarballs (.tgz), over all packages.
func (r *Registry) TarballRequests() int {
	n := 0
	for p, c := range r.Requests() {
		if strings.HasSuffix(p, ".tgz") {
			n += c
		}
	}
	return n
}

func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests[req.URL.Path]++
	r.mu.Unlock()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "read-only registry", http.StatusMethodNotAllowed)
		return
	}
	if tgz, ok := r.tarballs[req.URL.Path]; ok {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(tgz)
		return
	}
	name := strings.TrimPrefix(req.URL.Path, "/")
	versions, ok := r.pkgs[strings.ReplaceAll(name, "%2f", "/")]
	if !ok {
		http.Error(w, `{"error":"Not found"}`, http.StatusNotFound)
		return
	}
	// The registry answers per Accept, and says so to caches.
	w.Header().Set("Vary", "Accept")
	if strings.Contains(req.Header.Get("Accept"), abbreviatedType) {
		w.Header().Set("Content-Type", abbreviatedType)
		json.NewEncoder(w).Encode(r.abbreviated(name, versions))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(r.packument(name, versions))
}

// abbreviatedType is the media type of the abbreviated ("corgi") metadata document.
const abbreviatedType = "application/vnd.npm.install-v1+json"

// published is the (fixed) time every version was published.
var published = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339)

// abbreviated is the install metadata of a package: name, modified, dist-tags and, per
// version, only what an installer needs (name, version, dependencies, dist).
func (r *Registry) abbreviated(name string, versions []Package) map[string]any {
	doc := r.packument(name, versions)
	for _, v := range doc["versions"].(map[string]any) {
		delete(v.(map[string]any), "_id")
	}
	delete(doc, "_id")
	delete(doc, "time")
	doc["modified"] = published
	return doc
}

// packument is the registry's document for a package: every version with its dist.
func (r *Registry) packument(name string, versions []Package) map[string]any {
	vs, times := map[string]any{}, map[string]string{}
	var latest []string
	for _, p := range versions {
		tgz := r.tarballs[TarballPath(p)]
		sha := sha1.Sum(tgz)
		vs[p.Version] = map[string]any{
			"_id": p.Name + "@" + p.Version, "name": p.Name, "version": p.Version, "dependencies": map[string]string{},
			"dist": map[string]any{"tarball": r.Tarball(p), "integrity": r.Integrity(p), "shasum": hex.EncodeToString(sha[:])},
		}
		latest = append(latest, p.Version)
		times[p.Version] = published
	}
	sort.Strings(latest)
	times["created"], times["modified"] = published, published
	return map[string]any{"_id": name, "name": name, "dist-tags": map[string]string{"latest": latest[len(latest)-1]}, "versions": vs, "time": times}
}

// tarball is an npm package tarball: package/package.json and package/index.js, with
// fixed times so the same package gives the same bytes (and integrity) every time.
func tarball(p Package) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	manifest, _ := json.Marshal(map[string]string{"name": p.Name, "version": p.Version, "main": "index.js"})
	files := []struct{ name, body string }{
		{"package/package.json", string(manifest) + "\n"},
		{"package/index.js", fmt.Sprintf("module.exports = %q;\n", p.Name+"@"+p.Version)},
	}
	mtime := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Lockfile writes package.json and package-lock.json (lockfileVersion 3, as npm 7+
// writes it) depending on exactly pkgs at their versions, resolved on this registry.
func (r *Registry) Lockfile(pkgs ...Package) (packageJSON, lock []byte) {
	deps := map[string]string{}
	packages := map[string]any{}
	for _, p := range pkgs {
		deps[p.Name] = p.Version
		packages["node_modules/"+p.Name] = map[string]string{"version": p.Version, "resolved": r.Tarball(p), "integrity": r.Integrity(p)}
	}
	packages[""] = map[string]any{"name": "app", "version": "1.0.0", "dependencies": deps}
	packageJSON, _ = json.MarshalIndent(map[string]any{"name": "app", "version": "1.0.0", "private": true, "dependencies": deps}, "", "  ")
	lock, _ = json.MarshalIndent(map[string]any{"name": "app", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": packages}, "", "  ")
	return append(packageJSON, '\n'), append(lock, '\n')
}

// PnpmLockfile writes package.json and pnpm-lock.yaml (lockfileVersion 9.0, as pnpm 9
// and 10 write it) depending on exactly pkgs at their versions. pnpm's lockfile holds no
// tarball URLs for registry packages: pnpm asks the registry it is configured with for
// <registry>/<name>/-/<name>-<version>.tgz, so point it here (--registry=<URL>/).
func (r *Registry) PnpmLockfile(pkgs ...Package) (packageJSON, lock []byte) {
	pkgs = sortedPackages(pkgs)
	var imp, packages, snapshots strings.Builder
	deps := map[string]string{}
	for _, p := range pkgs {
		deps[p.Name] = p.Version
		fmt.Fprintf(&imp, "      %s:\n        specifier: %s\n        version: %s\n", p.Name, p.Version, p.Version)
		fmt.Fprintf(&packages, "\n  %s@%s:\n    resolution: {integrity: %s}\n", p.Name, p.Version, r.Integrity(p))
		fmt.Fprintf(&snapshots, "\n  %s@%s: {}\n", p.Name, p.Version)
	}
	packageJSON, _ = json.MarshalIndent(map[string]any{"name": "app", "version": "1.0.0", "private": true, "dependencies": deps}, "", "  ")
	lock = []byte("lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\n" +
		"importers:\n\n  .:\n    dependencies:\n" + imp.String() + "\npackages:\n" + packages.String() + "\nsnapshots:\n" + snapshots.String())
	return append(packageJSON, '\n'), lock
}

// YarnLockfile writes package.json and a yarn.lock (yarn 1's "yarn lockfile v1") depending
// on exactly pkgs at their versions, resolved on this registry.
func (r *Registry) YarnLockfile(pkgs ...Package) (packageJSON, lock []byte) {
	pkgs = sortedPackages(pkgs)
	var b strings.Builder
	b.WriteString("# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n")
	deps := map[string]string{}
	for _, p := range pkgs {
		deps[p.Name] = p.Version
		sha := sha1.Sum(r.tarballs[TarballPath(p)])
		fmt.Fprintf(&b, "\n%s@%s:\n  version \"%s\"\n  resolved \"%s#%s\"\n  integrity %s\n", p.Name, p.Version, p.Version, r.Tarball(p), hex.EncodeToString(sha[:]), r.Integrity(p))
	}
	packageJSON, _ = json.MarshalIndent(map[string]any{"name": "app", "version": "1.0.0", "private": true, "dependencies": deps}, "", "  ")
	return append(packageJSON, '\n'), []byte(b.String())
}

func sortedPackages(pkgs []Package) []Package {
	out := append([]Package(nil), pkgs...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name+"@"+out[i].Version < out[j].Name+"@"+out[j].Version })
	return out
}
