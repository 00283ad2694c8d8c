package mountcache

import (
	"bufio"
	"regexp"
	"strconv"
	"strings"
)

// aptStats counts the packages apt-get (or apt) installed and those whose archive it
// took from /var/cache/apt/archives, from its own output. What apt 2.6 (Debian bookworm)
// prints for an install, checked on the host:
//
//	0 upgraded, 4 newly installed, 0 to remove and 143 not upgraded.
//	Need to get 137 kB/181 kB of archives.
//	After this operation, 954 kB of additional disk space will be used.
//	Get:1 http://deb.debian.org/debian bookworm/main amd64 figlet amd64 2.2.5-3+b1 [137 kB]
//	Fetched 137 kB in 0s (1166 kB/s)
//
// The summary counts every package whose archive apt needs (Debian/apt
// apt-private/private-output.cc, Stats: upgraded, newly installed, reinstalled,
// downgraded; apt 3's `apt` binary writes it as "Upgrading: N, Installing: M, ..."), and
// the fetcher prints one "Get:<n> <description>" line per archive it downloads, none for
// an archive already complete in the cache (apt-private/acqprogress.cc,
// AcqTextStatus::Fetch returns early for a complete item). So the total is the summary's,
// and the cached ones are that minus the archives fetched after it. The Get lines of
// apt-get update (index files) come before any summary or after a download ended
// ("Fetched", dpkg's unpacking, the next "Reading package lists"), and are not counted.
// With -qq apt prints neither, and nothing is counted.
func aptStats(log string, _ []string) PackageStats {
	total, fetched := 0, 0
	inFetch := false
	ids := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(stripANSI(sc.Text()))
		if m := aptSummary.FindStringSubmatch(line); m != nil {
			n := 0
			for _, s := range m[1:] {
				if v, err := strconv.Atoi(s); err == nil && v < 1<<20 { // no real install is near it
					n += v
				}
			}
			if total < 1<<30 {
				total += n
			}
			inFetch, ids = true, map[string]bool{}
			continue
		}
		if !inFetch {
			continue
		}
		if id, ok := aptGetID(line); ok {
			if !ids[id] {
				ids[id] = true
				fetched++
			}
			continue
		}
		for _, end := range aptFetchEnds {
			if strings.HasPrefix(line, end) {
				inFetch = false
				break
			}
		}
	}
	if total == 0 {
		return PackageStats{}
	}
	return PackageStats{Total: total, Cached: max(total-fetched, 0)}
}

// aptGetID is the item number of a fetcher's "Get:<n> <description>" line.
func aptGetID(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "Get:")
	if !ok {
		return "", false
	}
	id, desc, ok := strings.Cut(rest, " ")
	if !ok || id == "" || strings.Trim(id, "0123456789") != "" || strings.TrimSpace(desc) == "" {
		return "", false
	}
	return id, true
}

var (
	// apt-get's summary line, and apt 3's (the `apt` binary, APT::Output-Version 30).
	aptSummary = regexp.MustCompile(`^(\d+) upgraded, (\d+) newly installed, (?:(\d+) reinstalled, )?(?:(\d+) downgraded, )?\d+ to remove and \d+ not upgraded\.|^Upgrading: (\d+), Installing: (\d+), (?:Reinstalling: (\d+), )?(?:Downgrading: (\d+), )?Removing: \d+, Not Upgrading: \d+`)
	// Lines that follow an install's downloads: the fetcher's statistics, dpkg at work,
	// debconf, the next apt command, an update's unchanged index.
	aptFetchEnds = []string{"Fetched ", "Download complete", "Selecting previously unselected package", "Preparing to unpack",
		"Unpacking ", "Setting up ", "debconf: ", "Reading package lists", "Hit:", "E: "}
)
