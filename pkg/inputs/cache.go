package inputs

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/distribution/reference"
)

// This file holds the layer cache inputs that have a syntax, each a type that parses,
// checks and prints itself once (the way buildx's util/buildflags does for its flags), so
// the packages that use them (cachepolicy, layercache) never check them again.

// CacheMode is the cache-mode input: which layers a layer cache export holds. The zero
// value is max.
type CacheMode string

const (
	CacheModeMax CacheMode = "max" // every stage's layers
	CacheModeMin CacheMode = "min" // the final image's layers
)

// ParseCacheMode reads cache-mode: max or min, in any case; empty is max.
func ParseCacheMode(s string) (CacheMode, error) {
	switch m := CacheMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "":
		return CacheModeMax, nil
	case CacheModeMax, CacheModeMin:
		return m, nil
	}
	return CacheModeMax, &Error{Input: "cache-mode", Problem: fmt.Sprintf("%q is not a cache mode; use max (every stage's layers) or min (the final image's layers)", s)}
}

// String is the mode as BuildKit's exporters take it (mode=max or mode=min).
func (m CacheMode) String() string {
	if m == "" {
		return string(CacheModeMax)
	}
	return string(m)
}

// SaveOn is the cache-save-on input: which runs save caches. The zero value saves on the
// default branch only.
type SaveOn struct {
	always, never bool
	globs         []string // branch or tag globs, without refs/heads/ or refs/tags/
}

// ParseSaveOn reads cache-save-on as the workflow gives it: globs separated by commas or
// newlines, or always / never (in any case) alone. A glob is a path.Match pattern in which
// `*` stays inside one path segment (release/* matches release/1.2, not release/1.2/hotfix)
// and `**` crosses segments (release/** matches both); a refs/heads/ or refs/tags/ prefix,
// as copied from GITHUB_REF, is dropped. Problems are *Error values naming cache-save-on,
// one per bad entry (Errors).
func ParseSaveOn(raw string) (SaveOn, error) {
	items, err := parseList(raw, listOpts{})
	if err != nil {
		return SaveOn{}, Errors{{Input: "cache-save-on", Problem: fmt.Sprintf("cannot be read as a list: %v", err)}}
	}
	s, errs := parseSaveOn(items)
	if len(errs) > 0 {
		return SaveOn{}, errs
	}
	return s, nil
}

func parseSaveOn(items []item) (SaveOn, Errors) {
	var s SaveOn
	var errs Errors
	for _, it := range items {
		v := strings.TrimSpace(it.Value)
		switch {
		case v == "":
			continue
		case strings.EqualFold(v, "always"):
			s.always = true
			continue
		case strings.EqualFold(v, "never"):
			s.never = true
			continue
		}
		glob := strings.TrimPrefix(strings.TrimPrefix(v, "refs/heads/"), "refs/tags/")
		if err := checkBranchGlob(glob); err != nil {
			errs = append(errs, &Error{Input: "cache-save-on", Line: it.Line, Problem: fmt.Sprintf("%q is not a valid branch glob (%v); write globs such as main, release/* or release/**", v, err)})
			continue
		}
		s.globs = append(s.globs, glob)
	}
	switch {
	case s.always && s.never:
		errs = append(errs, &Error{Input: "cache-save-on", Problem: "always and never contradict each other; keep one"})
	case (s.always || s.never) && (len(s.globs) > 0 || len(errs) > 0):
		errs = append(errs, &Error{Input: "cache-save-on", Problem: "always and never stand alone; do not mix them with branch globs"})
	}
	if len(errs) > 0 {
		return SaveOn{}, errs
	}
	return s, nil
}

// checkBranchGlob checks each `**`-separated piece the way globMatch uses it.
func checkBranchGlob(glob string) error {
	for _, piece := range strings.Split(glob, "**") {
		if _, err := path.Match(piece, ""); err != nil {
			return err
		}
	}
	return nil
}

