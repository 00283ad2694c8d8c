// Package inputs reads the action's `with:` inputs into typed values, once.
//
// The names and syntax are docker/build-push-action's wherever the two overlap, so a
// workflow moves over by changing only `uses:`. Every problem is an *Error that names the
// input (and the line, for lists); Parse reports all of them at once.
package inputs

import (
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/distribution/reference"
)

// Names lists every input the action reads. action.yml must declare exactly these (a test
// keeps the two equal), so an input cannot be documented and silently ignored.
var Names = []string{
	"context", "file", "target", "build-args", "build-contexts", "labels", "tags",
	"platforms", "push", "outputs", "compression-level", "secrets", "secret-files",
	"secret-envs", "no-cache", "pull", "cache-from", "cache-to", "endpoint", "endpoint-tls-dir", "builder",
	"buildkit-image", "cache-backend", "cache-ref", "cache-dir", "cache-scope", "cache-mode",
	"cache-save-on", "cache-auto", "mount-caches", "mount-cache-hash-files",
	"mount-cache-max-size", "mount-cache-keep", "github-token",
}

// Inputs is what the user asked for, parsed and validated.
type Inputs struct {
	Context       string            // build context directory
	File          string            // Dockerfile path
	Target        string            // stage to build; empty: the last one
	BuildArgs     map[string]string // --build-arg
	BuildContexts map[string]string // name -> local dir, docker-image://, or URL
	Labels        map[string]string
	Tags          []string
	Platforms     []string // normalized, e.g. linux/amd64
	Push          bool
	Outputs       []*ExportEntry
	// CompressionLevel is the gzip level of the layers this build creates (image and
	// layer cache), unless an output or cache-to entry names its own compression.
	CompressionLevel int
	Secrets          []Secret
	NoCache          bool
	Pull             bool
	CacheFrom        CacheEntries
	CacheTo          CacheEntries

	Endpoint      Endpoint
	Builder       string // a docker/setup-buildx-action builder name
	BuildkitImage string

	Cache      CacheSettings
	MountCache MountCacheSettings

	GitHubToken string
}

// CacheSettings configures the automatic layer cache.
type CacheSettings struct {
	Backend string   // gha, registry, local, none; empty: decide from the environment
	Ref     string   // registry backend: the cache image reference
	Dir     string   // local backend: directory
	Scope   string   // empty: derived from the image name
	Mode    string   // max or min
	SaveOn  []string // branch globs, or "always" / "never"; empty: the default branch
	Auto    bool     // false: cache-from/cache-to replace the automatic entries
}

// MountCacheSettings configures carrying RUN --mount=type=cache directories across runs.
type MountCacheSettings struct {
	Select    string   // auto, all, none, or a list of ids/targets (parsed by mountcache)
	HashFiles []string // glob patterns relative to the context
	MaxSize   int64    // bytes
	Keep      int      // superseded entries to keep on the default branch
}

// Secret is one build secret. Value holds the secret itself for `secrets` entries; it must
// be masked in logs before anything else is printed.
type Secret struct {
	ID    string
	Value []byte // from `secrets`
	File  string // from `secret-files`
	Env   string // from `secret-envs`
}

