package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The repo's specs and the fixture app must fit together: these tests keep them honest.

func repoFile(parts ...string) string {
	return filepath.Join(append([]string{"..", ".."}, parts...)...)
}

// fixtureRequirements reads testdata/app/requirements.txt as normalized name -> version.
func fixtureRequirements(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(repoFile("testdata", "app", "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reqs := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, version, ok := strings.Cut(line, "==")
		if !ok {
			t.Fatalf("requirements.txt line %q is not pinned with ==", line)
		}
		reqs[normalizeName(name)] = version
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return reqs
}

func TestAppSpecServesEveryFixtureRequirementAndKeepsSpares(t *testing.T) {
	pkgs, err := loadSpec(repoFile("testdata", "pypkgs", "app.json"))
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string][]Package{}
	for _, p := range pkgs {
		versions[normalizeName(p.Name)] = append(versions[normalizeName(p.Name)], p)
	}
	if len(versions) < 12 {
		t.Errorf("app index has %d projects, want about 12 or more", len(versions))
	}
	multi := false
	for _, vs := range versions {
		multi = multi || len(vs) > 1
	}
	if !multi {
		t.Error("no project in the app index has several versions")
	}

	reqs := fixtureRequirements(t)
	byNameVersion := map[string]Package{}
	for _, p := range pkgs {
		byNameVersion[normalizeName(p.Name)+"=="+p.Version] = p
	}
	sdists := 0
	for name, version := range reqs {
		p, ok := byNameVersion[name+"=="+version]
		if !ok {
			t.Errorf("requirements.txt pins %s==%s, which the app index does not have", name, version)
			continue
		}
		if p.Kind == kindSdist {
			sdists++
			if p.BuildSeconds < 2 || p.BuildSeconds > 3 {
				t.Errorf("sdist %s builds in %gs, want 2-3 s", name, p.BuildSeconds)
			}
		}
	}
	if sdists < 3 || sdists > 4 {
		t.Errorf("the fixture requires %d sdists, want 3-4", sdists)
	}

	// Every dependency resolves inside the index, and the closure of the fixture's
	// requirements leaves at least two projects spare for "requirements changed" tests.
	needed := map[string]bool{}
	var visit func(name string)
	visit = func(name string) {
		if needed[name] {
			return
		}
		needed[name] = true
		for _, p := range versions[name] {
			for _, r := range p.Requires {
				dep := normalizeName(requirementName(r))
				if _, ok := versions[dep]; !ok {
					t.Errorf("%s %s requires %q, which the index does not have", p.Name, p.Version, r)
					continue
				}
				visit(dep)
			}
		}
	}
	for name := range reqs {
		visit(name)
	}
	var spares []string
	for name := range versions {
		if !needed[name] {
			spares = append(spares, name)
		}
	}
	if len(spares) < 2 {
		t.Errorf("spare projects (not needed by the fixture app) = %v, want at least 2", spares)
	}
}

func TestHeavySpecAddsAtLeast300MBOfWheelsToTheAppSet(t *testing.T) {
	app, err := loadSpec(repoFile("testdata", "pypkgs", "app.json"))
	if err != nil {
		t.Fatal(err)
	}
	heavy, err := loadSpec(repoFile("testdata", "pypkgs", "heavy.json"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]bool{}
	var padding int64
	large := 0
	for _, p := range heavy {
		files[p.filename()] = true
		padding += p.PaddingBytes
		if p.PaddingBytes >= 10_000_000 {
			large++
		}
	}
	for _, p := range app {
		if !files[p.filename()] {
			t.Errorf("heavy index lacks the app package %s", p.filename())
		}
	}
	if padding < 300_000_000 {
		t.Errorf("heavy wheels carry %d bytes, want at least 300 MB", padding)
	}
	if large < 10 {
		t.Errorf("%d large wheels, want about 15", large)
	}
}
