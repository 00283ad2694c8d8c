package mountcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// FilesHash identifies the dependency files a mount cache's content follows.
type FilesHash struct {
	Hash  string   // 16 hex digits
	Files []string // matched files, relative to the context, slash-separated and sorted
	// None is true when no pattern matched a file; Hash is then NoFilesHash, so every
	// run shares one key per mount and platform.
	None bool
}

// NoFilesHash is the hash of an empty file set.
const NoFilesHash = "e3b0c44298fc1c14" // first 16 hex digits of SHA-256("")

// HashFiles hashes the files in contextDir matching globs (mount-cache-hash-files, parsed
// by pkg/inputs: path.Match globs relative to the context, e.g. "requirements*.txt",
// "requirements/*.txt", that cannot reach outside it). The result depends only on the
// matched paths and their content, read as streams in sorted path order. Files are opened
// through an os.Root, so symlinks cannot pull in files from outside the context either.
func HashFiles(ctx context.Context, contextDir string, globs inputs.HashGlobs) (FilesHash, error) {
	root, err := os.OpenRoot(contextDir)
	if err != nil {
		return FilesHash{}, fmt.Errorf("hash dependency files: %w", err)
	}
	defer root.Close()
	fsys := root.FS()

	var files []string
	for _, glob := range globs.Globs() {
		matches, err := fs.Glob(fsys, glob)
		if err != nil {
			return FilesHash{}, fmt.Errorf("hash dependency files %s: %w", glob, err)
		}
		for _, m := range matches {
			fi, err := fs.Stat(fsys, m)
			if err != nil || !fi.Mode().IsRegular() {
				continue // directories, and links leading out of the context or nowhere
			}
			files = append(files, m)
		}
	}
	slices.Sort(files)
	files = slices.Compact(files)
	if len(files) == 0 {
		return FilesHash{Hash: NoFilesHash, None: true}, nil
	}

	h := sha256.New()
	for _, name := range files {
		if err := ctx.Err(); err != nil {
			return FilesHash{}, err
		}
		if err := hashFile(h, fsys, name); err != nil {
			return FilesHash{}, fmt.Errorf("hash dependency file %s: %w", name, err)
		}
	}
	return FilesHash{Hash: hex.EncodeToString(h.Sum(nil))[:16], Files: files}, nil
}

// hashFile adds "<path> NUL <size> NUL <content>" to h; the size makes the encoding
// unambiguous however the files' contents end.
func hashFile(h io.Writer, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	io.WriteString(h, name+"\x00"+strconv.FormatInt(fi.Size(), 10)+"\x00")
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != fi.Size() {
		return errors.New("file changed while hashing")
	}
	return nil
}

// StepsHash is what a cache's key hashes beyond mount-cache-hash-files: the inputs of
// the RUN steps that use the cache directory (Mount.StepDigest, Mount.ContextFiles).
type StepsHash struct {
	Hash string // 16 hex digits: the files' hash, the steps' digests, the context files they read
	// Files are the context files read for the steps beyond the FilesHash's own, sorted.
	Files []string
	// Uncovered says which inputs of the steps the key could not hash, in order; empty
	// when it covers them all. Only then does an exact hit of the key mean the steps are
	// the ones the layer cache holds.
	Uncovered []string
}

// Limits on hashing a directory a step reads from the context (COPY . .): beyond them the
// key leaves it out and says so.
const (
	maxStepFiles = 2000
	maxStepBytes = 64 << 20
)