// Parse reads every input through getenv (os.Getenv in production), the way the runner
// passes them: INPUT_<NAME> with the name upper-cased and dashes kept.
func Parse(getenv func(string) string) (*Inputs, error) {
	p := &parser{getenv: getenv}
	in := &Inputs{}

	in.Context = p.str("context", ".")
	if isRemoteContext(in.Context) {
		p.fail("context", 0, fmt.Sprintf("%q is a remote context; warmbuild builds local directories: check the repository out (actions/checkout) and give its path", in.Context))
	}
	in.File = p.str("file", filepath.Join(in.Context, "Dockerfile"))
	in.Target = p.str("target", "")
	in.BuildArgs = p.keyValues("build-args", getenv)
	in.BuildContexts = p.buildContexts()
	in.Labels = p.keyValues("labels", nil)
	in.Tags = p.tags()
	in.Platforms = p.platforms()
	in.Push = p.boolean("push", false)
	in.Outputs = p.outputs()
	in.CompressionLevel = p.compressionLevel()
	in.Secrets = p.secrets()
	in.NoCache = p.boolean("no-cache", false)
	in.Pull = p.boolean("pull", false)
	in.CacheFrom = p.cacheEntries("cache-from")
	in.CacheTo = p.cacheEntries("cache-to")

	in.Endpoint = p.endpoint()
	in.Builder = p.str("builder", "")
	in.BuildkitImage = p.str("buildkit-image", "moby/buildkit:buildx-stable-1")
	if in.Builder != "" && in.Endpoint.Address != "" {
		p.fail("builder", 0, "give either builder (a docker/setup-buildx-action builder name) or endpoint (a BuildKit address), not both")
	}

	in.Cache = p.cacheSettings()
	in.MountCache = p.mountCacheSettings()
	in.GitHubToken = p.str("github-token", "")

	if in.Push && len(in.Tags) == 0 {
		p.fail("push", 0, "push: true needs at least one entry in tags to name the image")
	}
	if in.Push {
		for _, o := range in.Outputs {
			if o.Type != "image" && o.Type != "registry" {
				p.fail("outputs", 0, fmt.Sprintf("push: true exports to a registry, which cannot be combined with a %q output; drop push and add type=image,push=true to outputs, or drop the output", o.Type))
			}
		}
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return in, nil
}

// InputEnv is the environment variable the runner sets for an input.
func InputEnv(name string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
}

type parser struct {
	getenv func(string) string
	errs   Errors
}

func (p *parser) fail(input string, line int, problem string) {
	p.errs = append(p.errs, &Error{Input: input, Line: line, Problem: problem})
}

func (p *parser) raw(name string) string {
	return p.getenv(InputEnv(name))
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.raw(name)); v != "" {
		return v
	}
	return def
}

// boolean accepts what @actions/core's getBooleanInput accepts (the YAML 1.2 core schema).
func (p *parser) boolean(name string, def bool) bool {
	switch v := strings.TrimSpace(p.raw(name)); v {
	case "":
		return def
	case "true", "True", "TRUE":
		return true
	case "false", "False", "FALSE":
		return false
	default:
		p.fail(name, 0, fmt.Sprintf("%q is not a boolean; use true or false", v))
		return def
	}
}

func (p *parser) list(name string, joinCommas bool) []item {
	return p.listWith(name, listOpts{ignoreComma: joinCommas})
}

// listWith reads a list input with the options build-push-action gives it.
func (p *parser) listWith(name string, o listOpts) []item {
	items, err := parseList(p.raw(name), o)
	if err != nil {
		p.fail(name, 0, fmt.Sprintf("cannot be read as a list: %v", err))
	}
	return items
}

// keyValues parses KEY=VALUE lines. For build-args a bare KEY takes its value from the
// environment, as `docker buildx build --build-arg KEY` does; lookup is nil elsewhere.
func (p *parser) keyValues(name string, lookup func(string) string) map[string]string {
	items := p.list(name, true)
	if len(items) == 0 {
		return nil
	}
	out := make(map[string]string, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it.Value, "=")
		k = strings.TrimSpace(k)
		switch {
		case k == "":
			p.fail(name, it.Line, fmt.Sprintf("%q has no name before '='; write NAME=value", it.Value))
			continue
		case strings.ContainsAny(k, " \t"):
			p.fail(name, it.Line, fmt.Sprintf("name %q contains white space; write NAME=value", k))
			continue
		case !ok && lookup == nil:
			p.fail(name, it.Line, fmt.Sprintf("%q has no '='; write %s=value", it.Value, k))
			continue
		case !ok:
			env := lookup(k)
			if env == "" {
				p.fail(name, it.Line, fmt.Sprintf("%q has no value and no environment variable %s is set; write %s=value", k, k, k))
				continue
			}
			v = env
		}
		out[k] = v
	}
	return out
}

func (p *parser) buildContexts() map[string]string {
	items := p.list("build-contexts", true)
	if len(items) == 0 {
		return nil
	}
	out := map[string]string{}
	for _, it := range items {
		name, value, err := ParseContextName(it.Value)
		if err != nil {
			p.fail("build-contexts", it.Line, fmt.Sprintf("%v; write name=path, name=docker-image://ref or name=https://...", err))
			continue
		}
		out[name] = value
	}
	return out
}

