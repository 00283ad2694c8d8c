package mountcache

import (
	"bufio"
	"sort"
	"strings"
)

// PipStats counts what a pip install did with its cache, read from pip's own log lines.
type PipStats struct {
	// Total is the number of distinct packages pip collected.
	Total int `json:"total"`
	// Cached counts those pip took from its cache ("Using cached ..." for a download or a
	// wheel it built before, or "Processing <cache dir>/wheels/..." in older pips) without
	// downloading or building anything for them.
	Cached     int      `json:"cached"`
	Downloaded []string `json:"downloaded,omitempty"` // packages pip fetched from the index
	Built      []string `json:"built,omitempty"`      // packages pip built a wheel for
}

type pipPackage struct {
	cached, downloaded, built bool
}

// ParsePipLog reads the output of one or more pip runs. pip 20 to 24 print, per package:
//
//	Collecting wb-core==1.1.0
//	  Downloading http://.../wb_core-1.1.0-py3-none-any.whl (1.4 kB)     (fetched)
//	  Using cached http://.../wb_core-1.1.0-py3-none-any.whl (1.4 kB)    (HTTP cache)
//	  Using cached wb_fastmath-1.4.0-py3-none-any.whl                    (wheel cache)
//	Building wheel for wb-fastmath (setup.py): started                   (built here)
//
// Metadata-only downloads ("...whl.metadata") do not count as fetching the package.
// Packages already installed ("Requirement already satisfied") are not counted at all:
// the cache played no part.
func ParsePipLog(log string) PipStats {
	pkgs := map[string]*pipPackage{}
	var current *pipPackage
	get := func(name string) *pipPackage {
		name = normalizePipName(name)
		p := pkgs[name]
		if p == nil {
			p = &pipPackage{}
			pkgs[name] = p
		}
		return p
	}
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(stripANSI(sc.Text()))
		switch {
		case strings.HasPrefix(line, "Collecting "):
			current = get(requirementName(strings.TrimPrefix(line, "Collecting ")))
		case strings.HasPrefix(line, "Using cached "):
			if current != nil && !strings.Contains(line, ".metadata") {
				current.cached = true
			}
		case strings.HasPrefix(line, "Processing "):
			// Older pips name a cached wheel by its path in the cache.
			if current != nil && strings.Contains(line, "/wheels/") && strings.HasSuffix(line, ".whl") {
				current.cached = true
			}
		case strings.HasPrefix(line, "Downloading "):
			if current != nil && !strings.Contains(line, ".metadata") {
				current.downloaded = true
			}
		case strings.HasPrefix(line, "Building wheel for "):
			get(requirementName(strings.TrimPrefix(line, "Building wheel for "))).built = true
		case strings.HasPrefix(line, "Requirement already satisfied") || strings.HasPrefix(line, "Installing collected packages"):
			current = nil
		}
	}
	var st PipStats
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := pkgs[n]
		st.Total++
		if p.downloaded {
			st.Downloaded = append(st.Downloaded, n)
		}
		if p.built {
			st.Built = append(st.Built, n)
		}
		if p.cached && !p.downloaded && !p.built {
			st.Cached++
		}
	}
	return st
}

// requirementName takes the package name off a requirement as pip prints it:
// "wb-core==1.1.0", "requests[socks]>=2 (from -r requirements.txt (line 3))",
// "wb-fastmath (setup.py): started", "./local_pkg".
func requirementName(s string) string {
	s = strings.TrimSpace(s)
	end := strings.IndexAny(s, " =<>!~[;(@,")
	if end >= 0 {
		s = s[:end]
	}
	return s
}

// normalizePipName applies PEP 503 normalisation: case, and runs of -, _ and . are one -.
func normalizePipName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			dash = true
			continue
		}
		if dash && b.Len() > 0 {
			b.WriteByte('-')
		}
		dash = false
		b.WriteRune(r)
	}
	return b.String()
}

// stripANSI drops colour escape sequences pip prints when it thinks it has a terminal.
func stripANSI(s string) string {
	if !strings.Contains(s, "\x1b[") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '[' {
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