// HashSteps completes files (HashFiles of mount-cache-hash-files) with what decides the
// layers of the RUN steps that use c: their StepDigest, and the content of every context
// path they read that files does not hold (a file, a glob, a directory within limits).
// A path missing from contextDir, too big a directory, or an Opaque input is listed in
// Uncovered; none of that is an error. onlyHashFiles says contextDir holds only the
// files of mount-cache-hash-files (a Git context's copy), so nothing else can be hashed.
func HashSteps(ctx context.Context, contextDir string, onlyHashFiles bool, files FilesHash, c Cache) (StepsHash, error) {
	h := sha256.New()
	io.WriteString(h, "files "+files.Hash+"\x00")
	var paths, uncovered []string
	for _, m := range c.Mounts {
		io.WriteString(h, "step "+m.StepDigest+"\x00")
		paths = append(paths, m.ContextFiles...)
		uncovered = append(uncovered, m.Opaque...)
	}
	slices.Sort(paths)
	paths = slices.Compact(paths)
	root, err := os.OpenRoot(contextDir)
	if err != nil {
		return StepsHash{}, fmt.Errorf("hash the steps' context files: %w", err)
	}
	defer root.Close()
	fsys := root.FS()
	ignored := dockerignore(fsys)
	var extra []string
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return StepsHash{}, err
		}
		if slices.Contains(files.Files, p) {
			continue
		}
		found, why := stepFiles(fsys, p, ignored)
		if onlyHashFiles {
			found, why = nil, "a step reads "+p+" from the Git context, of which only mount-cache-hash-files are read"
		}
		if why != "" {
			uncovered = append(uncovered, why)
			io.WriteString(h, "unhashed "+p+"\x00")
			continue
		}
		for _, f := range found {
			if !slices.Contains(files.Files, f) && !slices.Contains(extra, f) {
				extra = append(extra, f)
			}
		}
	}
	slices.Sort(extra)
	for _, f := range extra {
		if err := hashFile(h, fsys, f); err != nil {
			return StepsHash{}, fmt.Errorf("hash the context file %s: %w", f, err)
		}
	}
	return StepsHash{Hash: hex.EncodeToString(h.Sum(nil))[:16], Files: extra, Uncovered: slices.Compact(uncovered)}, nil
}

// stepFiles lists the regular files a context path (a file, a glob, a directory) holds,
// or says why the key cannot hash them.
func stepFiles(fsys fs.FS, p string, ignored func(name string, dir bool) bool) (files []string, why string) {
	matches := []string{p}
	if strings.ContainsAny(p, "*?[") {
		var err error
		if matches, err = fs.Glob(fsys, p); err != nil || len(matches) == 0 {
			return nil, fmt.Sprintf("the context path %s is read by a step, but matches nothing here", p)
		}
	}
	var size int64
	for _, m := range matches {
		err := fs.WalkDir(fsys, m, func(name string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ignored(name, d.IsDir()) {
				if d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			files, size = append(files, name), size+fi.Size()
			if len(files) > maxStepFiles || size > maxStepBytes {
				return errTooBig
			}
			return nil
		})
		if errors.Is(err, errTooBig) {
			what := "the context path " + p
			if p == "." {
				what = "the whole build context"
			}
			return nil, fmt.Sprintf("a step reads %s, more than %d files or %d MiB, which the key does not hash", what, maxStepFiles, maxStepBytes>>20)
		}
		if err != nil {
			return nil, fmt.Sprintf("the context path %s is read by a step, but cannot be read here", p)
		}
	}
	return files, ""
}

var errTooBig = errors.New("too big")

// dockerignore reads the context's .dockerignore as BuildKit does (moby/patternmatcher,
// the package the Dockerfile frontend uses), so files BuildKit never sends do not key the
// cache. ignored(name, dir) reports whether a path is left out; a directory is skipped
// whole only when no pattern re-includes (!) something. Unreadable or invalid files
// ignore nothing: the key then only hashes more than it needs. (A Dockerfile-specific
// <name>.dockerignore is not read.)
func dockerignore(fsys fs.FS) func(name string, dir bool) bool {
	none := func(string, bool) bool { return false }
	f, err := fsys.Open(".dockerignore")
	if err != nil {
		return none
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return none
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return none
	}
	return func(name string, dir bool) bool {
		if name == "." {
			return false
		}
		ok, err := pm.MatchesOrParentMatches(name)
		if err != nil || !ok {
			return false
		}
		return !dir || !pm.Exclusions()
	}
}