func (p *parser) tags() []string {
	var out []string
	for _, it := range p.list("tags", false) {
		if _, err := reference.ParseNormalizedNamed(it.Value); err != nil {
			p.fail("tags", it.Line, fmt.Sprintf("%q is not a valid image reference: %v", it.Value, err))
			continue
		}
		out = append(out, it.Value)
	}
	return out
}

func (p *parser) platforms() []string {
	var out []string
	for _, it := range p.list("platforms", false) {
		pl, err := platforms.Parse(it.Value)
		if err != nil {
			p.fail("platforms", it.Line, fmt.Sprintf("%q is not a platform (e.g. linux/amd64, linux/arm64): %v", it.Value, err))
			continue
		}
		out = append(out, platforms.Format(pl))
	}
	return slices.Compact(out)
}

var knownOutputTypes = []string{"image", "registry", "oci", "docker", "local", "tar", "cacheonly"}

func (p *parser) outputs() []*ExportEntry {
	var out []*ExportEntry
	for _, it := range p.listWith("outputs", listOpts{ignoreComma: true, noQuotes: true}) {
		e, err := ParseExport(it.Value)
		if err != nil {
			p.fail("outputs", it.Line, fmt.Sprintf("%q: %v", it.Value, err))
			continue
		}
		{
			if !slices.Contains(knownOutputTypes, e.Type) {
				p.fail("outputs", it.Line, fmt.Sprintf("unknown output type %q; use one of %s", e.Type, strings.Join(knownOutputTypes, ", ")))
				continue
			}
			if (e.Type == "local" || e.Type == "oci" || e.Type == "docker" || e.Type == "tar") && e.Destination == "" {
				p.fail("outputs", it.Line, fmt.Sprintf("a %s output needs dest=PATH", e.Type))
				continue
			}
			if e.Destination == "-" {
				p.fail("outputs", it.Line, "dest=- (standard output) would write the image into the log; give a file path")
				continue
			}
			out = append(out, e)
		}
	}
	return out
}

func (p *parser) secrets() []Secret {
	var out []Secret
	seen := map[string]bool{}
	add := func(input string, line int, s Secret) {
		if seen[s.ID] {
			p.fail(input, line, fmt.Sprintf("secret id %q is given twice", s.ID))
			return
		}
		seen[s.ID] = true
		out = append(out, s)
	}
	for _, it := range p.listWith("secrets", listOpts{ignoreComma: true, keepWhitespace: true}) {
		id, v, ok := strings.Cut(it.Value, "=")
		if !ok || strings.TrimSpace(id) == "" {
			// Do not echo the value: it is a secret.
			p.fail("secrets", it.Line, "each entry must be ID=value (the value itself is the secret)")
			continue
		}
		add("secrets", it.Line, Secret{ID: strings.TrimSpace(id), Value: []byte(v)})
	}
	for _, it := range p.list("secret-files", true) {
		id, path, ok := strings.Cut(it.Value, "=")
		if !ok || strings.TrimSpace(id) == "" || path == "" {
			p.fail("secret-files", it.Line, fmt.Sprintf("%q must be ID=path", it.Value))
			continue
		}
		if err := fileReadable(path); err != nil {
			p.fail("secret-files", it.Line, fmt.Sprintf("secret %q: %v", id, err))
			continue
		}
		add("secret-files", it.Line, Secret{ID: strings.TrimSpace(id), File: path})
	}
	// Split on commas too, as build-push-action does: "A=X,B=Y" is two secrets.
	for _, it := range p.list("secret-envs", false) {
		id, env, ok := strings.Cut(it.Value, "=")
		if !ok || strings.TrimSpace(id) == "" || env == "" {
			p.fail("secret-envs", it.Line, fmt.Sprintf("%q must be ID=ENV_NAME", it.Value))
			continue
		}
		if p.getenv(env) == "" {
			p.fail("secret-envs", it.Line, fmt.Sprintf("secret %q: environment variable %s is not set (pass it with env: on the step)", id, env))
			continue
		}
		add("secret-envs", it.Line, Secret{ID: strings.TrimSpace(id), Env: env})
	}
	return out
}

var knownCacheTypes = []string{"registry", "local", "gha", "inline", "s3", "azblob"}

