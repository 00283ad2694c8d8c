package inputs

import (
	"errors"
	"strings"
	"testing"
)

var tableNames = []string{"pip", "uv", "poetry", "pipenv", "pdm", "npm", "go"}

// The caps a workflow's mount-cache-max-size gives each mount, as the engine asks them.
func TestMountMaxSizeCapsEachEcosystem(t *testing.T) {
	cases := []struct {
		raw  string
		want map[string]Size // ecosystem ("" for a mount no ecosystem claims) -> cap
		str  string
	}{
		{"", map[string]Size{"pip": 2 << 30, "go": 2 << 30, "": 2 << 30}, "2GiB"},
		// One size caps every mount, as before the list syntax.
		{"512MiB", map[string]Size{"pip": 512 << 20, "go": 512 << 20, "npm": 512 << 20, "": 512 << 20}, "512MiB"},
		{"2GiB, go=4GiB, npm=256MiB", map[string]Size{"go": 4 << 30, "npm": 256 << 20, "pip": 2 << 30, "": 2 << 30}, "2GiB,go=4GiB,npm=256MiB"},
		// No bare size: the rest keep the default.
		{"pip=1GiB", map[string]Size{"pip": 1 << 30, "uv": 2 << 30, "": 2 << 30}, "2GiB,pip=1GiB"},
		// Newlines, any case, spaces around the '=', a comment line.
		{"# caps\nGo = 3GiB\n1GiB\n", map[string]Size{"go": 3 << 30, "GO": 3 << 30, "npm": 1 << 30}, "1GiB,go=3GiB"},
	}
	for _, tc := range cases {
		m, err := ParseMountMaxSize(tc.raw)
		if err != nil {
			t.Errorf("ParseMountMaxSize(%q): %v", tc.raw, err)
			continue
		}
		for eco, want := range tc.want {
			if got := m.For(eco); got != want {
				t.Errorf("ParseMountMaxSize(%q).For(%q) = %s, want %s", tc.raw, eco, got, want)
			}
		}
		if got := m.String(); got != tc.str {
			t.Errorf("ParseMountMaxSize(%q) prints as %q, want %q", tc.raw, got, tc.str)
		}
		if err := m.CheckEcosystems(tableNames); err != nil {
			t.Errorf("ParseMountMaxSize(%q): %v", tc.raw, err)
		}
	}
}

// The zero value is the default, so code that never read the input caps at 2GiB.
func TestMountMaxSizeZeroValueIsTheDefault(t *testing.T) {
	var m MountMaxSize
	if m.For("pip") != DefaultMountCacheMaxSize || m.String() != "2GiB" {
		t.Errorf("zero value caps pip at %s and prints %q", m.For("pip"), m)
	}
}

// Each mistake is an error annotation naming the input and the entry, and saying what to
// write instead.
func TestMountMaxSizeRefusals(t *testing.T) {
	cases := []struct{ raw, want string }{
		{"lots", `"lots" is not a size`},
		{"go=lots", `"go=lots": "lots" is not a size`},
		{"2GiB, 4GiB", `two sizes without an ecosystem, "2GiB" and "4GiB"`},
		{"go=1GiB, npm=1GiB, GO=2GiB", `go is capped twice, "go=1GiB" and "GO=2GiB"`},
		{"=1GiB", `"=1GiB" does not start with an ecosystem name`},
		{"go=20GiB", `"go=20GiB": "20GiB" is more than 10GiB`},
		{"python 3=1GiB", `"python 3=1GiB" does not start with an ecosystem name`},
	}
	for _, tc := range cases {
		_, err := Parse(env(map[string]string{"mount-cache-max-size": tc.raw}))
		var ie *Error
		if !errors.As(err, &ie) || ie.Input != "mount-cache-max-size" || !strings.Contains(ie.Problem, tc.want) {
			t.Errorf("mount-cache-max-size %q: error %v, want one naming the input with %q", tc.raw, err, tc.want)
		}
	}
	// Every bad entry at once, each at its line.
	_, err := Parse(env(map[string]string{"mount-cache-max-size": "go=x\nnpm=y"}))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 || errs[0].Line != 1 || errs[1].Line != 2 {
		t.Errorf("two bad lines: %v, want one error per line", err)
	}
}

// An ecosystem the mount cache table does not have is refused with the names it has; the
// plan checks it (pkg/run), as this package cannot see the table.
func TestMountMaxSizeUnknownEcosystem(t *testing.T) {
	m, err := ParseMountMaxSize("1GiB\ngolang=4GiB")
	if err != nil {
		t.Fatal(err)
	}
	err = m.CheckEcosystems(tableNames)
	var ie *Error
	if !errors.As(err, &ie) || ie.Input != "mount-cache-max-size" || ie.Line != 2 ||
		!strings.Contains(ie.Problem, `"golang=4GiB": golang is not an ecosystem`) || !strings.Contains(ie.Problem, "pip, uv, poetry, pipenv, pdm, npm, go") {
		t.Errorf("golang=4GiB: %v", err)
	}
}

// FuzzParseMountMaxSize: any accepted input caps every mount within 1 byte..MaxSize, and
// prints in a form that reads back to the same caps.
//
//	go test ./pkg/inputs -run '^$' -fuzz '^FuzzParseMountMaxSize$' -fuzztime 60s
func FuzzParseMountMaxSize(f *testing.F) {
	for _, s := range []string{"2GiB", "2GiB, go=4GiB, npm=256MiB", "pip=1g\n# x\n1GiB", "go=1,go=2", "=", "a=b=c", "1,5GiB", `"go=1GiB"`, "\"", "GO=1k,\ngo =2k", "x=0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		m, err := ParseMountMaxSize(raw)
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) && !errors.As(err, new(*Error)) {
				t.Fatalf("ParseMountMaxSize(%q): error is not an input error: %v", raw, err)
			}
			return
		}
		back, err := ParseMountMaxSize(m.String())
		if err != nil || back.String() != m.String() {
			t.Fatalf("ParseMountMaxSize(%q) prints %q, which reads back as %q, %v", raw, m, back, err)
		}
		for _, eco := range append(m.Ecosystems(), "", "pip", "zzz") {
			n := m.For(eco)
			if n < 1 || n > MaxSize || back.For(eco) != n {
				t.Fatalf("ParseMountMaxSize(%q).For(%q) = %s (read back: %s)", raw, eco, n, back.For(eco))
			}
		}
	})
}