// Always is cache-save-on: always.
func (s SaveOn) Always() bool { return s.always }

// Never is cache-save-on: never.
func (s SaveOn) Never() bool { return s.never }

// Default is an empty cache-save-on: only the default branch saves.
func (s SaveOn) Default() bool { return !s.always && !s.never && len(s.globs) == 0 }

// Globs are the branch globs, as Match reports them.
func (s SaveOn) Globs() []string { return slices.Clone(s.globs) }

// Match returns the first glob that matches a branch or tag name, or "".
func (s SaveOn) Match(name string) string {
	for _, g := range s.globs {
		if globMatch(g, name) {
			return g
		}
	}
	return ""
}

// String gives the input back in the form ParseSaveOn reads; "" for the default.
func (s SaveOn) String() string {
	switch {
	case s.always:
		return "always"
	case s.never:
		return "never"
	}
	return strings.Join(s.globs, ",")
}

// globMatch is path.Match extended with `**`, which matches any run of characters,
// slashes included. Patterns were checked by checkBranchGlob.
func globMatch(pattern, name string) bool {
	before, after, found := strings.Cut(pattern, "**")
	if !found {
		ok, _ := path.Match(pattern, name)
		return ok
	}
	// The part before `**` must match a prefix of name and the rest of the pattern some
	// suffix that starts at or after that prefix. The shortest matching prefix leaves the
	// most suffixes to try, so it is the only one worth checking.
	for i := 0; i <= len(name); i++ {
		if ok, _ := path.Match(before, name[:i]); !ok {
			continue
		}
		for j := i; j <= len(name); j++ {
			if globMatch(after, name[j:]) {
				return true
			}
		}
		return false
	}
	return false
}

// BackendKind names where the automatic layer cache lives.
type BackendKind string

const (
	BackendAuto     BackendKind = ""         // decided from the runner: gha when it has the cache service, else none
	BackendGHA      BackendKind = "gha"      // the GitHub Actions cache service
	BackendRegistry BackendKind = "registry" // an image in a registry (cache-ref)
	BackendLocal    BackendKind = "local"    // a directory (cache-dir)
	BackendNone     BackendKind = "none"     // no automatic layer cache
)

// Backend is the cache-backend input together with cache-ref and cache-dir, checked
// against each other: a registry backend always has its reference and a local one its
// directory. The zero value is BackendAuto.
type Backend struct {
	kind BackendKind
	why  string // "cache-backend is gha", "cache-ref is set", ...; "" for auto
	ref  CacheRef
	dir  string
}

