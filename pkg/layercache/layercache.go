// Package layercache turns a cache backend, a cachepolicy.Decision and a scope into the
// cache import and export entries a BuildKit solve takes.
//
// Every image gets its own scope (see DefaultScope) and every branch its own cache within
// it (cachepolicy.Scope), so images and branches never overwrite each other:
//
//	gha       type=gha,scope=<scope>-<branch>         (ACTIONS_RUNTIME_TOKEN and service URL from the env)
//	registry  type=registry,ref=<repo>:<tag>-<scope>-<branch> (without a tag in cache-ref: <scope>-<branch>)
//	local     type=local,src|dest=<cache-dir>/<scope>-<branch>
//
// Exports always carry ignore-error=true: a cache that cannot be written is a warning, never
// a failed build. Explicit cache-from/cache-to entries are added to the automatic ones
// (Settings.Auto) or replace them; cache-to entries, like the automatic export, are only
// used when the policy decided to save: cache-save-on governs every write, and fork pull
// requests and pull_request_target never write. The cache mode (ACTIONS_CACHE_MODE, in
// Decision.Access) governs both: none imports and exports nothing, read only imports,
// write-only only exports.
//
// Entries may hold the runtime token: print them only through Redacted.
package layercache

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// Backends.
const (
	BackendGHA      = "gha"
	BackendRegistry = "registry"
	BackendLocal    = "local"
	BackendNone     = "none"
)

// Settings are the cache inputs of one build.
type Settings struct {
	// Backend is input cache-backend with cache-ref and cache-dir, parsed (pkg/inputs:
	// registry has its reference, local its directory). inputs.BackendAuto picks gha when
	// the runner provides the cache service (ACTIONS_RESULTS_URL or ACTIONS_CACHE_URL), and
	// none otherwise.
	Backend inputs.Backend

	// Scope is input cache-scope; empty derives one with DefaultScope(Tags, Dockerfile, Target).
	Scope      string
	Tags       []string
	Dockerfile string
	Target     string

	CacheFrom inputs.CacheEntries // input cache-from
	CacheTo   inputs.CacheEntries // input cache-to
	// Auto is input cache-auto: true adds CacheFrom/CacheTo to the automatic entries,
	// false uses them instead.
	Auto bool

	// GitHubToken, when set, lets BuildKit's gha exporter list the repository's existing
	// cache entries in one API call (needs actions: read) instead of probing blob by blob.
	GitHubToken string

	// Service is the run's one detection of the GitHub Actions cache service
	// (runnerenv.Env.CacheService, cacheservice.Vars.Detect), the one the mount caches use
	// too; ServiceErr is what the detection returned instead. Neither set: no service.
	Service    cacheservice.Service
	ServiceErr error
	// RuntimeToken is ACTIONS_RUNTIME_TOKEN, for cache-from/cache-to gha entries without a
	// token of their own; Repository is GITHUB_REPOSITORY, for the gha exporter's listing.
	RuntimeToken string
	Repository   string
}

// Plan is what the build imports and exports, and how to describe it.
type Plan struct {
	Backend       string // gha, registry, local or none: the automatic entries' backend
	BackendReason string // "<backend>: <why>", e.g. "registry: cache-ref is set"
	Scope         string // the image's scope, without branch
	ScopeReason   string

	Imports inputs.CacheEntries // fresh entries; never shared with Settings
	Exports inputs.CacheEntries

	// ReadScopes and WriteScope name the caches for reports: gha scopes, registry refs or
	// directories, in import order. WriteScope is empty when nothing is written.
	ReadScopes []string
	WriteScope string

	// Warnings are cache problems the user should see; the build goes on without them.
	Warnings []string
}

