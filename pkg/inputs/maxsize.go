package inputs

import (
	"fmt"
	"slices"
	"strings"
)

// MountMaxSize is the mount-cache-max-size input: the largest size (uncompressed file
// content) a mount cache is pruned to before it is saved, least recently used files first.
// One size caps every mount, as the input always has; a list caps per ecosystem:
//
//	2GiB                        every mount
//	2GiB, go=4GiB, npm=256MiB   go's and npm's mounts, the rest 2GiB
//	pip=1GiB                    pip's mounts; the rest DefaultMountCacheMaxSize
//
// Entries are separated by commas or newlines (as the other list inputs); at most one is
// a bare size (the default for every mount no entry names) and each ecosystem is named
// once. Names are the ecosystems of pkg/mountcache's table (as mount-caches takes them),
// which this package cannot import: CheckEcosystems checks them against that list in the
// plan. The zero value caps every mount at DefaultMountCacheMaxSize.
type MountMaxSize struct {
	dflt Size     // 0: DefaultMountCacheMaxSize
	caps []ecoCap // sorted by name, one per name
}

// ecoCap is one <ecosystem>=<size> entry; written and line are kept to point at it when
// the name turns out unknown.
type ecoCap struct {
	eco     string // lower case
	size    Size
	written string
	line    int
}

const maxSizeInput = "mount-cache-max-size"

// ParseMountMaxSize reads mount-cache-max-size; empty is the default. Each bad entry is an
// *Error naming the input (and its line), all of them in Errors.
func ParseMountMaxSize(raw string) (MountMaxSize, error) {
	items, err := parseList(raw, listOpts{})
	if err != nil {
		return MountMaxSize{}, &Error{Input: maxSizeInput, Problem: fmt.Sprintf("cannot be read as a list: %v", err)}
	}
	m, errs := parseMountMaxSize(items)
	if len(errs) > 0 {
		return MountMaxSize{}, errs
	}
	return m, nil
}

func parseMountMaxSize(items []item) (MountMaxSize, Errors) {
	var m MountMaxSize
	var errs Errors
	// A line number only where there are lines: "2GiB, 4GiB" is one value.
	lines := slices.ContainsFunc(items, func(it item) bool { return it.Line > 1 })
	if !lines {
		for i := range items {
			items[i].Line = 0
		}
	}
	fail := func(it item, problem string) {
		errs = append(errs, &Error{Input: maxSizeInput, Line: it.Line, Problem: problem})
	}
	dfltAt := ""
	for _, it := range items {
		name, size, named := strings.Cut(it.Value, "=")
		if !named {
			size = name
		}
		n, err := ParseSize(size)
		if err != nil {
			if named {
				fail(it, fmt.Sprintf("%q: %v", it.Value, err))
			} else {
				fail(it, err.Error())
			}
			continue
		}
		if !named {
			if dfltAt != "" {
				fail(it, fmt.Sprintf("two sizes without an ecosystem, %q and %q: give at most one (the cap of every mount no entry names), and name the others as <ecosystem>=<size>, e.g. 2GiB, go=4GiB", dfltAt, it.Value))
				continue
			}
			dfltAt, m.dflt = it.Value, n
			continue
		}
		eco := strings.ToLower(strings.TrimSpace(name))
		if !validEcosystemName(eco) {
			fail(it, fmt.Sprintf("%q does not start with an ecosystem name; write <ecosystem>=<size>, e.g. go=4GiB", it.Value))
			continue
		}
		if i := slices.IndexFunc(m.caps, func(c ecoCap) bool { return c.eco == eco }); i >= 0 {
			fail(it, fmt.Sprintf("%s is capped twice, %q and %q: give each ecosystem one size", eco, m.caps[i].written, it.Value))
			continue
		}
		m.caps = append(m.caps, ecoCap{eco: eco, size: n, written: it.Value, line: it.Line})
	}
	if len(errs) > 0 {
		return MountMaxSize{}, errs
	}
	if m.dflt == DefaultMountCacheMaxSize {
		m.dflt = 0 // one value for the default, however it was written
	}
	slices.SortFunc(m.caps, func(a, b ecoCap) int { return strings.Compare(a.eco, b.eco) })
	return m, nil
}

// validEcosystemName: what the table's names look like (pip, npm, go, ...), so that a size
// with a stray "=" is not taken for a name.
func validEcosystemName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

// CheckEcosystems returns an *Error (all of them in Errors) for each entry whose name is
// not one of known, the ecosystem names of the mount cache table; nil when all are.
func (m MountMaxSize) CheckEcosystems(known []string) error {
	var errs Errors
	for _, c := range m.caps {
		if !slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, c.eco) }) {
			errs = append(errs, &Error{Input: maxSizeInput, Line: c.line, Problem: fmt.Sprintf(
				"%q: %s is not an ecosystem; cap one of %s, or give a bare size for every mount", c.written, c.eco, strings.Join(known, ", "))})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// For is the cap of a mount holding ecosystem's cache ("" for a mount no ecosystem
// claims): its entry's size, else the bare size, else DefaultMountCacheMaxSize.
func (m MountMaxSize) For(ecosystem string) Size {
	eco := strings.ToLower(ecosystem)
	if i := slices.IndexFunc(m.caps, func(c ecoCap) bool { return c.eco == eco }); eco != "" && i >= 0 {
		return m.caps[i].size
	}
	return m.Default()
}

// Default is the cap of every mount no entry names.
func (m MountMaxSize) Default() Size {
	if m.dflt == 0 {
		return DefaultMountCacheMaxSize
	}
	return m.dflt
}

// Ecosystems are the names the entries cap, sorted.
func (m MountMaxSize) Ecosystems() []string {
	out := make([]string, len(m.caps))
	for i, c := range m.caps {
		out[i] = c.eco
	}
	return out
}

// String gives the input back in a form ParseMountMaxSize reads as the same caps: the
// default, then each ecosystem's entry ("2GiB,go=4GiB").
func (m MountMaxSize) String() string {
	parts := []string{m.Default().String()}
	for _, c := range m.caps {
		parts = append(parts, c.eco+"="+c.size.String())
	}
	return strings.Join(parts, ",")
}
