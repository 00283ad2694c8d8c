package inputs

import (
	"fmt"
	"io/fs"
	"math/big"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// This file holds the mount cache inputs and compression-level, each a type that parses,
// checks and prints itself once; pkg/mountcache takes them as they are.

type mountSelectKind int

const (
	selectAuto mountSelectKind = iota
	selectAll
	selectNone
	selectList
)

// MountSelector is the mount-caches input: which RUN --mount=type=cache directories to
// carry across runs. The zero value is auto. pkg/mountcache matches mounts against it.
type MountSelector struct {
	kind  mountSelectKind
	names []string // selectList: ids or targets as written, sorted, without duplicates
}

// ParseMountSelector reads the mount-caches input:
//
//	auto (or empty)  mounts that hold a known package manager's cache (pip, uv, npm, ...)
//	all              every cache mount
//	none             no mount cache
//	a list           ids, targets or ecosystem names (pip, uv, npm: that package
//	                 manager's mounts), separated by commas or newlines
//
// auto, all and none (in any case) stand alone. A bad value is an *Error naming
// mount-caches.
func ParseMountSelector(input string) (MountSelector, error) {
	var items []string
	for _, line := range strings.Split(input, "\n") {
		for _, item := range strings.Split(line, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
	}
	keyword := func(s string) (mountSelectKind, bool) {
		switch strings.ToLower(s) {
		case "auto":
			return selectAuto, true
		case "all":
			return selectAll, true
		case "none":
			return selectNone, true
		}
		return 0, false
	}
	if len(items) == 0 {
		return MountSelector{kind: selectAuto}, nil
	}
	if len(items) == 1 {
		if kind, ok := keyword(items[0]); ok {
			return MountSelector{kind: kind}, nil
		}
	}
	for _, item := range items {
		if _, ok := keyword(item); ok {
			return MountSelector{}, &Error{Input: "mount-caches", Problem: fmt.Sprintf(
				"%q cannot be combined with other entries: use auto, all or none alone, or list mount ids/targets", item)}
		}
		if strings.ContainsAny(item, " \t") {
			return MountSelector{}, &Error{Input: "mount-caches", Problem: fmt.Sprintf(
				"%q contains spaces: list cache mount ids or targets separated by commas or newlines", item)}
		}
	}
	slices.Sort(items)
	return MountSelector{kind: selectList, names: slices.Compact(items)}, nil
}

// Auto: mounts that hold a known package manager's cache (pip, uv, npm, ...).
func (s MountSelector) Auto() bool { return s.kind == selectAuto }

// All: every cache mount.
func (s MountSelector) All() bool { return s.kind == selectAll }

// None: no mount cache at all.
func (s MountSelector) None() bool { return s.kind == selectNone }

// Names are the listed ids or targets, sorted; nil unless the input is a list.
func (s MountSelector) Names() []string { return slices.Clone(s.names) }

// String gives the selector back in input form.
func (s MountSelector) String() string {
	switch s.kind {
	case selectAll:
		return "all"
	case selectNone:
		return "none"
	case selectList:
		return strings.Join(s.names, ",")
	}
	return "auto"
}

// DefaultHashFiles are the files whose content decides a mount cache's key: the usual
// places Python projects pin their dependencies. action.yml's default is the same list
// (a test keeps the two equal).
var DefaultHashFiles = []string{
	"*requirements*.txt", "requirements/*.txt", "*constraints*.txt", "pyproject.toml", "poetry.lock", "uv.lock",
	"Pipfile.lock", "setup.cfg", "setup.py",
}

// HashGlobs is the mount-cache-hash-files input: globs, relative to the build context,
// of the files whose content decides a mount cache's key. Each is a path.Match pattern,
// slash-separated, cleaned, and cannot reach outside the context (no absolute path, no
// ..), so fs.Glob on the context takes it as it is.
type HashGlobs struct {
	globs []string
	dflt  bool // the input is DefaultHashFiles (left empty or as action.yml's default), which pkg/mountcache may replace per ecosystem
}

// IsDefault reports whether the input is the default list (DefaultHashFiles): pkg/mountcache
// then keys each ecosystem's cache on that ecosystem's own files (npm: package-lock.json).
func (h HashGlobs) IsDefault() bool { return h.dflt }

// ParseHashGlobs checks patterns; none at all is the default set (DefaultHashFiles).
// Each bad pattern is an *Error naming mount-cache-hash-files, all of them in Errors.
func ParseHashGlobs(patterns ...string) (HashGlobs, error) {
	items := make([]item, len(patterns))
	for i, p := range patterns {
		items[i] = item{Value: p}
	}
	h, errs := parseHashGlobs(items)
	if len(errs) > 0 {
		return HashGlobs{}, errs
	}
	return h, nil
}

func parseHashGlobs(items []item) (HashGlobs, Errors) {
	var h HashGlobs
	if len(items) == 0 {
		items = make([]item, len(DefaultHashFiles))
		for i, p := range DefaultHashFiles {
			items[i] = item{Value: p}
		}
	}
	var errs Errors
	for _, it := range items {
		g, problem := hashGlob(it.Value)
		if problem != "" {
			errs = append(errs, &Error{Input: "mount-cache-hash-files", Line: it.Line, Problem: problem})
			continue
		}
		h.globs = append(h.globs, g)
	}
	if len(errs) > 0 {
		return HashGlobs{}, errs
	}
	// action.yml passes its default as written: the same list is the default.
	h.dflt = slices.Equal(h.globs, DefaultHashFiles)
	return h, nil
}

func hashGlob(pattern string) (string, string) {
	clean := strings.TrimPrefix(path.Clean(filepath.ToSlash(strings.TrimSpace(pattern))), "./")
	if !fs.ValidPath(clean) {
		return "", fmt.Sprintf("%q must be a path relative to the build context, without ..", pattern)
	}
	if _, err := path.Match(clean, ""); err != nil {
		return "", fmt.Sprintf("%q is not a valid glob (%v); write patterns such as requirements*.txt or requirements/*.txt", pattern, err)
	}
	return clean, ""
}

// Globs are the patterns, cleaned, for fs.Glob on the build context.
func (h HashGlobs) Globs() []string { return slices.Clone(h.globs) }

// String lists the patterns as action.yml writes them: separated by commas.
func (h HashGlobs) String() string { return strings.Join(h.globs, ",") }

// Size is a number of bytes read from an input such as mount-cache-max-size.
type Size int64

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
const MaxSize Size = 10 << 30

// DefaultMountCacheMaxSize is mount-cache-max-size's default, 2GiB.
const DefaultMountCacheMaxSize Size = 2 << 30

// ParseSize reads sizes such as "2GiB", "500MB", "1g" or a plain number of bytes, from
// one byte to MaxSize. The number is read exactly (no float rounding, no overflow) and
// rounded down to whole bytes.
func ParseSize(s string) (Size, error) {
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
	case bytes.Cmp(big.NewInt(int64(MaxSize))) > 0:
		return 0, fmt.Errorf("%q is more than %s, the most a restore unpacks (and GitHub's default cache quota per repository)", s, MaxSize)
	case bytes.Sign() <= 0:
		return 0, fmt.Errorf("%q is less than one byte; write a number with a unit such as 500MB or 2GiB", s)
	}
	return Size(bytes.Int64()), nil
}

// Bytes is the size as a plain number.
func (s Size) Bytes() int64 { return int64(s) }

// String writes the size so that ParseSize reads it back exactly: in the largest binary
// unit that divides it (2GiB, 512KiB), else in bytes.
func (s Size) String() string {
	for _, u := range []struct {
		name string
		n    Size
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if s != 0 && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// Keep is the mount-cache-keep input: how many saved entries of each mount cache the
// default branch keeps, at least 1.
type Keep int

// DefaultKeep is mount-cache-keep's default.
const DefaultKeep Keep = 1

// ParseKeep reads a whole number of at least 1.
func ParseKeep(s string) (Keep, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 {
		return DefaultKeep, &Error{Input: "mount-cache-keep", Problem: fmt.Sprintf("%q is not a whole number of at least 1; give how many saved entries of each mount cache to keep, e.g. 1", s)}
	}
	return Keep(n), nil
}

// String is the number.
func (k Keep) String() string { return strconv.Itoa(int(k)) }

// CompressionLevel is the compression-level input: the gzip level, 0 to 9, of the layers a
// build creates (image and layer cache), unless an output or cache-to entry names its own.
type CompressionLevel int

// DefaultCompressionLevel is gzip's fastest level. Layers stay gzip, which every registry
// and runtime reads; Go's level 1 compresses 4 to 8 times faster than BuildKit's default
// (6), for layers about 15% larger on text and the same size on already-compressed files
// such as wheels (bench/README.md).
const DefaultCompressionLevel CompressionLevel = 1

// ParseCompressionLevel reads a whole number from 0 to 9. A problem is an *Error naming
// compression-level.
func ParseCompressionLevel(s string) (CompressionLevel, error) {
	v := strings.TrimSpace(s)
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 9 {
		return DefaultCompressionLevel, &Error{Input: "compression-level", Problem: fmt.Sprintf("%q is not a gzip level; give a whole number from 0 (no compression) to 9 (smallest): 1 is the fastest and warmbuild's default, 6 is BuildKit's own default", v)}
	}
	return CompressionLevel(n), nil
}

// String is the level as BuildKit's compression-level attribute takes it.
func (l CompressionLevel) String() string { return strconv.Itoa(int(l)) }
