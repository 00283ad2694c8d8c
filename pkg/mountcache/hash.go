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
