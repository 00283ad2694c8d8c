package mountcache

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
)

// A cross-compiling Dockerfile: the build stage runs on the build platform once per
// target, with a cache directory per target architecture (its id names $TARGETARCH).
const crossDockerfile = "FROM --platform=$BUILDPLATFORM alpine:3.20 AS build\nARG TARGETARCH\n" +
	"RUN --mount=type=cache,id=work-$TARGETARCH,target=/cache echo $TARGETARCH > /cache/seen\n" +
	"FROM scratch\nCOPY --from=build /etc/hostname /\n"

// One cache id for every target: BuildKit gives every platform of one solve the same
// directory (its id, and the mkdir of a uid/gid base is keyed without the platform:
// moby/buildkit solver/llbsolver/mounts/mount.go getRefCacheDir, ops/file.go CacheMap).
const sharedDockerfile = "FROM --platform=$BUILDPLATFORM alpine:3.20 AS build\nARG TARGETARCH\n" +
	"RUN --mount=type=cache,id=work,uid=1000,target=/cache echo $TARGETARCH > /cache/$TARGETARCH\n" +
	"FROM scratch\nCOPY --from=build /etc/hostname /\n"

var twoPlatforms = []string{"linux/amd64", "linux/arm64"}

func savedKeys(res *Result) []string {
	keys := slices.Clone(res.SavedKeys)
	sort.Strings(keys)
	return keys
}

// Issue 18 (4): a multi-platform build carries every platform's mount cache, each under
// a key naming its platform, and restores each one on the next run.
func TestMultiPlatformCarriesEveryPlatformsCache(t *testing.T) {
	f := newFixture(t, crossDockerfile, "all")
	f.req.Platforms = twoPlatforms
	res := f.restore(t).Save(context.Background(), okBuild)
	if len(res.Mounts) != 2 {
		t.Fatalf("want a mount per platform, got %d: %+v (warnings %v)", len(res.Mounts), res.Mounts, res.Warnings)
	}
	keys := savedKeys(res)
	if len(keys) != 2 || !strings.HasPrefix(keys[0], "warmbuild-mount-work-amd64-linux-amd64-") ||
		!strings.HasPrefix(keys[1], "warmbuild-mount-work-arm64-linux-arm64-") {
		t.Fatalf("saved keys %v; want work-amd64 under linux/amd64 and work-arm64 under linux/arm64", keys)
	}

	// The next run (a fresh builder) finds both entries and injects both directories.
	g := newFixture(t, crossDockerfile, "all")
	g.req.Platforms = twoPlatforms
	for _, k := range keys {
		g.store.entries = append(g.store.entries, &fakeEntry{key: k, data: f.store.saved[k]})
	}
	res2 := g.restore(t).Save(context.Background(), okBuild)
	var injected []string
	for _, ms := range res2.Mounts {
		if ms.Hit != HitExact || !ms.Injected {
			t.Errorf("%s: hit %s, injected %v (%s); want an exact hit injected", ms.CacheID, ms.Hit, ms.Injected, ms.Reason)
		}
		injected = append(injected, ms.CacheID)
	}
	if !slices.Equal(injected, []string{"/work-amd64", "/work-arm64"}) || len(g.helper.sources)+len(g.helper.streamed) != 2 {
		t.Errorf("injected %v (%d helper injections); want /work-amd64 and /work-arm64", injected, len(g.helper.sources)+len(g.helper.streamed))
	}
}

// A directory every platform shares is one entry, under the first platform's key (the
// key a single-platform build of that platform uses), and the key covers every
// platform's step: the steps differ by $TARGETARCH.
func TestMultiPlatformSharedDirectoryIsOneEntry(t *testing.T) {
	f := newFixture(t, sharedDockerfile, "all")
	f.req.Platforms = twoPlatforms
	res := f.restore(t).Save(context.Background(), okBuild)
	keys := savedKeys(res)
	if len(res.Mounts) != 1 || len(keys) != 1 || !strings.HasPrefix(keys[0], "warmbuild-mount-work-linux-amd64-") {
		t.Fatalf("mounts %d, saved %v; want one entry for the shared directory under linux/amd64", len(res.Mounts), keys)
	}
	single := newFixture(t, sharedDockerfile, "all")
	single.req.Platforms = twoPlatforms[:1]
	one := single.restore(t).Save(context.Background(), okBuild)
	if len(one.SavedKeys) != 1 || one.SavedKeys[0] == keys[0] {
		t.Errorf("single-platform key %v equals the two-platform key %v: the arm64 step is not in the key", one.SavedKeys, keys)
	}
}

// A mount-caches name that only one platform's stage has (work-arm64) is no warning.
func TestMultiPlatformSelectorMatchedOnAnyPlatform(t *testing.T) {
	f := newFixture(t, crossDockerfile, "work-arm64")
	f.req.Platforms = twoPlatforms
	res := f.restore(t).Save(context.Background(), okBuild)
	if len(res.Warnings) != 0 || len(res.SavedKeys) != 1 || !strings.HasPrefix(res.SavedKeys[0], "warmbuild-mount-work-arm64-linux-arm64-") {
		t.Errorf("warnings %v, saved %v; want work-arm64 saved under linux/arm64, no warning", res.Warnings, res.SavedKeys)
	}
}
