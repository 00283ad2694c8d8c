package inputs

import (
	"maps"
	"strings"
	"testing"

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
