package buildrecord

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Budget bounds the hashing of COPY/ADD sources: past it, or past MaxFiles, a record says
// the files were not hashed and a miss names only the step.
type Budget struct {
	Deadline time.Time
	MaxFiles int
	files    int
}

// DefaultBudget is about a second and 20000 files: a context larger than that is not
// hashed (the bound; the run's overhead stays within the warm-no-change budget).
func DefaultBudget() *Budget {
	return &Budget{Deadline: time.Now().Add(time.Second), MaxFiles: 20000}
}

// ErrBudget says the context was too large to hash within the budget.
var ErrBudget = errors.New("the build context is too large to hash within the budget")

// Ignore is the build's .dockerignore: <Dockerfile>.dockerignore beside the Dockerfile
// when there is one, else .dockerignore at the context's root, as BuildKit's dockerui
// reads them (moby/buildkit frontend/dockerui/config.go, readDockerignore).
func Ignore(contextDir, dockerfile string) (*patternmatcher.PatternMatcher, error) {
	for _, p := range []string{dockerfile + ".dockerignore", filepath.Join(contextDir, ".dockerignore")} {
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		defer f.Close()
		patterns, err := ignorefile.ReadAll(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", filepath.Base(p), err)
		}
		return patternmatcher.New(patterns)
	}
	return nil, nil
}

// HashSources hashes the files a COPY/ADD of sources would send from contextDir: each
// regular file's content and permission bits, each symlink's target, keyed by its path
// relative to the context, leaving out what ignore excludes. Sources may be globs.
func HashSources(contextDir string, sources []string, ignore *patternmatcher.PatternMatcher, b *Budget) (map[string]string, error) {
	out := map[string]string{}
	for _, src := range sources {
		clean := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(src)), "/")
		if clean == "" {
			clean = "."
		}
		matches, err := filepath.Glob(filepath.Join(contextDir, filepath.FromSlash(clean)))
		if err != nil {
			return nil, fmt.Errorf("source %q: %w", src, err)
		}
		for _, m := range matches {
			err := filepath.WalkDir(m, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				rel, err := filepath.Rel(contextDir, p)
				if err != nil {
					return err
				}
				rel = filepath.ToSlash(rel)
				if rel == "." {
					return nil
				}
				if ignore != nil {
					if skip, _ := ignore.MatchesOrParentMatches(rel); skip {
						if d.IsDir() && !ignore.Exclusions() {
							return filepath.SkipDir
						}
						return nil
					}
				}
				if d.IsDir() {
					return nil
				}
				if b != nil {
					b.files++
					if b.files > b.MaxFiles || time.Now().After(b.Deadline) {
						return ErrBudget
					}
				}
				h, err := hashFile(p, d)
				if err != nil {
					return err
				}
				out[rel] = h
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func hashFile(p string, d fs.DirEntry) (string, error) {
	h := sha256.New()
	info, err := d.Info()
	if err != nil {
		return "", err
	}
	fmt.Fprintf(h, "%o\x00", info.Mode()&(fs.ModePerm|fs.ModeType))
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(p)
		if err != nil {
			return "", err
		}
		io.WriteString(h, target)
	} else if info.Mode().IsRegular() {
		f, err := os.Open(p)
		if err != nil {
			return "", err
		}
		defer f.Close()
		if _, err := io.Copy(h, f); err != nil {
			return "", fmt.Errorf("hash %s: %w", p, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// DiffFiles lists the paths that changed, were added or removed from before to after,
// sorted, with the counts of each.
func DiffFiles(before, after map[string]string) (paths []string, changed, added, removed int) {
	for p, h := range after {
		switch old, ok := before[p]; {
		case !ok:
			added++
			paths = append(paths, p)
		case old != h:
			changed++
			paths = append(paths, p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			removed++
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	return paths, changed, added, removed
}
