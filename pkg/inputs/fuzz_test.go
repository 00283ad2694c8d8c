package inputs

import (
	"errors"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/docker/buildx/util/buildflags"
)

// FuzzFlagSyntax: whatever the text of cache-from/cache-to, outputs or build-contexts,
// our parsers never panic, and when buildx's own parser accepts it too, both read it
// the same way (and buildx never accepts what ours refuses).
//
//	go test ./pkg/inputs -run '^$' -fuzz '^FuzzFlagSyntax$' -fuzztime 60s
func FuzzFlagSyntax(f *testing.F) {
	for _, s := range []string{
		"type=registry,ref=ghcr.io/o/app:cache,mode=max", "ghcr.io/o/app:cache", "type=gha,scope=app,mode=max",
		`type=s3,region=eu-west-1,bucket=b,"name=a,b"`, "TYPE=inline", "type=registry,broken", "type=local,dest=out",
		"-", "type=docker,dest=x,\"annotation=a,b\"", "alpine=docker-image://alpine:3.20", "Bad Name=x", "\"", "=,=", `""""`, `"a,b"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseCacheEntry(in)
		want, werr := buildflags.ParseCacheEntry([]string{in})
		if (err == nil) != (werr == nil) {
			t.Errorf("cache %q: buildx error %v, ours %v", in, werr, err)
		}
		if err == nil {
			if werr == nil && len(want) == len(got) {
				for i := range want {
					if want[i].Type != got[i].Type || !maps.Equal(want[i].Attrs, got[i].Attrs) {
						t.Errorf("cache %q: buildx %v, ours %v", in, want[i], got[i])
					}
				}
			}
		}
		if got, err := ParseExport(in); err == nil {
			if want, werr := buildflags.ParseExports([]string{in}); werr == nil && len(want) == 1 {
				w := want[0]
				if w.Type != got.Type || w.Destination != got.Destination || !maps.Equal(w.Attrs, got.Attrs) {
					t.Errorf("output %q: buildx %+v, ours %+v", in, w, got)
				}
			}
		}
		if name, value, err := ParseContextName(in); err == nil {
			if want, werr := buildflags.ParseContextNames([]string{in}); werr == nil && want[name] != value {
				t.Errorf("context %q: buildx %v, ours %s=%s", in, want, name, value)
			}
		}
	})
}

// FuzzParseList: list inputs (tags, platforms, build-args, secrets, ...) never panic,
// and every entry is non-empty and not a comment; entries are trimmed unless the list
// keeps white space (secrets), as build-push-action reads them.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{"a,b\nc", "\"x,y\"\n# comment\n", "\"unterminated", "  ,, \n\n", "A=1\nB=\"2\n3\"", "k=a, b"} {
		f.Add(s, true, false, false)
		f.Add(s, false, false, false)
		f.Add(s, true, true, true)
	}
	f.Fuzz(func(t *testing.T, raw string, ignoreComma, keepWhitespace, noQuotes bool) {
		items, err := parseList(raw, listOpts{ignoreComma: ignoreComma, keepWhitespace: keepWhitespace, noQuotes: noQuotes})
		if err != nil {
			return
		}
		for _, it := range items {
			if strings.TrimSpace(it.Value) == "" {
				t.Fatalf("entry %q of %q is blank", it.Value, raw)
			}
			if !keepWhitespace && it.Value != strings.TrimSpace(it.Value) {
				t.Fatalf("entry %q of %q is untrimmed", it.Value, raw)
			}
		}
	})
}

// FuzzTypedInputs: whatever the workflow writes in the inputs that have a syntax of their
// own, Parse never panics and reports only *Error values naming one of them; what it
// accepts, the packages below can use without checking again: a registry backend has its
// reference and a local one its directory, save-on globs match without error, selectors
// and sizes print in a form their parser reads back to the same value, and hash globs
// stay inside the build context and never make fs.Glob fail.
//
//	go test ./pkg/inputs -run '^$' -fuzz '^FuzzTypedInputs$' -fuzztime 60s
func FuzzTypedInputs(f *testing.F) {
	f.Add("main,release/**", "max", "", "ghcr.io/o/app:cache", "", "auto", "requirements*.txt", "2GiB")
	f.Add("Always", "MIN", "local", "", "/c", "shop-pip, /root/.cache/pip", "./a/../b/*.lock", "1.5 GiB")
	f.Add(`\**`, "fast", "s3", "UPPER:x", "/c", "all,none", "../*.txt\n/etc/passwd", "99999999999TiB")
	f.Add("refs/heads/refs/tags/v*\n[", " ", "AUTO", "r@sha256:"+strings.Repeat("a", 64), "", "a b", "[", "0")
	f.Add("never,always", "", "registry", "", "", "\n,\n", "**/*.toml", "1024")
	names := []string{"cache-save-on", "cache-mode", "cache-backend", "cache-ref", "cache-dir", "mount-caches", "mount-cache-hash-files", "mount-cache-max-size"}
	f.Fuzz(func(t *testing.T, saveOn, mode, backend, ref, dir, sel, hashFiles, size string) {
		values := []string{saveOn, mode, backend, ref, dir, sel, hashFiles, size}
		raw := map[string]string{}
		for i, n := range names {
			raw[n] = values[i]
		}
		in, err := Parse(env(raw))
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is not an input error: %v", err)
			}
			for _, e := range errs {
				if !slices.Contains(names, e.Input) {
					t.Fatalf("error names %q, an input not given: %v", e.Input, e)
				}
			}
			return
		}
		b := in.Cache.Backend
		switch {
		case b.Kind() == BackendRegistry && b.Ref().Repo() == "":
			t.Fatalf("registry backend without a reference: %+v", b)
		case b.Kind() == BackendLocal && b.Dir() == "":
			t.Fatalf("local backend without a directory: %+v", b)
		case b.Kind() != BackendRegistry && b.Ref() != (CacheRef{}), b.Kind() != BackendLocal && b.Dir() != "":
			t.Fatalf("%s backend keeps another backend's setting: %+v", b, b)
		}
		if b.Kind() == BackendRegistry {
			if back, err := ParseCacheRef(b.Ref().String()); err != nil || back != b.Ref() {
				t.Fatalf("cache-ref %q reads back as %+v, %v", b.Ref(), back, err)
			}
		}
		if back, err := ParseCacheMode(in.Cache.Mode.String()); err != nil || back != in.Cache.Mode {
			t.Fatalf("cache-mode %q reads back as %q, %v", in.Cache.Mode, back, err)
		}
		s := in.Cache.SaveOn
		if (s.Always() || s.Never()) && (len(s.Globs()) > 0 || s.Always() == s.Never()) {
			t.Fatalf("always/never not alone: %+v", s)
		}
		for _, name := range []string{"", "main", "release/1.2/x", saveOn} {
			if m := s.Match(name); m != "" && !slices.Contains(s.Globs(), m) {
				t.Fatalf("Match(%q) = %q, not one of %q", name, m, s.Globs())
			}
		}
		if back, err := ParseMountSelector(in.MountCache.Select.String()); err != nil || !reflect.DeepEqual(back, in.MountCache.Select) {
			t.Fatalf("mount-caches %q reads back as %+v, %v", in.MountCache.Select, back, err)
		}
		for _, g := range in.MountCache.HashFiles.Globs() {
			if !fs.ValidPath(g) {
				t.Fatalf("hash glob %q reaches outside the context", g)
			}
			if _, err := fs.Glob(fstest.MapFS{"requirements.txt": {}}, g); err != nil {
				t.Fatalf("hash glob %q: %v", g, err)
			}
		}
		if back, err := ParseHashGlobs(in.MountCache.HashFiles.Globs()...); err != nil || !reflect.DeepEqual(back, in.MountCache.HashFiles) {
			t.Fatalf("hash globs %q read back as %q, %v", in.MountCache.HashFiles, back, err)
		}
		if back, err := ParseMountMaxSize(in.MountCache.MaxSize.String()); err != nil || back.String() != in.MountCache.MaxSize.String() {
			t.Fatalf("mount-cache-max-size %q reads back as %q, %v", in.MountCache.MaxSize, back, err)
		}
	})
}
