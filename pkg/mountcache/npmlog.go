package mountcache

import (
	"bufio"
	"net/url"
	"strings"
)

// npmStats counts npm's package tarballs in its own log lines. npm prints one line per
// HTTP fetch at --loglevel=http (or npm_config_loglevel=http), with the cache's verdict
// from make-fetch-happen's x-local-cache-status (npm/npm-registry-fetch
// lib/check-response.js, logRequest):
//
//	npm http fetch GET 200 http://127.0.0.1:4873/wb-left/-/wb-left-1.0.0.tgz 9ms (cache miss)
//	npm http fetch GET 200 http://127.0.0.1:4873/wb-right/-/wb-right-1.0.0.tgz 2ms (cache hit)
//
// A tarball (a .tgz URL) counts once; it is cached when every fetch of it was answered
// from the cache without asking the registry ("hit", or "stale" when offline). Packument
// fetches (package metadata) are not packages. At npm's default log level nothing is
// printed, and nothing is counted.
func npmStats(log string) PackageStats {
	seen := map[string]bool{} // tarball URL -> every fetch was a cache hit
	var order []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := stripANSI(sc.Text())
		i := strings.Index(line, "http fetch ")
		if i < 0 {
			continue
		}
		f := strings.Fields(line[i+len("http fetch "):])
		// METHOD STATUS URL TIME [attempt #n] [(cache status)]
		if len(f) < 3 {
			continue
		}
		u, err := url.Parse(f[2])
		if err != nil || !strings.HasSuffix(u.Path, ".tgz") {
			continue
		}
		hit := strings.HasSuffix(line, "(cache hit)") || strings.HasSuffix(line, "(cache stale)")
		prev, ok := seen[u.Path]
		if !ok {
			order = append(order, u.Path)
			prev = true
		}
		seen[u.Path] = prev && hit
	}
	st := PackageStats{Total: len(order)}
	for _, p := range order {
		if seen[p] {
			st.Cached++
		}
	}
	return st
}
