package mountcache

import (
	"path"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// Ecosystem is a package manager as discovery and the engine know it: the names a RUN
// calls it by, where it keeps its cache for a user and environment, the files that
// decide what it fetches (the key), and how to count its cache hits from its output.
type Ecosystem struct {
	Name string
	// Python marks a Python package tool: a mount on a RUN that runs one is taken for
	// its cache unless the path says otherwise (the rules of pythonReason).
	Python bool
	// Manual: mount-caches: auto leaves the ecosystem's mounts out (build caches that
	// grow with every commit, see README "What auto carries"); its name selects them.
	Manual bool
	// Programs are the commands (in command position, by base name) that run the
	// package manager; pip's versioned names and `python -m pip` are read by toolOf.
	Programs []string
	// CacheEnv are the variables that move the cache directory, the first set wins
	// (npm reads its npm_config_* variables in any case).
	CacheEnv []string
	CacheOpt string // command-line option naming the cache directory; "" when none
	// CacheSub is the cache's directory under $XDG_CACHE_HOME or ~/.cache; HomeDir,
	// when set instead, is its directory under $HOME (npm: ~/.npm, no XDG).
	CacheSub, HomeDir string
	// KeyFiles are the globs (relative to the build context, lockfiles first) whose
	// content keys the cache when mount-cache-hash-files is left at its default.
	KeyFiles []string
	// Stats counts what the tool took from its cache, from the log of the RUN steps
	// that use the mount and their commands; nil when its output gives no count.
	Stats func(log string, commands []string) PackageStats
	// Reason says why a mount on a RUN holds this ecosystem's cache, or "" when it
	// does not; nil means dirReason (the RUN runs it and the target is, or contains, its
	// cacheDir). The Python tools are decided together by pythonReason instead.
	Reason func(eco Ecosystem, m Mount, e *env, run runInfo) string
}

// PackageStats is what a package manager did with its cache in the steps using a mount.
type PackageStats struct {
	Total  int // distinct packages it installed or collected
	Cached int // of those, taken from its cache without fetching them
}

func pipStats(log string, _ []string) PackageStats {
	st := ParsePipLog(log)
	return PackageStats{Total: st.Total, Cached: st.Cached}
}

// npmKeyFiles: npm ci installs exactly what the lockfile says; package.json decides
// what npm install resolves when there is no lockfile.
var npmKeyFiles = []string{"package-lock.json", "npm-shrinkwrap.json", "package.json"}

// Ecosystems is the table, in the order discovery tries them. The Python tools key on
// inputs.DefaultHashFiles, the files mount-cache-hash-files has always defaulted to.
var Ecosystems = []Ecosystem{
	{Name: "pip", Python: true, Programs: []string{"pip"}, CacheEnv: []string{"PIP_CACHE_DIR"}, CacheOpt: "--cache-dir", CacheSub: "pip", KeyFiles: inputs.DefaultHashFiles, Stats: pipStats},
	{Name: "uv", Python: true, Programs: []string{"uv", "uvx"}, CacheEnv: []string{"UV_CACHE_DIR"}, CacheOpt: "--cache-dir", CacheSub: "uv", KeyFiles: inputs.DefaultHashFiles},
	{Name: "poetry", Python: true, Programs: []string{"poetry"}, CacheEnv: []string{"POETRY_CACHE_DIR"}, CacheSub: "pypoetry", KeyFiles: inputs.DefaultHashFiles},
	{Name: "pipenv", Python: true, Programs: []string{"pipenv"}, CacheEnv: []string{"PIPENV_CACHE_DIR"}, CacheSub: "pipenv", KeyFiles: inputs.DefaultHashFiles},
	{Name: "pdm", Python: true, Programs: []string{"pdm"}, CacheEnv: []string{"PDM_CACHE_DIR"}, CacheSub: "pdm", KeyFiles: inputs.DefaultHashFiles},
	// npm's cache is ~/.npm (its `cache` config: npm_config_cache, --cache); the
	// content-addressed tarballs live in _cacache under it. It does not follow XDG.
	{Name: "npm", Programs: []string{"npm", "npx"}, CacheEnv: []string{"npm_config_cache", "NPM_CONFIG_CACHE"}, CacheOpt: "--cache", HomeDir: ".npm", KeyFiles: npmKeyFiles, Stats: npmStats},
	// yarn (classic and berry) and pnpm: their directories, key files and counts are in
	// eco_javascript.go. yarn prints no per-package cache count; pnpm its "reused" one.
	{Name: "yarn", Programs: []string{"yarn", "yarnpkg"}, CacheOpt: "--cache-folder", KeyFiles: yarnKeyFiles, Reason: yarnReason},
	{Name: "pnpm", Programs: []string{"pnpm", "pnpx"}, CacheOpt: "--store-dir", KeyFiles: pnpmKeyFiles, Stats: pnpmStats, Reason: pnpmReason},
	// Go's build cache ($GOCACHE, ~/.cache/go-build) and its module cache (goModDirs).
	// go prints "go: downloading <module>" for a module it fetches and nothing for one it
	// has: no total, so no count.
	{Name: "go", Manual: true, Programs: []string{"go"}, CacheEnv: []string{"GOCACHE"}, CacheSub: "go-build", KeyFiles: []string{"go.sum", "go.mod", "go.work", "go.work.sum"}, Reason: goReason},
	// Cargo's download caches, registry/ and git/ of $CARGO_HOME (cargoReason); its
	// build directory is cargo-target's. Cargo prints "Downloaded <crate> v<ver>" per
	// crate it fetches and nothing per crate it had; "Compiling" lines name only what it
	// (re)builds, so no total: no count.
	{Name: "cargo", Programs: []string{"cargo"}, KeyFiles: cargoKeyFiles, Reason: cargoReason},
	// Cargo's build directory (target/): a build cache, out of auto (Manual).
	{Name: "cargo-target", Manual: true, Programs: []string{"cargo"}, KeyFiles: cargoKeyFiles, Reason: cargoTargetReason},
	// Maven's local repository (mavenReason). Maven prints "Downloading from"/"Downloaded
	// from" per artifact it fetches and nothing per artifact it has: no count.
	{Name: "maven", Programs: []string{"mvn", "mvnw"}, KeyFiles: mavenKeyFiles, Reason: mavenReason},
	// The Gradle user home (gradleReason). Gradle names no download at its default log
	// level: no count.
	{Name: "gradle", Programs: []string{"gradle", "gradlew"}, KeyFiles: gradleKeyFiles, Reason: gradleReason},
	// apt's archive cache and package lists (aptReason). No key files: the packages are
	// named in the RUN command, which the key covers (Mount.StepDigest). Manual: the
	// Debian mirror is near and its cache mostly what the base image had (README).
	{Name: "apt", Manual: true, Programs: []string{"apt-get", "apt"}, KeyFiles: []string{}, Reason: aptReason, Stats: aptStats},
	// conda's, mamba's and micromamba's package cache (condaReason). Their output is
	// progress bars per package, with no line saying one came from the cache: no count.
	{Name: "conda", Programs: []string{"conda", "mamba", "micromamba"}, KeyFiles: condaKeyFiles, Reason: condaReason},
}

// goModDirs are where go keeps downloaded modules for the RUN: $GOMODCACHE, else
// $GOPATH/pkg/mod (its first entry), else /go/pkg/mod, the golang images' GOPATH (set by
// their ENV, which discovery cannot read), and ~/go/pkg/mod, go's own default.
func goModDirs(run runInfo, m Mount, e *env) (dirs, hows []string) {
	get := func(k string) (string, bool) {
		if v, ok := run.env[k]; ok {
			return v, v != ""
		}
		v, ok := e.Get(k)
		return v, ok && v != ""
	}
	if v, ok := get("GOMODCACHE"); ok && path.IsAbs(v) {
		return []string{path.Clean(v)}, []string{"$GOMODCACHE"}
	}
	if v, ok := get("GOPATH"); ok {
		if first, _, _ := strings.Cut(v, ":"); path.IsAbs(first) {
			return []string{path.Join(first, "pkg", "mod")}, []string{"$GOPATH/pkg/mod"}
		}
	}
	dirs, hows = []string{"/go/pkg/mod"}, []string{"the golang image's GOPATH"}
	if home := homeOf(m.User); home != "" {
		dirs, hows = append(dirs, path.Join(home, "go", "pkg", "mod")), append(hows, "default for the RUN's user")
	}
	return dirs, hows
}

// goReason says why m looks like one of Go's caches, or "": the RUN runs go and the
// target is its build cache or module cache, or contains one (/root/.cache on go build).
func goReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	if !run.runs(eco.Name) {
		return ""
	}
	type dir struct{ path, what, how string }
	var dirs []dir
	if d, how := cacheDir(eco, run, m, e); d != "" {
		dirs = append(dirs, dir{d, "build cache", how})
	}
	mods, hows := goModDirs(run, m, e)
	for i := range mods {
		dirs = append(dirs, dir{mods[i], "module cache", hows[i]})
	}
	for _, d := range dirs {
		if m.Path == d.path {
			return "target is Go's " + d.what + " (" + d.how + ")"
		}
	}
	for _, d := range dirs {
		if isAncestor(m.Path, d.path) {
			return "target contains Go's " + d.what + " " + d.path + " (" + d.how + "), and the RUN runs go"
		}
	}
	return ""
}