// NewPlan builds the plan. The settings come checked from pkg/inputs, so every one of them
// makes a plan.
func NewPlan(s Settings, d cachepolicy.Decision) Plan {
	var p Plan
	if s.Scope != "" {
		p.Scope, p.ScopeReason = cachepolicy.Scope(s.Scope, ""), "cache-scope"
	} else {
		p.Scope, p.ScopeReason = DefaultScope(s.Tags, s.Dockerfile, s.Target)
	}
	mode := d.Mode.String()

	var auto planEntries
	if s.Auto {
		backend, why := chooseBackend(s)
		p.Backend, p.BackendReason = backend, backend+": "+why
		switch backend {
		case BackendGHA:
			svc, problem := ghaServiceFrom(s)
			if problem != "" {
				p.Backend, p.BackendReason = BackendNone, "none: "+problem
				p.Warnings = append(p.Warnings, problem)
				break
			}
			p.BackendReason += ", " + svc.desc
			auto = ghaEntries(svc, p.Scope, mode, d, s.GitHubToken, s.Repository)
		case BackendRegistry:
			auto = registryEntries(s.Backend.Ref(), p.Scope, mode, d)
		case BackendLocal:
			auto = localEntries(s.Backend.Dir(), p.Scope, mode, d)
		}
	} else {
		p.Backend, p.BackendReason = BackendNone, "none: cache-auto is false, so only cache-from and cache-to are used"
	}

	var explicit planEntries
	if d.Access.Reads() { // the cache mode governs explicit reads too; Decision.ReadReason says why
		explicit.imports = p.explicitEntries("cache-from", s.CacheFrom, s, false)
	}
	if d.Save { // cache-save-on and the cache mode govern explicit writes too; Decision.Reason says why
		explicit.exports = p.explicitEntries("cache-to", s.CacheTo, s, true)
	}
	if !d.Access.Reads() {
		auto.imports = nil // ReadBranches is empty then; this holds for a Decision made by hand too
	}
	p.Imports = merge(auto.imports, explicit.imports)
	p.Exports = merge(auto.exports, explicit.exports)
	for _, e := range p.Imports {
		p.ReadScopes = append(p.ReadScopes, label(e))
	}
	var writes []string
	for _, e := range p.Exports {
		writes = append(writes, label(e))
	}
	p.WriteScope = strings.Join(writes, ", ")
	return p
}

// chooseBackend picks the automatic entries' backend and says why, e.g. "cache-ref is set":
// the inputs' choice, or for inputs.BackendAuto the runner's.
func chooseBackend(s Settings) (backend, why string) {
	if b := s.Backend; b.Kind() != inputs.BackendAuto {
		return string(b.Kind()), b.Why()
	}
	if s.offersService() {
		return BackendGHA, "the runner provides the GitHub Actions cache service"
	}
	return BackendNone, "this runner provides no GitHub Actions cache service (ACTIONS_RESULTS_URL and ACTIONS_CACHE_URL are unset); set cache-ref or cache-dir to cache layers in a registry or a directory"
}

type planEntries struct {
	imports, exports inputs.CacheEntries
}

func exportAttrs(mode string) map[string]string {
	return map[string]string{"mode": mode, "ignore-error": "true"}
}

func ghaEntries(svc ghaService, scope, mode string, d cachepolicy.Decision, ghToken, repository string) planEntries {
	var pe planEntries
	for _, b := range d.ReadBranches {
		attrs := svc.attrs()
		attrs["scope"] = cachepolicy.Scope(scope, b)
		pe.imports = append(pe.imports, &inputs.CacheEntry{Type: BackendGHA, Attrs: attrs})
	}
	if d.Save {
		attrs := svc.attrs()
		maps.Copy(attrs, exportAttrs(mode))
		attrs["scope"] = cachepolicy.Scope(scope, d.WriteBranch)
		if ghToken != "" && repository != "" {
			attrs["repository"], attrs["ghtoken"] = repository, ghToken
		}
		pe.exports = append(pe.exports, &inputs.CacheEntry{Type: BackendGHA, Attrs: attrs})
	}
	return pe
}

func registryEntries(cacheRef inputs.CacheRef, scope, mode string, d cachepolicy.Decision) planEntries {
	repo, tag := cacheRef.Repo(), cacheRef.Tag()
	// The image's scope is always part of the tag: a monorepo that points every image at one
	// cache-ref must not have the second image's export overwrite the first one's.
	if tag == "" {
		tag = scope
	} else {
		tag = tag + "-" + scope
	}
	ref := func(branch string) string { return repo + ":" + cachepolicy.Scope(tag, branch) }
	var pe planEntries
	for _, b := range d.ReadBranches {
		pe.imports = append(pe.imports, &inputs.CacheEntry{Type: BackendRegistry, Attrs: map[string]string{"ref": ref(b)}})
	}
	if d.Save {
		attrs := exportAttrs(mode)
		attrs["ref"] = ref(d.WriteBranch)
		attrs["image-manifest"], attrs["oci-mediatypes"] = "true", "true"
		pe.exports = append(pe.exports, &inputs.CacheEntry{Type: BackendRegistry, Attrs: attrs})
	}
	return pe
}

