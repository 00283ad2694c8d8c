package mountcache

import (
	"fmt"
	"slices"
	"strings"
)

// Multi-platform builds (issue 18): a build for linux/amd64,linux/arm64 solves every RUN
// once per target platform in one solve. Which BuildKit directory a cache mount uses does
// not depend on the platform: the daemon looks it up by the LLB cache id, plus the base
// ref for uid/gid/mode mounts (moby/buildkit solver/llbsolver/mounts/mount.go,
// getRefCacheDir), and that base, the frontend's "[internal] setting cache mount
// permissions" mkdir (frontend/dockerfile/dockerfile2llb/convert_runmount.go), has a cache
// key without the platform (solver/llbsolver/ops/file.go, CacheMap), so every platform
// gets the same ref. Platforms therefore have directories of their own only when the
// mount's id or target expands a platform variable (id=go-$TARGETARCH), and share one
// otherwise, every platform's steps writing into it.
//
// platformCaches discovers the selected mounts for each platform and groups them by
// directory across platforms, in order of first use: the first platform's caches, then
// those only a later platform has. platformOf[i] is the platform that first uses
// caches[i]; its key names that platform, so a directory all platforms share keeps the
// key a build of the first platform alone gives it. A shared directory's Mounts hold
// every platform's step that differs (their StepDigests enter the key). unmatched lists
// the selector's names no platform's mounts match. usedBy[i] are the platforms whose
// steps use caches[i], in the build's order (usedBy[i][0] == platformOf[i]).
func platformCaches(dockerfile []byte, req Request, platforms []string) (caches []Cache, usedBy [][]string, unmatched []string, err error) {
	for i, p := range platforms {
		found, err := Discover(dockerfile, Options{BuildArgs: req.BuildArgs, Target: req.Target, Platform: p})
		if err != nil {
			if len(platforms) > 1 {
				return nil, nil, nil, fmt.Errorf("for %s: %w", p, err)
			}
			return nil, nil, nil, err
		}
		selected, missing := req.Selector.Select(found)
		if i == 0 {
			unmatched = missing
		} else {
			unmatched = slices.DeleteFunc(unmatched, func(n string) bool { return !slices.Contains(missing, n) })
		}
		for _, c := range Caches(selected) {
			j := slices.IndexFunc(caches, func(o Cache) bool { return sameDirectory(o, c) })
			if j < 0 {
				caches, usedBy = append(caches, c), append(usedBy, []string{p})
				continue
			}
			if !slices.Contains(usedBy[j], p) {
				usedBy[j] = append(usedBy[j], p)
			}
			for _, m := range c.Mounts {
				if !slices.ContainsFunc(caches[j].Mounts, func(o Mount) bool { return sameStep(o, m) }) {
					caches[j].Mounts = append(caches[j].Mounts, m)
				}
			}
		}
	}
	return caches, usedBy, unmatched, nil
}

// sameDirectory says whether two caches name one BuildKit directory (as Caches groups).
func sameDirectory(a, b Cache) bool {
	return a.CacheID == b.CacheID && eqPtr(a.UID, b.UID) && eqPtr(a.GID, b.GID) &&
		eqPtr(a.Mode, b.Mode) && a.From == b.From && a.Source == b.Source
}

// sameStep says whether two platforms' mounts are one mount of one step with the same
// inputs (a step that does not expand the platform).
func sameStep(a, b Mount) bool {
	return a.StageIndex == b.StageIndex && a.Line == b.Line && a.Index == b.Index && a.StepDigest == b.StepDigest
}

// PlatformAll is an Outcome's Platform for a directory every platform of a multi-platform
// build uses.
const PlatformAll = "all"

// platformField is the mount-cache-report platform of a directory the platforms usedBy
// use, of a build for platforms: the platform itself in a single-platform build or for a
// platform's own directory; PlatformAll for one every platform shares; else the platforms
// that share it, separated by commas.
func platformField(usedBy, platforms []string) string {
	switch {
	case len(usedBy) == 1:
		return usedBy[0]
	case len(usedBy) == len(platforms):
		return PlatformAll
	}
	return strings.Join(usedBy, ",")
}