func (p *parser) cacheEntries(name string) CacheEntries {
	var out CacheEntries
	for _, it := range p.list(name, true) {
		es, err := ParseCacheEntry(it.Value)
		if err != nil {
			p.fail(name, it.Line, fmt.Sprintf("%q: %v; write type=registry,ref=IMAGE (or a bare image reference)", it.Value, err))
			continue
		}
		for _, e := range es {
			if !slices.Contains(knownCacheTypes, e.Type) {
				p.fail(name, it.Line, fmt.Sprintf("unknown cache type %q; use one of %s", e.Type, strings.Join(knownCacheTypes, ", ")))
				continue
			}
			if e.Type == "registry" && e.Attrs["ref"] == "" {
				p.fail(name, it.Line, "a registry cache needs ref=IMAGE")
				continue
			}
			if e.Type == "local" && name == "cache-from" && e.Attrs["src"] == "" {
				p.fail(name, it.Line, "a local cache import needs src=DIR")
				continue
			}
			if e.Type == "local" && name == "cache-to" && e.Attrs["dest"] == "" {
				p.fail(name, it.Line, "a local cache export needs dest=DIR")
				continue
			}
			if e.Type == "inline" && name == "cache-from" {
				p.fail(name, it.Line, "inline cache is written into the image; read it with cache-from: type=registry,ref=IMAGE")
				continue
			}
			out = append(out, e)
		}
	}
	return out
}

var knownBackends = []string{"gha", "registry", "local", "none"}

func (p *parser) cacheSettings() CacheSettings {
	c := CacheSettings{
		Backend: p.str("cache-backend", ""),
		Ref:     p.str("cache-ref", ""),
		Dir:     p.str("cache-dir", ""),
		Scope:   p.str("cache-scope", ""),
		Mode:    p.str("cache-mode", "max"),
		Auto:    p.boolean("cache-auto", true),
	}
	if c.Backend == "auto" {
		c.Backend = ""
	}
	if c.Backend != "" && !slices.Contains(knownBackends, c.Backend) {
		p.fail("cache-backend", 0, fmt.Sprintf("unknown backend %q; use gha, registry, local or none (or leave it empty to pick gha on GitHub)", c.Backend))
	}
	if c.Mode != "max" && c.Mode != "min" {
		p.fail("cache-mode", 0, fmt.Sprintf("%q is not a cache mode; use max (every stage's layers) or min (the final image's layers)", c.Mode))
	}
	switch {
	case c.Backend == "registry" && c.Ref == "":
		p.fail("cache-ref", 0, "cache-backend: registry needs cache-ref, e.g. ghcr.io/org/app:buildcache")
	case c.Backend == "local" && c.Dir == "":
		p.fail("cache-dir", 0, "cache-backend: local needs cache-dir, a directory that persists between jobs")
	}
	if c.Ref != "" {
		if _, err := reference.ParseNormalizedNamed(c.Ref); err != nil {
			p.fail("cache-ref", 0, fmt.Sprintf("%q is not a valid image reference: %v", c.Ref, err))
		}
		if c.Backend != "" && c.Backend != "registry" {
			p.fail("cache-ref", 0, fmt.Sprintf("cache-ref is for cache-backend: registry, but cache-backend is %s", c.Backend))
		}
	}
	if c.Dir != "" && c.Backend != "" && c.Backend != "local" {
		p.fail("cache-dir", 0, fmt.Sprintf("cache-dir is for cache-backend: local, but cache-backend is %s", c.Backend))
	}
	for _, it := range p.list("cache-save-on", false) {
		if _, err := filepath.Match(it.Value, ""); err != nil {
			p.fail("cache-save-on", it.Line, fmt.Sprintf("%q is not a valid branch glob: %v", it.Value, err))
			continue
		}
		c.SaveOn = append(c.SaveOn, it.Value)
	}
	if len(c.SaveOn) > 1 && (slices.Contains(c.SaveOn, "always") || slices.Contains(c.SaveOn, "never")) {
		p.fail("cache-save-on", 0, "always and never stand alone; do not mix them with branch globs")
	}
	return c
}

