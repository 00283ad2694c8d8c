package mountcache

import (
	"bufio"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

// npmStats counts npm's packages from its own output. What npm 9 (Debian bookworm's
// 9.2.0) prints, checked on the stack's node image:
//
//	npm http fetch GET 200 http://127.0.0.1:4873/wb-c/-/wb-c-1.0.0.tgz 74ms (cache miss)
//	added 3 packages in 207ms
//
// A fetch line (at --loglevel=http and below; npm/npm-registry-fetch
// lib/check-response.js, logRequest, with make-fetch-happen's x-local-cache-status) is
// printed for each tarball asked of the registry; a tarball npm ci takes from its cache
// by the lockfile's integrity (pacote lib/fetcher.js, tarballStream: cacache by digest)
// prints nothing at all. So the total is npm's own "added N packages" (and "changed M"),
// and the cached ones are those minus the distinct tarballs fetched with anything but a
// cache hit. At npm's default log level fetches are not printed, and then a warm install
// cannot be told from a cold one: nothing is counted unless the output shows a log level
// of http or finer (a fetch, info or verbose line) or the command asks for one
// (--loglevel=http, --loglevel=verbose, ...).
func npmStats(log string, commands []string) PackageStats {
	fetched := map[string]bool{}
	levelKnown := false
	for _, c := range commands {
		if npmLogLevel.MatchString(c) {
			levelKnown = true
		}
	}
	total := 0
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := stripANSI(sc.Text())
		if m := npmAdded.FindStringSubmatch(line); m != nil {
			for _, n := range m[1:] {
				if v, err := strconv.Atoi(n); err == nil && v < 1<<20 && total < 1<<30 { // no real install is near either
					total += v
				}
			}
			continue
		}
		if strings.Contains(line, "npm info ") || strings.Contains(line, "npm verb ") {
			levelKnown = true
		}
		i := strings.Index(line, "http fetch ")
		if i < 0 {
			continue
		}
		levelKnown = true
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
		if !hit {
			fetched[u.Path] = true
		}
	}
	if !levelKnown || total == 0 {
		return PackageStats{}
	}
	return PackageStats{Total: total, Cached: max(total-len(fetched), 0)}
}

var (
	// "added 3 packages in 207ms", "added 1 package, changed 2 packages, and audited 4
	// packages in 1s": the packages npm put into node_modules.
	npmAdded    = regexp.MustCompile(`\badded (\d+) packages?(?:, (?:removed \d+ packages?, )?changed (\d+) packages?)?`)
	npmLogLevel = regexp.MustCompile(`(?:--loglevel[= ]|npm_config_loglevel=|NPM_CONFIG_LOGLEVEL=)["']?(?:http|timing|info|verbose|silly)\b|(?:^|\s)(?:--verbose|-d{1,3})(?:\s|$)`)
)
