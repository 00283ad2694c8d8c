package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// builtFile is a distribution file written into the index.
type builtFile struct {
	pkg    Package
	sha256 string // hex
	size   int64
}

// generateResult summarises what generate wrote.
type generateResult struct {
	Projects int
	Files    int
	Bytes    int64
}

// generate writes a PEP 503 simple index of pkgs into outDir: outDir/files/<dist files> and
// outDir/simple/index.html plus outDir/simple/<normalized-name>/index.html, whose links carry
// #sha256= fragments. Everything is built in a scratch directory beside them and swapped in at
// the end, so a server reading outDir never sees a half-written index.
func generate(ctx context.Context, pkgs []Package, outDir string) (generateResult, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return generateResult{}, fmt.Errorf("generate: %w", err)
	}
	scratch, err := os.MkdirTemp(outDir, ".generate-")
	if err != nil {
		return generateResult{}, fmt.Errorf("generate: %w", err)
	}
	defer os.RemoveAll(scratch)

	byProject := map[string][]builtFile{}
	var res generateResult
	for _, p := range pkgs {
		if err := ctx.Err(); err != nil {
			return generateResult{}, fmt.Errorf("generate: %w", err)
		}
		f, err := writeDistFile(filepath.Join(scratch, "files"), p)
		if err != nil {
			return generateResult{}, err
		}
		name := normalizeName(p.Name)
		byProject[name] = append(byProject[name], f)
		res.Files++
		res.Bytes += f.size
	}
	res.Projects = len(byProject)
	if err := writeIndexPages(filepath.Join(scratch, "simple"), byProject); err != nil {
		return generateResult{}, err
	}
	for _, sub := range []string{"files", "simple"} {
		if err := os.RemoveAll(filepath.Join(outDir, sub)); err != nil {
			return generateResult{}, fmt.Errorf("generate: replace %s: %w", sub, err)
		}
		if err := os.Rename(filepath.Join(scratch, sub), filepath.Join(outDir, sub)); err != nil {
			return generateResult{}, fmt.Errorf("generate: replace %s: %w", sub, err)
		}
	}
	return res, nil
}

// writeDistFile builds p's distribution file in dir, hashing it as it is written.
func writeDistFile(dir string, p Package) (builtFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return builtFile{}, fmt.Errorf("generate %s: %w", p.filename(), err)
	}
	path := filepath.Join(dir, p.filename())
	out, err := os.Create(path)
	if err != nil {
		return builtFile{}, fmt.Errorf("generate %s: %w", p.filename(), err)
	}
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(out, h)}
	if err := writeDist(cw, p); err != nil {
		out.Close()
		return builtFile{}, err
	}
	if err := out.Close(); err != nil {
		return builtFile{}, fmt.Errorf("generate %s: %w", p.filename(), err)
	}
	if err := os.Chtimes(path, fixedMTime(), fixedMTime()); err != nil {
		return builtFile{}, fmt.Errorf("generate %s: %w", p.filename(), err)
	}
	return builtFile{pkg: p, sha256: hex.EncodeToString(h.Sum(nil)), size: cw.n}, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writeIndexPages writes the root page listing projects and one page per project.
func writeIndexPages(dir string, byProject map[string][]builtFile) error {
	names := make([]string, 0, len(byProject))
	for n := range byProject {
		names = append(names, n)
	}
	sort.Strings(names)

	var root strings.Builder
	root.WriteString(pageHead("Simple index"))
	for _, n := range names {
		fmt.Fprintf(&root, "<a href=\"%s/\">%s</a><br>\n", html.EscapeString(n), html.EscapeString(n))
	}
	root.WriteString("</body>\n</html>\n")
	if err := writeFixedFile(filepath.Join(dir, "index.html"), root.String()); err != nil {
		return err
	}

	for _, n := range names {
		files := byProject[n]
		sort.Slice(files, func(i, j int) bool { return files[i].pkg.filename() < files[j].pkg.filename() })
		var page strings.Builder
		page.WriteString(pageHead("Links for " + n))
		for _, f := range files {
			fn := f.pkg.filename()
			fmt.Fprintf(&page, "<a href=\"../../files/%s#sha256=%s\">%s</a><br>\n",
				html.EscapeString(fn), f.sha256, html.EscapeString(fn))
		}
		page.WriteString("</body>\n</html>\n")
		if err := writeFixedFile(filepath.Join(dir, n, "index.html"), page.String()); err != nil {
			return err
		}
	}
	return nil
}

func pageHead(title string) string {
	return "<!DOCTYPE html>\n<html>\n<head>\n<meta name=\"pypi:repository-version\" content=\"1.0\">\n<title>" +
		html.EscapeString(title) + "</title>\n</head>\n<body>\n<h1>" + html.EscapeString(title) + "</h1>\n"
}

func writeFixedFile(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Chtimes(path, fixedMTime(), fixedMTime()); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