// localEntries use one directory per branch. A directory that does not exist yet (the first
// build) is no error: BuildKit's client skips a local import without index.json with a
// warning. reset=true drops blobs the new index no longer references, so the directory does
// not grow with every build.
func localEntries(dir, scope, mode string, d cachepolicy.Decision) planEntries {
	var pe planEntries
	for _, b := range d.ReadBranches {
		src := filepath.Join(dir, cachepolicy.Scope(scope, b))
		pe.imports = append(pe.imports, &inputs.CacheEntry{Type: BackendLocal, Attrs: map[string]string{"src": src}})
	}
	if d.Save {
		attrs := exportAttrs(mode)
		attrs["dest"] = filepath.Join(dir, cachepolicy.Scope(scope, d.WriteBranch))
		attrs["reset"] = "true"
		pe.exports = append(pe.exports, &inputs.CacheEntry{Type: BackendLocal, Attrs: attrs})
	}
	return pe
}

// explicitEntries copies the user's entries and completes them as buildx would: gha
// entries get the token and service URL from the environment, and exports get
// ignore-error=true unless the user said otherwise. A gha entry BuildKit could not
// configure is dropped with a warning rather than failing the build.
func (p *Plan) explicitEntries(input string, es inputs.CacheEntries, s Settings, export bool) inputs.CacheEntries {
	var out inputs.CacheEntries
	for _, e := range es {
		if e == nil {
			continue
		}
		c := &inputs.CacheEntry{Type: e.Type, Attrs: maps.Clone(e.Attrs)}
		if c.Attrs == nil {
			c.Attrs = map[string]string{}
		}
		if c.Type == BackendGHA {
			if problem := completeGHA(c, s); problem != "" {
				p.Warnings = append(p.Warnings, fmt.Sprintf("%s entry %s left out: %s", input, Redacted(e), problem))
				continue
			}
		}
		if export {
			if _, ok := c.Attrs["ignore-error"]; !ok {
				c.Attrs["ignore-error"] = "true"
			}
		}
		out = append(out, c)
	}
	return out
}

func completeGHA(e *inputs.CacheEntry, s Settings) string {
	if _, ok := e.Attrs["token"]; !ok {
		e.Attrs["token"] = s.RuntimeToken
	}
	_, hasURL := e.Attrs["url"]
	_, hasURLv2 := e.Attrs["url_v2"]
	if !hasURL && !hasURLv2 {
		svc, problem := ghaEndpointFrom(s)
		if problem != "" {
			return problem
		}
		for k, v := range svc.attrs() {
			if _, set := e.Attrs[k]; !set {
				e.Attrs[k] = v
			}
		}
	}
	return ghaTokenProblem(e.Attrs["token"])
}

// merge appends explicit entries to automatic ones. An automatic entry that writes to or
// reads from the same place as an explicit one is dropped: BuildKit refuses two exports to
// one registry ref, and two writers of one gha scope or directory overwrite each other.
func merge(auto, explicit inputs.CacheEntries) inputs.CacheEntries {
	var out inputs.CacheEntries
	seen := map[string]bool{}
	for _, e := range explicit {
		seen[target(e)] = true
	}
	for _, e := range auto {
		if !seen[target(e)] {
			out = append(out, e)
		}
	}
	for _, e := range explicit {
		k := target(e)
		if slices.ContainsFunc(out, func(o *inputs.CacheEntry) bool { return target(o) == k }) {
			continue // the same explicit entry twice
		}
		out = append(out, e)
	}
	return out
}

// target identifies where an entry reads or writes.
func target(e *inputs.CacheEntry) string {
	switch e.Type {
	case BackendRegistry:
		return "registry:" + e.Attrs["ref"]
	case BackendGHA:
		scope := e.Attrs["scope"]
		if scope == "" {
			scope = "buildkit" // BuildKit's default
		}
		return "gha:" + scope
	case BackendLocal:
		return "local:" + filepath.Clean(label(e))
	default:
		return Redacted(e)
	}
}

// label names an entry's cache for reports.
func label(e *inputs.CacheEntry) string {
	switch e.Type {
	case BackendRegistry:
		return e.Attrs["ref"]
	case BackendGHA:
		if s := e.Attrs["scope"]; s != "" {
			return s
		}
		return "buildkit"
	case BackendLocal:
		if d := e.Attrs["dest"]; d != "" {
			return d
		}
		return e.Attrs["src"]
	default:
		return Redacted(e)
	}
}
