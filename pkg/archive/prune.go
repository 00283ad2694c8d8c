package archive

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// PruneStats says what Prune found and removed.
type PruneStats struct {
	Files        int64 // regular files before pruning
	Bytes        int64 // their total size
	RemovedFiles int64
	RemovedBytes int64
	RemovedDirs  int64 // directories left empty by the removals
}

type pruneConfig struct{ byAccessTime bool }

// PruneOption tunes Prune.
type PruneOption func(*pruneConfig)

// PruneByAccessTime ranks files by the later of their access and modification times
// instead of modification time alone. Use it only when access times are known to
// survive the trip from the build to the pruned directory (see Prune).
func PruneByAccessTime() PruneOption { return func(c *pruneConfig) { c.byAccessTime = true } }

// Prune deletes the least recently written regular files under dir until their total
// size is at most maxBytes, then removes directories that the deletions left empty.
// It caps a mount cache so it stops growing forever: files a build no longer asks for
// eventually age out.
//
// Files are ranked by modification time by default. pip never touches a cache file it
// reuses (its HTTP cache and wheel cache only create or replace files), so the only
// "use" signal left is the access time, and that one is unreliable here: relatime or
// noatime mounts skip updates, and the copy out of BuildKit that precedes pruning reads
// every file, which refreshes or discards access times. Ranking by mtime is "oldest
// download goes first"; a still-needed package that is evicted is downloaded again on
// the next miss and then counts as new. PruneByAccessTime is there for callers who
// preserve access times end to end.
func Prune(ctx context.Context, dir string, maxBytes int64, opts ...PruneOption) (PruneStats, error) {
	var cfg pruneConfig
	for _, o := range opts {
		o(&cfg)
	}
	type file struct {
		path string
		size int64
		used time.Time
	}
	dir, err := realDir(dir)
	if err != nil {
		return PruneStats{}, fmt.Errorf("prune %s: %w", dir, err)
	}
	var files []file
	var st PruneStats
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		used := fi.ModTime()
		if cfg.byAccessTime {
			if at := statAtime(fi); at.After(used) {
				used = at
			}
		}
		files = append(files, file{path: p, size: fi.Size(), used: used})
		st.Files++
		st.Bytes += fi.Size()
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("prune %s: %w", dir, err)
	}
	if st.Bytes <= maxBytes {
		return st, nil
	}
	// Oldest first; the path breaks ties so the result does not depend on walk order.
	slices.SortFunc(files, func(a, b file) int {
		if c := a.used.Compare(b.used); c != 0 {
			return c
		}
		return cmp.Compare(a.path, b.path)
	})
	parents := make(map[string]struct{})
	for _, f := range files {
		if st.Bytes-st.RemovedBytes <= maxBytes {
			break
		}
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("prune %s: %w", dir, err)
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("prune %s: %w", dir, err)
		}
		st.RemovedFiles++
		st.RemovedBytes += f.size
		parents[filepath.Dir(f.path)] = struct{}{}
	}
	// Remove emptied directories deepest first, walking up while they stay empty.
	// Directories that were empty before pruning are kept: a tool may expect them.
	dirs := make([]string, 0, len(parents))
	for d := range parents {
		dirs = append(dirs, d)
	}
	slices.SortFunc(dirs, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	root := filepath.Clean(dir)
	for _, d := range dirs {
		for d != root && len(d) > len(root) {
			if err := os.Remove(d); err != nil {
				break // not empty (or already gone): leave it and its parents
			}
			st.RemovedDirs++
			d = filepath.Dir(d)
		}
	}
	return st, nil
}
