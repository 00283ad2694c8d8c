package mountcache

import (
	"path"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// Selector picks the mounts to carry across runs by the mount-caches input, which
// pkg/inputs parses (inputs.MountSelector: auto, all, none or a list of ids or targets).
// The zero value is auto.
type Selector struct {
	inputs.MountSelector
}

// Select returns the mounts the selector picks, in Dockerfile order, among those of
// stages the build target runs (Mount.Reachable). A list entry matches a mount by id,
// LLB cache id, target or absolute path, or, when it names an ecosystem of the table
// (pip, uv, npm; any case), every mount discovery found holding that ecosystem's cache
// (from= mounts aside, as in auto). unmatched lists entries that matched no such mount,
// for a warning.
func (s Selector) Select(mounts []Mount) (selected []Mount, unmatched []string) {
	names := s.Names()
	used := make(map[string]bool)
	for _, m := range mounts {
		if !m.Reachable {
			continue
		}
		switch {
		case s.Auto():
			// A from= mount is never picked by auto: it cannot be carried (Flaggable),
			// and a notice about a mount the user never named would only be noise.
			if (m.Python != "" || (m.Reason != "" && autoCarries(m.Ecosystem))) && m.From == "" {
				selected = append(selected, m)
			}
		case s.All():
			selected = append(selected, m)
		case !s.None():
			hit := false
			for _, name := range names {
				if matches(name, m) || (m.From == "" && m.Ecosystem != "" && strings.EqualFold(name, m.Ecosystem)) {
					used[name] = true
					hit = true
				}
			}
			if hit {
				selected = append(selected, m)
			}
		}
	}
	for _, name := range names {
		if !used[name] {
			unmatched = append(unmatched, name)
		}
	}
	return selected, unmatched
}

func matches(name string, m Mount) bool {
	if name == m.ID || name == m.CacheID || name == m.Target {
		return true
	}
	return path.IsAbs(name) && path.Clean(name) == m.Path
}

// Cache is one cache directory inside BuildKit and the RUN mounts that share it.
// BuildKit keys a cache directory by its LLB id plus, when the mount sets uid, gid,
// mode or from, the state it is seeded from; mounts agreeing on all of these share
// one directory, so they share one cache entry.
type Cache struct {
	CacheID string
	UID     *uint64
	GID     *uint64
	Mode    *FileMode
	From    string
	Source  string
	Mounts  []Mount // in Dockerfile order; Mounts[0] is the first use
}

// Caches groups mounts by the BuildKit cache directory they use, in order of first use.
func Caches(mounts []Mount) []Cache {
	var out []Cache
	for _, m := range mounts {
		i := slices.IndexFunc(out, func(c Cache) bool {
			return c.CacheID == m.CacheID && eqPtr(c.UID, m.UID) && eqPtr(c.GID, m.GID) &&
				eqPtr(c.Mode, m.Mode) && c.From == m.From && c.Source == m.Source
		})
		if i < 0 {
			out = append(out, Cache{CacheID: m.CacheID, UID: m.UID, GID: m.GID, Mode: m.Mode, From: m.From, Source: m.Source})
			i = len(out) - 1
		}
		out[i].Mounts = append(out[i].Mounts, m)
	}
	return out
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
