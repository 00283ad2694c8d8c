package mountcache

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// SelectorInput is the action input a Selector is parsed from.
const SelectorInput = "mount-caches"

type selectMode int

const (
	selectAuto selectMode = iota
	selectAll
	selectNone
	selectList
)

// Selector is a parsed mount-caches input: which discovered mounts to carry across runs.
// The zero value is "auto".
type Selector struct {
	mode  selectMode
	names []string // selectList: ids or targets as written
}

// ParseSelector reads the mount-caches input:
//
//	auto (or empty)  mounts that hold a Python package cache (see Mount.Python)
//	all              every cache mount
//	none             no mount cache
//	a list           ids or targets, separated by commas or newlines
//
// auto, all and none stand alone. A bad value is an *inputs.Error naming mount-caches.
func ParseSelector(input string) (Selector, error) {
	var items []string
	for _, line := range strings.Split(input, "\n") {
		for _, item := range strings.Split(line, ",") {
			if item = strings.TrimSpace(item); item != "" {
				items = append(items, item)
			}
		}
	}
	keyword := func(s string) (selectMode, bool) {
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
		return Selector{mode: selectAuto}, nil
	}
	if len(items) == 1 {
		if mode, ok := keyword(items[0]); ok {
			return Selector{mode: mode}, nil
		}
	}
	for _, item := range items {
		if _, ok := keyword(item); ok {
			return Selector{}, &inputs.Error{Input: SelectorInput, Problem: fmt.Sprintf(
				"%q cannot be combined with other entries: use auto, all or none alone, or list mount ids/targets", item)}
		}
		if strings.ContainsAny(item, " \t") {
			return Selector{}, &inputs.Error{Input: SelectorInput, Problem: fmt.Sprintf(
				"%q contains spaces: list cache mount ids or targets separated by commas or newlines", item)}
		}
	}
	slices.Sort(items)
	return Selector{mode: selectList, names: slices.Compact(items)}, nil
}

// String gives the selector back in input form.
func (s Selector) String() string {
	switch s.mode {
	case selectAll:
		return "all"
	case selectNone:
		return "none"
	case selectList:
		return strings.Join(s.names, ",")
	}
	return "auto"
}

// Select returns the mounts the selector picks, in Dockerfile order, among those of
// stages the build target runs (Mount.Reachable). A list entry matches a mount by id,
// LLB cache id, target or absolute path. unmatched lists entries that matched no such
// mount, for a warning.
func (s Selector) Select(mounts []Mount) (selected []Mount, unmatched []string) {
	used := make(map[string]bool)
	for _, m := range mounts {
		if !m.Reachable {
			continue
		}
		switch s.mode {
		case selectAuto:
			if m.Python != "" {
				selected = append(selected, m)
			}
		case selectAll:
			selected = append(selected, m)
		case selectList:
			hit := false
			for _, name := range s.names {
				if matches(name, m) {
					used[name] = true
					hit = true
				}
			}
			if hit {
				selected = append(selected, m)
			}
		}
	}
	for _, name := range s.names {
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