// autoCarries reports whether mount-caches: auto carries the ecosystem's mounts.
func autoCarries(eco string) bool {
	e, ok := EcosystemNamed(eco)
	return ok && !e.Manual
}

// EcosystemNamed returns the table's entry called name (any case).
func EcosystemNamed(name string) (Ecosystem, bool) {
	for _, e := range Ecosystems {
		if strings.EqualFold(e.Name, name) {
			return e, true
		}
	}
	return Ecosystem{}, false
}

// EcosystemNames lists the names mount-caches accepts as ecosystems.
func EcosystemNames() []string {
	out := make([]string, len(Ecosystems))
	for i, e := range Ecosystems {
		out[i] = e.Name
	}
	return out
}

func ecosystemIndex(name string) int {
	return slices.IndexFunc(Ecosystems, func(e Ecosystem) bool { return e.Name == name })
}

// KeyGlobs are the globs whose content keys a cache of ecosystem eco: the
// mount-cache-hash-files input when it was given, else the ecosystem's key files (a mount
// of no known ecosystem keeps the input's default).
func KeyGlobs(h inputs.HashGlobs, eco string) inputs.HashGlobs {
	if !h.IsDefault() {
		return h
	}
	e, ok := EcosystemNamed(eco)
	if !ok || slices.Equal(e.KeyFiles, inputs.DefaultHashFiles) {
		return h
	}
	if len(e.KeyFiles) == 0 {
		// No files decide what it fetches (apt: the command names the packages): the
		// key hashes the steps alone.
		return inputs.HashGlobs{}
	}
	g, err := inputs.ParseHashGlobs(e.KeyFiles...)
	if err != nil {
		return h
	}
	return g
}

