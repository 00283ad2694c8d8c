package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func writeSpec(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// hrefs returns the link targets of a generated page.
func hrefs(t *testing.T, page string) []string {
	t.Helper()
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range regexp.MustCompile(`<a href="([^"]+)">`).FindAllStringSubmatch(string(b), -1) {
		out = append(out, m[1])
	}
	return out
}

func TestGenerateIndexLinksEveryFileWithItsSHA256(t *testing.T) {
	dir := t.TempDir()
	writeSpec(t, dir, "base.json", `{"packages": [
		{"name": "wb-core", "version": "1.0.0"},
		{"name": "wb-core", "version": "1.1.0"},
		{"name": "wb-slow", "version": "0.1.0", "kind": "sdist", "buildSeconds": 1}
	]}`)
	spec := writeSpec(t, dir, "top.json", `{"include": ["base.json"], "packages": [
		{"name": "WB_Mixed.Case", "version": "3.0", "requires": ["wb-core>=1.1"], "paddingBytes": 100}
	]}`)
	pkgs, err := loadSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "index")
	res, err := generate(context.Background(), pkgs, out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Projects != 3 || res.Files != 4 {
		t.Errorf("generate reported %d projects / %d files, want 3 / 4", res.Projects, res.Files)
	}

	rootLinks := hrefs(t, filepath.Join(out, "simple", "index.html"))
	wantProjects := []string{"wb-core/", "wb-mixed-case/", "wb-slow/"}
	if strings.Join(rootLinks, " ") != strings.Join(wantProjects, " ") {
		t.Errorf("root index links %v, want normalized project names %v", rootLinks, wantProjects)
	}

	linked := map[string]bool{}
	for _, project := range rootLinks {
		pageDir := filepath.Join(out, "simple", project)
		for _, h := range hrefs(t, filepath.Join(pageDir, "index.html")) {
			u, err := url.Parse(h)
			if err != nil {
				t.Fatalf("link %q: %v", h, err)
			}
			hash, ok := strings.CutPrefix(u.Fragment, "sha256=")
			if !ok {
				t.Errorf("link %q has no #sha256= fragment", h)
			}
			// Links are relative to the project page, as pip resolves them.
			target := filepath.Clean(filepath.Join(pageDir, filepath.FromSlash(u.Path)))
			if got := fileSHA256(t, target); got != hash {
				t.Errorf("link %q says sha256 %s, file hashes to %s", h, hash, got)
			}
			linked[filepath.Base(target)] = true
		}
	}
	entries, err := os.ReadDir(filepath.Join(out, "files"))
	if err != nil {
		t.Fatal(err)
	}
	var onDisk []string
	for _, e := range entries {
		onDisk = append(onDisk, e.Name())
		if !linked[e.Name()] {
			t.Errorf("%s is in files/ but no project page links it", e.Name())
		}
	}
	want := []string{"wb_core-1.0.0-py3-none-any.whl", "wb_core-1.1.0-py3-none-any.whl",
		"wb_mixed_case-3.0-py3-none-any.whl", "wb_slow-0.1.0.tar.gz"}
	if strings.Join(onDisk, " ") != strings.Join(want, " ") {
		t.Errorf("files/ holds %v, want %v", onDisk, want)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(out, ".generate-*")); len(leftovers) != 0 {
		t.Errorf("scratch directories left behind: %v", leftovers)
	}
}

func TestGenerateTwiceGivesIdenticalFiles(t *testing.T) {
	dir := t.TempDir()
	spec := writeSpec(t, dir, "s.json", `{"packages": [
		{"name": "wb-a", "version": "1.0.0", "paddingBytes": 1000},
		{"name": "wb-b", "version": "2.0.0", "kind": "sdist", "buildSeconds": 2}
	]}`)
	pkgs, err := loadSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	first, second := filepath.Join(dir, "one"), filepath.Join(dir, "two")
	for _, out := range []string{first, second} {
		if _, err := generate(context.Background(), pkgs, out); err != nil {
			t.Fatal(err)
		}
	}
	// Regenerating over an existing index replaces it in place.
	if _, err := generate(context.Background(), pkgs, second); err != nil {
		t.Fatal(err)
	}
	count := 0
	err = filepath.WalkDir(first, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(first, path)
		if a, b := fileSHA256(t, path), fileSHA256(t, filepath.Join(second, rel)); a != b {
			t.Errorf("%s differs between two generations", rel)
		}
		count++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if count != 5 { // 2 files + root page + 2 project pages
		t.Errorf("compared %d files, want 5", count)
	}
}

func TestLoadSpecRejectsBadPackages(t *testing.T) {
	cases := map[string]string{
		"unknown field":          `{"packages": [{"name": "a", "version": "1", "size": 3}]}`,
		"unknown kind":           `{"packages": [{"name": "a", "version": "1", "kind": "egg"}]}`,
		"bad version":            `{"packages": [{"name": "a", "version": "1.0rc1"}]}`,
		"bad name":               `{"packages": [{"name": "-a", "version": "1"}]}`,
		"quote in requirement":   `{"packages": [{"name": "a", "version": "1", "requires": ["b\"); import os"]}]}`,
		"padding on an sdist":    `{"packages": [{"name": "a", "version": "1", "kind": "sdist", "paddingBytes": 5}]}`,
		"build time on a wheel":  `{"packages": [{"name": "a", "version": "1", "buildSeconds": 5}]}`,
		"same file twice":        `{"packages": [{"name": "wb-a", "version": "1"}, {"name": "WB_A", "version": "1"}]}`,
		"missing include":        `{"include": ["nope.json"], "packages": []}`,
		"negative padding bytes": `{"packages": [{"name": "a", "version": "1", "paddingBytes": -1}]}`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			spec := writeSpec(t, t.TempDir(), "s.json", body)
			if _, err := loadSpec(spec); err == nil {
				t.Errorf("loadSpec accepted %s", body)
			}
		})
	}
}

func TestNormalizeNameFollowsPEP503(t *testing.T) {
	for in, want := range map[string]string{
		"wb-core": "wb-core", "WB_Core": "wb-core", "wb.core": "wb-core", "wb__--core": "wb-core", "A1": "a1",
	} {
		if got := normalizeName(in); got != want {
			t.Errorf("normalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}
