// Package inputs reads the action's `with:` inputs into typed values, once.
//
// The names and syntax are docker/build-push-action's wherever the two overlap, so a
// workflow moves over by changing only `uses:`. Every problem is an *Error that names the
// input (and the line, for lists); Parse reports all of them at once.
package inputs

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
	"call",
	"ssh", "network", "add-hosts", "shm-size", "ulimit", "cgroup-parent", "allow", "no-cache-filters",
	"load",
	"provenance", "sbom", "attests", "annotations",
	"cache-pitfalls-ignore", // pitfalls (issue 17)
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
	CompressionLevel CompressionLevel
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

	// checks (issue 14)
	// Call is what the Dockerfile frontend is asked instead of a build (call: check,
	// outline, targets); nil builds.
	Call *CallFunc
	// flags (issue 14)
	// Flags are buildx build's flags for the RUN steps and the session: ssh, network,
	// add-hosts, shm-size, ulimit, cgroup-parent, allow, no-cache-filters (flags.go).
	Flags BuildFlags
	// load (issue 14)
	// Load is build-push-action's load: buildx's --load, one more docker export without
	// dest, which loads the image into the Docker Engine (see LoadsIntoDocker).
	Load bool
	// attest (issue 14)
	// Attest is provenance, sbom and attests; Attest.FrontendAttrs resolves them for a run.
	Attest      Attestations
	Annotations Annotations // annotations: exporter attrs on every output
	// gitctx (issue 14)
	// ContextSource says where `context` points: left empty (the checkout when it holds
	// the Dockerfile, else build-push-action's Git context), a workspace directory, or a
	// Git repository BuildKit fetches (Context is then the URL as written).
	ContextSource ContextSource

	// pitfalls (issue 17)
	// PitfallsIgnore are the cache pitfall ids not to report (cache-pitfalls-ignore).
	PitfallsIgnore PitfallsIgnore
}

// CacheSettings configures the automatic layer cache.
type CacheSettings struct {
	// Backend is cache-backend with cache-ref (Backend.Ref) and cache-dir (Backend.Dir).
	Backend Backend
	Scope   string    // empty: derived from the image name
	Mode    CacheMode // max or min
	SaveOn  SaveOn    // branch globs, or always / never; zero: the default branch
	Auto    bool      // false: cache-from/cache-to replace the automatic entries
}

// MountCacheSettings configures carrying RUN --mount=type=cache directories across runs.
type MountCacheSettings struct {
	Select    MountSelector // auto, all, none, or a list of ids/targets
	HashFiles HashGlobs     // glob patterns relative to the context
	MaxSize   MountMaxSize  // per ecosystem, or one size for every mount
	Keep      Keep          // superseded entries to keep on the default branch
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
	p.gitContext(in)

	p.call(in)
	in.Flags = p.buildFlags(in)
	p.gitSSHAgent(in)
	p.load(in)
	p.attestations(in)
	in.PitfallsIgnore = p.pitfallsIgnore() // pitfalls (issue 17)
	if in.Push && len(in.Tags) == 0 {
		p.fail("push", 0, "push: true needs at least one entry in tags to name the image")
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

// add records the *Error or Errors a value's parser returned for input; nil adds nothing.
func (p *parser) add(input string, err error) {
	var one *Error
	var many Errors
	switch {
	case err == nil:
	case errors.As(err, &many):
		p.errs = append(p.errs, many...)
	case errors.As(err, &one):
		p.errs = append(p.errs, one)
	default:
		p.fail(input, 0, err.Error())
	}
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
			if (e.Type == "local" || e.Type == "tar") && e.Destination == "" {
				p.fail("outputs", it.Line, fmt.Sprintf("a %s output needs dest=PATH", e.Type))
				continue
			}
			if problem := exportWithoutDest(e); problem != "" {
				p.fail("outputs", it.Line, problem)
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
	// An id given again replaces the earlier entry in its place, as buildx does
	// (util/buildflags/secrets.go removeSecretDupes) with the --secret flags
	// build-push-action passes in this order: secrets, secret-files, secret-envs.
	at := map[string]int{}
	add := func(_ string, _ int, s Secret) {
		if i, ok := at[s.ID]; ok {
			out[i] = s
			return
		}
		at[s.ID] = len(out)
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

func (p *parser) cacheSettings() CacheSettings {
	c := CacheSettings{
		Scope: p.str("cache-scope", ""),
		Auto:  p.boolean("cache-auto", true),
	}
	backend, err := ParseBackend(p.raw("cache-backend"), p.raw("cache-ref"), p.raw("cache-dir"))
	p.add("cache-backend", err)
	c.Backend = backend
	mode, err := ParseCacheMode(p.raw("cache-mode"))
	p.add("cache-mode", err)
	c.Mode = mode
	saveOn, errs := parseSaveOn(p.list("cache-save-on", false))
	p.errs = append(p.errs, errs...)
	c.SaveOn = saveOn
	return c
}

func (p *parser) mountCacheSettings() MountCacheSettings {
	var m MountCacheSettings
	sel, err := ParseMountSelector(p.raw("mount-caches"))
	p.add("mount-caches", err)
	m.Select = sel
	globs, errs := parseHashGlobs(p.list("mount-cache-hash-files", false))
	p.errs = append(p.errs, errs...)
	m.HashFiles = globs
	maxSize, errs := parseMountMaxSize(p.listWith("mount-cache-max-size", listOpts{}))
	p.errs = append(p.errs, errs...)
	m.MaxSize = maxSize
	m.Keep = DefaultKeep
	if v := p.str("mount-cache-keep", ""); v != "" {
		keep, err := ParseKeep(v)
		p.add("mount-cache-keep", err)
		m.Keep = keep
	}
	return m
}

func (p *parser) compressionLevel() CompressionLevel {
	v := p.str("compression-level", "")
	if v == "" {
		return DefaultCompressionLevel
	}
	n, err := ParseCompressionLevel(v)
	p.add("compression-level", err)
	return n
}