// ParseBackend reads cache-backend (gha, registry, local, none, auto or empty, in any
// case), cache-ref and cache-dir. Empty (auto) picks registry when cache-ref is set and
// local when cache-dir is set; otherwise the runner decides (BackendAuto). Every problem
// is an *Error naming the input to fix, all of them in Errors.
func ParseBackend(backend, cacheRef, cacheDir string) (Backend, error) {
	var errs Errors
	fail := func(input, problem string) { errs = append(errs, &Error{Input: input, Problem: problem}) }
	b := Backend{dir: strings.TrimSpace(cacheDir)}
	raw := strings.TrimSpace(backend)
	kind := BackendKind(strings.ToLower(raw))
	switch kind {
	case "auto":
		kind = BackendAuto
	case BackendAuto, BackendGHA, BackendRegistry, BackendLocal, BackendNone:
	default:
		fail("cache-backend", fmt.Sprintf("unknown backend %q; use gha, registry, local or none (or leave it empty to pick gha on GitHub)", raw))
	}
	refText := strings.TrimSpace(cacheRef)
	if refText != "" {
		ref, err := parseCacheRef(refText)
		if err != nil {
			errs = append(errs, err)
		}
		b.ref = ref
	}
	switch kind {
	case BackendAuto:
		switch {
		case refText != "" && b.dir != "":
			fail("cache-backend", "cache-ref and cache-dir are both set; set cache-backend to registry or local to say which one to use")
		case refText != "":
			kind, b.why = BackendRegistry, "cache-ref is set"
		case b.dir != "":
			kind, b.why = BackendLocal, "cache-dir is set"
		}
	case BackendRegistry:
		b.why = "cache-backend is registry"
		if refText == "" {
			fail("cache-ref", "cache-backend: registry needs cache-ref, e.g. ghcr.io/org/app:buildcache")
		}
	case BackendLocal:
		b.why = "cache-backend is local"
		if b.dir == "" {
			fail("cache-dir", "cache-backend: local needs cache-dir, a directory that persists between jobs")
		}
	default:
		b.why = "cache-backend is " + string(kind)
	}
	if refText != "" && kind != BackendRegistry && kind != BackendAuto {
		fail("cache-ref", fmt.Sprintf("cache-ref is for cache-backend: registry, but cache-backend is %s", kind))
	}
	if b.dir != "" && kind != BackendLocal && kind != BackendAuto {
		fail("cache-dir", fmt.Sprintf("cache-dir is for cache-backend: local, but cache-backend is %s", kind))
	}
	if len(errs) > 0 {
		return Backend{}, errs
	}
	b.kind = kind
	if kind != BackendRegistry {
		b.ref = CacheRef{}
	}
	if kind != BackendLocal {
		b.dir = ""
	}
	return b, nil
}

// Kind is the backend; BackendAuto leaves the choice to the runner's environment.
func (b Backend) Kind() BackendKind { return b.kind }

// Why says what chose the backend, e.g. "cache-ref is set"; "" for BackendAuto.
func (b Backend) Why() string { return b.why }

// Ref is the registry backend's cache image; zero for the other backends.
func (b Backend) Ref() CacheRef { return b.ref }

// Dir is the local backend's directory; "" for the other backends.
func (b Backend) Dir() string { return b.dir }

// String is the backend's name, "auto" for BackendAuto.
func (b Backend) String() string {
	if b.kind == BackendAuto {
		return "auto"
	}
	return string(b.kind)
}

// CacheRef is the cache-ref input: a registry repository, optionally with a tag, that the
// registry backend writes its cache images to (never a digest: it is written to).
type CacheRef struct {
	repo, tag string
}

// ParseCacheRef reads cache-ref. A problem is an *Error naming cache-ref.
func ParseCacheRef(s string) (CacheRef, error) {
	r, err := parseCacheRef(s)
	if err != nil {
		return CacheRef{}, err
	}
	return r, nil
}

func parseCacheRef(s string) (CacheRef, *Error) {
	s = strings.TrimSpace(s)
	named, err := reference.ParseNormalizedNamed(s)
	if err != nil {
		return CacheRef{}, &Error{Input: "cache-ref", Problem: fmt.Sprintf("%q is not a valid image reference: %v; give a repository, optionally with a tag, e.g. ghcr.io/org/app:buildcache", s, err)}
	}
	if _, ok := named.(reference.Digested); ok {
		return CacheRef{}, &Error{Input: "cache-ref", Problem: fmt.Sprintf("%q names a digest; give a repository, optionally with a tag, e.g. ghcr.io/org/app:buildcache", s)}
	}
	r := CacheRef{repo: s}
	if tagged, ok := named.(reference.Tagged); ok {
		r.tag = tagged.Tag()
		r.repo = strings.TrimSuffix(s, ":"+r.tag)
	}
	return r, nil
}

// Repo is the repository as the user wrote it (not normalized: ghcr.io/o/app, or app).
func (r CacheRef) Repo() string { return r.repo }

// Tag is the tag given, or "".
func (r CacheRef) Tag() string { return r.tag }

// String is the reference as given.
func (r CacheRef) String() string {
	if r.tag == "" {
		return r.repo
	}
	return r.repo + ":" + r.tag
}