// AllKeyGlobs are every glob a run with h may hash, for a copy of the context holding
// only those files (a Git context).
func AllKeyGlobs(h inputs.HashGlobs) []string {
	out := h.Globs()
	if !h.IsDefault() {
		return out
	}
	for _, e := range Ecosystems {
		for _, g := range e.KeyFiles {
			if !slices.Contains(out, g) {
				out = append(out, g)
			}
		}
	}
	return out
}

// dirReason says why m looks like eco's cache, or "": the RUN runs eco's tool and the
// target is its cache directory for the RUN's user and environment, or contains it (a
// node_modules directory, which holds installed packages, never counts as containing it).
// The path alone does not decide: /root/.npm on an apt-get RUN is not npm's.
func dirReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	dir, how := cacheDir(eco, run, m, e)
	switch {
	case dir == "" || !run.runs(eco.Name):
		return ""
	case m.Path == dir:
		return "target is " + eco.Name + "'s cache directory (" + how + ")"
	case isAncestor(m.Path, dir) && path.Base(m.Path) != "node_modules":
		return "target contains " + eco.Name + "'s cache directory " + dir + " (" + how + "), and the RUN runs " + eco.Name
	}
	return ""
}

// otherReason finds the ecosystem, other than the Python tools, whose cache m holds:
// the first entry of the table whose reason holds.
func otherReason(m Mount, e *env, run runInfo) (eco, reason string) {
	for _, t := range Ecosystems {
		if t.Python {
			continue
		}
		why := dirReason
		if t.Reason != nil {
			why = t.Reason
		}
		if r := why(t, m, e, run); r != "" {
			return t.Name, r
		}
	}
	return "", ""
}

// cacheEcosystem is the ecosystem of a BuildKit cache directory: that of the first of
// its mounts discovery recognised.
func cacheEcosystem(c Cache) string {
	for _, m := range c.Mounts {
		if m.Ecosystem != "" {
			return m.Ecosystem
		}
	}
	return ""
}

// ecosystemStats counts the ecosystem's packages in the log of the RUN steps using
// mounts, nil when it gives no count.
func ecosystemStats(eco, log string, mounts []Mount) *PackageStats {
	e, ok := EcosystemNamed(eco)
	if !ok || e.Stats == nil || log == "" {
		return nil
	}
	var commands []string
	for _, m := range mounts {
		commands = append(commands, m.Command)
	}
	st := e.Stats(log, commands)
	if st.Total == 0 {
		return nil
	}
	return &st
}

// packageTotals counts every ecosystem's packages over the RUN steps using its carried
// mounts, each RUN once per ecosystem (a RUN with two npm mounts counts its packages
// once).
func (r *Run) packageTotals(b Build) (total, cached int) {
	byEco := map[string][]Mount{}
	var order []string
	for _, ms := range r.res.Mounts {
		if _, ok := byEco[ms.Ecosystem]; !ok {
			order = append(order, ms.Ecosystem)
		}
		byEco[ms.Ecosystem] = append(byEco[ms.Ecosystem], ms.cache.Mounts...)
	}
	for _, eco := range order {
		if st := ecosystemStats(eco, b.Logs(usesMount(byEco[eco])), byEco[eco]); st != nil {
			total, cached = total+st.Total, cached+st.Cached
		}
	}
	return total, cached
}