func (p *parser) mountCacheSettings() MountCacheSettings {
	m := MountCacheSettings{Select: strings.TrimSpace(p.raw("mount-caches"))}
	if m.Select == "" {
		m.Select = "auto"
	}
	m.HashFiles = values(p.list("mount-cache-hash-files", false))
	if len(m.HashFiles) == 0 {
		m.HashFiles = DefaultHashFiles
	}
	for _, pat := range m.HashFiles {
		if _, err := filepath.Match(pat, ""); err != nil {
			p.fail("mount-cache-hash-files", 0, fmt.Sprintf("%q is not a valid glob: %v", pat, err))
		}
	}
	size, err := ParseSize(p.str("mount-cache-max-size", "2GiB"))
	if err != nil {
		p.fail("mount-cache-max-size", 0, err.Error())
	}
	m.MaxSize = size
	keep, err := strconv.Atoi(p.str("mount-cache-keep", "1"))
	if err != nil || keep < 1 {
		p.fail("mount-cache-keep", 0, fmt.Sprintf("%q is not a whole number of at least 1", p.str("mount-cache-keep", "1")))
	}
	m.Keep = keep
	return m
}

// DefaultCompressionLevel is gzip's fastest level. Layers stay gzip, which every registry
// and runtime reads; Go's level 1 compresses 4 to 8 times faster than BuildKit's default
// (6), for layers about 15% larger on text and the same size on already-compressed files
// such as wheels (bench/README.md).
const DefaultCompressionLevel = 1

func (p *parser) compressionLevel() int {
	v := strings.TrimSpace(p.str("compression-level", strconv.Itoa(DefaultCompressionLevel)))
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 9 {
		p.fail("compression-level", 0, fmt.Sprintf("%q is not a gzip level; give a whole number from 0 (no compression) to 9 (smallest): 1 is the fastest and warmbuild's default, 6 is BuildKit's own default", v))
		return DefaultCompressionLevel
	}
	return n
}

// DefaultHashFiles are the files whose content decides a mount cache's key: the usual
// places Python projects pin their dependencies.
var DefaultHashFiles = []string{
	"requirements*.txt", "requirements/*.txt", "pyproject.toml", "poetry.lock", "uv.lock",
	"Pipfile.lock", "setup.cfg", "setup.py",
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"k": 1 << 10, "kb": 1000, "kib": 1 << 10,
	"m": 1 << 20, "mb": 1000 * 1000, "mib": 1 << 20,
	"g": 1 << 30, "gb": 1000 * 1000 * 1000, "gib": 1 << 30,
	"t": 1 << 40, "tb": 1000 * 1000 * 1000 * 1000, "tib": 1 << 40,
}

// MaxSize is the largest size ParseSize accepts: 10 GiB, what a restore unpacks at most
// (pkg/archive DefaultLimits MaxBytes), so a larger mount cache would be saved only to be
// refused by every later run. It is also GitHub's default cache quota per repository.
const MaxSize int64 = 10 << 30

// ParseSize reads sizes such as "2GiB", "500MB", "1g" or a plain number of bytes, from
// one byte to MaxSize. The number is read exactly (no float rounding, no overflow) and
// rounded down to whole bytes.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult, ok := sizeUnits[unit]
	r, isNum := new(big.Rat).SetString(num)
	if !ok || !isNum || num == "" || len(num) > 64 {
		return 0, fmt.Errorf("%q is not a size; write a number with a unit such as 500MB or 2GiB", s)
	}
	// r >= 0 (only digits and dots), so Quo rounds down.
	bytes := new(big.Int).Quo(new(big.Int).Mul(r.Num(), big.NewInt(mult)), r.Denom())
	switch {
	case bytes.Cmp(big.NewInt(MaxSize)) > 0:
		return 0, fmt.Errorf("%q is more than %s, the most a restore unpacks (and GitHub's default cache quota per repository)", s, "10GiB")
	case bytes.Sign() <= 0:
		return 0, fmt.Errorf("%q is less than one byte; write a number with a unit such as 500MB or 2GiB", s)
	}
	return bytes.Int64(), nil
}

func isRemoteContext(c string) bool {
	for _, prefix := range []string{"http://", "https://", "git://", "github.com/", "git@"} {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return strings.HasSuffix(c, ".git")
}
