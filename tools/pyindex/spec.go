package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Spec is the JSON description of an index: the distributions to build, and other spec files
// whose packages it also contains (heavy.json includes app.json).
type Spec struct {
	Include  []string  `json:"include,omitempty"`
	Packages []Package `json:"packages"`
}

// Package is one distribution file of the index: a wheel, or an sdist whose build is slow.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	// Kind is "wheel" (default) or "sdist".
	Kind    string `json:"kind,omitempty"`
	Summary string `json:"summary,omitempty"`
	// Requires are PEP 508 requirement strings ("wb-util>=1.0"), written as Requires-Dist of a
	// wheel and install_requires of an sdist.
	Requires []string `json:"requires,omitempty"`
	// BuildSeconds is how long building the sdist's wheel sleeps, standing in for compiling.
	BuildSeconds float64 `json:"buildSeconds,omitempty"`
	// PaddingBytes adds that many bytes of incompressible deterministic data to a wheel, so a
	// set of them fills a pip cache the size of a real one.
	PaddingBytes int64 `json:"paddingBytes,omitempty"`
}

const (
	kindWheel = "wheel"
	kindSdist = "sdist"
)

// loadSpec reads a spec file and the ones it includes (paths relative to the including file),
// returning all packages in order of appearance.
func loadSpec(path string) ([]Package, error) {
	return loadSpecDepth(path, 0)
}

func loadSpecDepth(path string, depth int) ([]Package, error) {
	if depth > 8 {
		return nil, fmt.Errorf("spec %s: includes nested too deep (a cycle?)", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var spec Spec
	if err := dec.Decode(&spec); err != nil {
		return nil, fmt.Errorf("parse spec %s: %w", path, err)
	}
	var all []Package
	for _, inc := range spec.Include {
		pkgs, err := loadSpecDepth(filepath.Join(filepath.Dir(path), inc), depth+1)
		if err != nil {
			return nil, fmt.Errorf("spec %s: %w", path, err)
		}
		all = append(all, pkgs...)
	}
	for i := range spec.Packages {
		p := spec.Packages[i]
		if p.Kind == "" {
			p.Kind = kindWheel
		}
		if err := p.validate(); err != nil {
			return nil, fmt.Errorf("spec %s: package %d (%s %s): %w", path, i, p.Name, p.Version, err)
		}
		all = append(all, p)
	}
	seen := make(map[string]bool, len(all))
	for _, p := range all {
		if seen[p.filename()] {
			return nil, fmt.Errorf("spec %s: %s is listed twice", path, p.filename())
		}
		seen[p.filename()] = true
	}
	return all, nil
}

func (p Package) validate() error {
	if !validName(p.Name) {
		return errors.New("name must be letters, digits, '.', '-' or '_', starting and ending with a letter or digit")
	}
	if !validVersion(p.Version) {
		return errors.New("version must be dot-separated numbers, like 1.2.0")
	}
	switch p.Kind {
	case kindWheel:
		if p.BuildSeconds != 0 {
			return errors.New("buildSeconds only applies to sdists")
		}
	case kindSdist:
		if p.PaddingBytes != 0 {
			return errors.New("paddingBytes only applies to wheels")
		}
	default:
		return fmt.Errorf("kind %q: want %q or %q", p.Kind, kindWheel, kindSdist)
	}
	if p.BuildSeconds < 0 || p.BuildSeconds > 600 {
		return errors.New("buildSeconds must be between 0 and 600")
	}
	if p.PaddingBytes < 0 {
		return errors.New("paddingBytes must not be negative")
	}
	// These strings land in METADATA lines and Python source: keep them to plain printable text.
	for _, r := range p.Requires {
		if r == "" || !printableASCII(r) || strings.ContainsAny(r, `"\`) {
			return fmt.Errorf("requirement %q: must be printable ASCII without quotes or backslashes", r)
		}
	}
	if !printableASCII(p.Summary) {
		return errors.New("summary must be printable ASCII")
	}
	return nil
}

func validName(s string) bool {
	if s == "" || !alnum(rune(s[0])) || !alnum(rune(s[len(s)-1])) {
		return false
	}
	for _, r := range s {
		if !alnum(r) && r != '.' && r != '-' && r != '_' {
			return false
		}
	}
	return true
}

func validVersion(s string) bool {
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for _, r := range part {
			if r < '0' || r > '9' {
				return false
			}
		}
	}
	return true
}

func alnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func printableASCII(s string) bool {
	for _, r := range s {
		if r < ' ' || r > '~' {
			return false
		}
	}
	return true
}

// normalizeName is the PEP 503 project name: lower case, runs of "-", "_", "." as one "-".
func normalizeName(name string) string {
	var b strings.Builder
	sep := false
	for _, r := range strings.ToLower(name) {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('-')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}

// distName is the name as it appears in wheel and sdist file names and in the import name
// (PEP 427, PEP 625): the normalized name with "_" for "-".
func (p Package) distName() string {
	return strings.ReplaceAll(normalizeName(p.Name), "-", "_")
}

// moduleName is the top-level Python package the distribution installs.
func (p Package) moduleName() string { return p.distName() }

func (p Package) filename() string {
	if p.Kind == kindSdist {
		return fmt.Sprintf("%s-%s.tar.gz", p.distName(), p.Version)
	}
	return fmt.Sprintf("%s-%s-py3-none-any.whl", p.distName(), p.Version)
}

// requirementName is the project name a PEP 508 requirement string starts with.
func requirementName(req string) string {
	end := len(req)
	for i, r := range req {
		if !alnum(r) && r != '.' && r != '-' && r != '_' {
			end = i
			break
		}
	}
	return req[:end]
}
