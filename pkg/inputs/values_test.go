package inputs

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// Branch globs match as the cache policy always matched them: `*` within one path
// segment, `**` across segments, a full ref naming the branch.
func TestSaveOnGlobsMatchBranches(t *testing.T) {
	tests := []struct {
		pattern, branch string
		want            bool
	}{
		{"main", "main", true},
		{"main", "main2", false},
		{"release/*", "release/1.2", true},
		{"release/*", "release/1.2/hotfix", false},
		{"release/**", "release/1.2/hotfix", true},
		{"release/**", "release/", true},
		{"release/**", "releases/1", false},
		{"**", "any/thing/at/all", true},
		{"**/hotfix", "release/1.2/hotfix", true},
		{"**/hotfix", "release/1.2/hotfix-2", false},
		{"feature/**/wip-*", "feature/a/b/wip-login", true},
		{"feature/**/wip-*", "feature/a/b/login", false},
		{"v[0-9]*", "v1.4.0", true},
		{"v[0-9]*", "vnext", false},
		{"refs/heads/main", "main", true},
		{"refs/tags/v*", "v2", true},
	}
	for _, tt := range tests {
		s, err := ParseSaveOn(tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		if got := s.Match(tt.branch) != ""; got != tt.want {
			t.Errorf("cache-save-on %q, branch %q: matched %v, want %v", tt.pattern, tt.branch, got, tt.want)
		}
	}
}

func TestSaveOnKeywordsInAnyCaseStandAlone(t *testing.T) {
	for raw, want := range map[string]string{"": "", "ALWAYS": "always", " Never\n": "never", "main, release/*\nrefs/heads/v2": "main,release/*,v2"} {
		s, err := ParseSaveOn(raw)
		if err != nil || s.String() != want {
			t.Errorf("ParseSaveOn(%q) = %q, %v; want %q", raw, s, err, want)
		}
	}
	if s, _ := ParseSaveOn(""); !s.Default() || s.Always() || s.Never() || s.Match("main") != "" {
		t.Errorf("empty cache-save-on is not the default rule: %+v", s)
	}
}

// One parser validates what it matches: a glob path.Match would refuse inside `**`
// (`\**` is a valid filepath.Match pattern, but `\` alone is not) fails here, in
// inputs.Parse, and not later in the cache policy.
func TestSaveOnRefusesWhatItCannotMatch(t *testing.T) {
	tests := []struct{ raw, says string }{
		{"main\nrelease/[x", `line 2: "release/[x" is not a valid branch glob`},
		{`\**`, "not a valid branch glob"},
		{`**/x\`, "not a valid branch glob"},
		{"always,main", "always and never stand alone"},
		{"Always\nnever", "always and never contradict each other; keep one"},
	}
	for _, tt := range tests {
		_, err := Parse(env(map[string]string{"cache-save-on": tt.raw}))
		var ie *Error
		if !errors.As(err, &ie) || ie.Input != "cache-save-on" || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("cache-save-on %q: got %v, want an error naming cache-save-on that says %q", tt.raw, err, tt.says)
		}
	}
}

func TestCacheModeInAnyCase(t *testing.T) {
	for raw, want := range map[string]CacheMode{"": CacheModeMax, "max": CacheModeMax, " MIN ": CacheModeMin, "Max": CacheModeMax} {
		in, err := Parse(env(map[string]string{"cache-mode": raw}))
		if err != nil || in.Cache.Mode != want {
			t.Errorf("cache-mode %q: got %v, %v; want %s", raw, in, err, want)
		}
	}
	if m := CacheMode(""); m.String() != "max" {
		t.Errorf("zero mode prints as %q, want max", m)
	}
}

// The backend comes out of inputs decided as far as the inputs decide it, with the reason
// the plan prints; a registry backend always has its reference split into repository and tag.
func TestBackendComesDecidedWithItsReason(t *testing.T) {
	tests := []struct {
		backend, ref, dir string
		kind              BackendKind
		why, repo, tag    string
	}{
		{"", "", "", BackendAuto, "", "", ""},
		{"auto", "", "", BackendAuto, "", "", ""},
		{"", "127.0.0.1:5000/cache:bc", "", BackendRegistry, "cache-ref is set", "127.0.0.1:5000/cache", "bc"},
		{"", "ghcr.io/o/app", "", BackendRegistry, "cache-ref is set", "ghcr.io/o/app", ""},
		{"", "", "/c", BackendLocal, "cache-dir is set", "", ""},
		{"registry", "ghcr.io/o/app:buildcache", "", BackendRegistry, "cache-backend is registry", "ghcr.io/o/app", "buildcache"},
		{"LOCAL", "", "/c", BackendLocal, "cache-backend is local", "", ""},
		{"GHA", "", "", BackendGHA, "cache-backend is gha", "", ""},
		{"none", "", "", BackendNone, "cache-backend is none", "", ""},
	}
	for _, tt := range tests {
		in, err := Parse(env(map[string]string{"cache-backend": tt.backend, "cache-ref": tt.ref, "cache-dir": tt.dir}))
		if err != nil {
			t.Fatalf("%+v: %v", tt, err)
		}
		b := in.Cache.Backend
		if b.Kind() != tt.kind || b.Why() != tt.why || b.Ref().Repo() != tt.repo || b.Ref().Tag() != tt.tag || b.Dir() != strings.TrimSpace(map[bool]string{true: tt.dir}[tt.kind == BackendLocal]) {
			t.Errorf("%+v: got kind %q why %q ref %q/%q dir %q", tt, b.Kind(), b.Why(), b.Ref().Repo(), b.Ref().Tag(), b.Dir())
		}
	}
}

func TestMountSelectorReadsKeywordsAndLists(t *testing.T) {
	for _, tc := range []struct{ input, want string }{
		{"", "auto"},
		{"  \n ", "auto"},
		{"auto", "auto"},
		{"AUTO", "auto"},
		{"all", "all"},
		{" none\n", "none"},
		{"shop-pip", "shop-pip"},
		{"/root/.cache/pip, shop-pip", "/root/.cache/pip,shop-pip"},
		{"shop-pip\n/var/cache/apt\n\nshop-pip", "/var/cache/apt,shop-pip"},
	} {
		in, err := Parse(env(map[string]string{"mount-caches": tc.input}))
		if err != nil {
			t.Errorf("%q: %v", tc.input, err)
			continue
		}
		if s := in.MountCache.Select; s.String() != tc.want {
			t.Errorf("%q parsed as %q, want %q", tc.input, s, tc.want)
		}
	}
	for _, raw := range []string{"auto,shop-pip", "all\nnone", "auto all", "none, /root/.cache/pip", "shop pip"} {
		_, err := Parse(env(map[string]string{"mount-caches": raw}))
		var ie *Error
		if !errors.As(err, &ie) || ie.Input != "mount-caches" || !strings.Contains(ie.Problem, "list cache mount ids or targets separated by commas or newlines") && !strings.Contains(ie.Problem, "use auto, all or none alone") {
			t.Errorf("%q: want an error naming mount-caches that says how to write it, got %v", raw, err)
		}
	}
	if s := (MountSelector{}); !s.Auto() || s.None() || s.All() || s.Names() != nil {
		t.Errorf("zero selector is not auto: %+v", s)
	}
}

func TestHashGlobsAreCleanedAndDefaulted(t *testing.T) {
	in, err := Parse(env(map[string]string{"mount-cache-hash-files": "./requirements.txt\nsrc//deps/*.lock"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := in.MountCache.HashFiles.Globs(); !reflect.DeepEqual(got, []string{"requirements.txt", "src/deps/*.lock"}) {
		t.Errorf("globs %q", got)
	}
	def, err := ParseHashGlobs()
	if err != nil || !reflect.DeepEqual(def.Globs(), DefaultHashFiles) {
		t.Errorf("no patterns: %q, %v; want the defaults %q", def.Globs(), err, DefaultHashFiles)
	}
}

// Every input with a syntax is refused by inputs.Parse, all at once and before anything
// starts: mount-caches and a hash glob leaving the context used to be refused only after
// the builder had started, a cache-ref digest and cache-ref with cache-dir only by the
// layer cache plan.
func TestEverySyntaxIsRefusedByParseAtOnce(t *testing.T) {
	_, err := Parse(env(map[string]string{
		"mount-caches":           "auto,shop-pip",
		"mount-cache-hash-files": "requirements.txt\n../secrets/*.txt\n/etc/passwd",
		"cache-ref":              "ghcr.io/o/c@sha256:" + strings.Repeat("a", 64),
		"cache-mode":             "fast",
		"cache-save-on":          "release/[",
		"mount-cache-max-size":   "lots",
		"mount-cache-keep":       "none",
		"compression-level":      "fast",
	}))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want input errors, got %v", err)
	}
	want := []string{
		`input "mount-caches": "auto" cannot be combined with other entries`,
		`input "mount-cache-hash-files", line 2: "../secrets/*.txt" must be a path relative to the build context, without ..`,
		`input "mount-cache-hash-files", line 3: "/etc/passwd" must be a path relative to the build context`,
		`input "cache-ref": "ghcr.io/o/c@sha256:aaaa`,
		`input "cache-mode": "fast" is not a cache mode`,
		`input "cache-save-on", line 1: "release/[" is not a valid branch glob`,
		`input "mount-cache-max-size": "lots" is not a size`,
		`input "mount-cache-keep": "none" is not a whole number of at least 1`,
		`input "compression-level": "fast" is not a gzip level`,
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(errs), len(want), err)
	}
	for _, ie := range errs {
		if ie.Input == "cache-ref" && (ie.Title() != "Invalid input cache-ref" || !strings.Contains(ie.Problem, "names a digest; give a repository")) {
			t.Errorf("digest error %q does not say how to fix it", ie)
		}
		if ie.Input == "cache-save-on" && !strings.Contains(ie.Problem, "write globs such as main, release/* or release/**") {
			t.Errorf("glob error %q does not say how to fix it", ie)
		}
	}
}

func TestBothCacheRefAndCacheDirAskForABackend(t *testing.T) {
	_, err := Parse(env(map[string]string{"cache-ref": "ghcr.io/o/c", "cache-dir": "/c"}))
	var ie *Error
	if !errors.As(err, &ie) || ie.Input != "cache-backend" || !strings.Contains(ie.Problem, "set cache-backend to registry or local") {
		t.Errorf("got %v", err)
	}
}

func TestSizePrintsWhatParseSizeReads(t *testing.T) {
	for in, want := range map[string]string{"2GiB": "2GiB", "500MB": "500000000", "1.5 GiB": "1536MiB", "0.5KiB": "512", "10g": "10GiB", "1024k": "1MiB"} {
		s, err := ParseSize(in)
		if err != nil || s.String() != want {
			t.Errorf("ParseSize(%q) prints %q, %v; want %q", in, s, err, want)
		}
		if back, err := ParseSize(s.String()); err != nil || back != s {
			t.Errorf("%q: %s reads back as %d, %v", in, s, back, err)
		}
	}
}
