package mountcache

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/warmbuild/warmbuild/pkg/builder"
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

// Each platform's mount counts its own platform's step: the vertex names show the id as
// expanded ("[linux/amd64->arm64 build 3/3] RUN --mount=type=cache,id=work-arm64,..."),
// and both steps have the same target.
func TestMultiPlatformStatsPerPlatformStep(t *testing.T) {
	pipLog, err := os.ReadFile(filepath.Join("testdata", "piplogs", "pip23-partial.txt"))
	if err != nil {
		t.Fatal(err)
	}
	// As BuildKit v0.34 names them (seen in the plain progress of a cross build).
	amd := "[linux/amd64 build 3/3] RUN --mount=type=cache,id=work-amd64,target=/cache echo amd64 > /cache/seen"
	arm := "[linux/amd64->arm64 build 3/3] RUN --mount=type=cache,id=work-arm64,target=/cache echo arm64 > /cache/seen"
	build := Build{
		Logs: func(match func(string) bool) string {
			var out string
			if match(amd) {
				out += string(pipLog) // pip ran on amd64 only (arm64's ran cached)
			}
			return out
		},
		Steps: []builder.Step{{Name: amd, Cached: true}, {Name: arm, Cached: false}},
	}
	f := newFixture(t, crossDockerfile, "all")
	f.req.Platforms = twoPlatforms
	res := f.restore(t).Save(context.Background(), build)
	if len(res.Mounts) != 2 {
		t.Fatalf("mounts %+v", res.Mounts)
	}
	amdMount, armMount := res.Mounts[0], res.Mounts[1]
	if amdMount.Pip == nil || amdMount.Pip.Total != 12 || amdMount.StepCached == nil || !*amdMount.StepCached {
		t.Errorf("%s: pip %+v, step cached %v; want its step's 12 packages, cached", amdMount.CacheID, amdMount.Pip, amdMount.StepCached)
	}
	if armMount.Pip != nil || armMount.StepCached == nil || *armMount.StepCached {
		t.Errorf("%s: pip %+v, step cached %v; want no pip log of its own, not cached", armMount.CacheID, armMount.Pip, armMount.StepCached)
	}
	if res.PipTotal != 12 {
		t.Errorf("pip total %d; want 12", res.PipTotal)
	}
}

// Against BuildKit's own frontend: each platform's RUN vertex of a multi-platform build
// (dockerfile2llb with MultiPlatformRequested, one target platform per conversion as
// the frontend does) is matched by its own platform's mount only, and the shared
// directory's mount matches both.
func TestMultiPlatformStepsMatchBuildKitsNames(t *testing.T) {
	ctx := context.Background()
	dt := []byte("FROM --platform=$BUILDPLATFORM alpine:3.20 AS build\nARG TARGETARCH\n" +
		"RUN --mount=type=cache,id=work-$TARGETARCH,target=/cache echo $TARGETARCH > /cache/seen\n" +
		"RUN --mount=type=cache,id=dl,target=/dl echo $TARGETARCH > /dl/$TARGETARCH\n")
	caches, usedBy, _, err := platformCaches(dt, Request{Selector: selectorOf(t, "all"), Target: "build"}, twoPlatforms)
	if err != nil || len(caches) != 3 {
		t.Fatalf("caches %+v (%v)", caches, err)
	}
	names := map[string][]string{}
	build := platforms.Normalize(platforms.MustParse("linux/amd64"))
	var twoParsed []ocispecs.Platform
	for _, p := range twoPlatforms {
		twoParsed = append(twoParsed, platforms.Normalize(platforms.MustParse(p)))
	}
	for _, p := range twoPlatforms {
		plat := platforms.Normalize(platforms.MustParse(p))
		res, err := dockerfile2llb.Dockerfile2LLB(ctx, dt, dockerfile2llb.ConvertOpt{
			Config: dockerui.Config{Target: "build", TargetPlatforms: twoParsed,
				BuildPlatforms: []ocispecs.Platform{build}, MultiPlatformRequested: true},
			TargetPlatform: &plat,
			MetaResolver:   stubImages{platform: build},
		})
		if err != nil {
			t.Fatal(err)
		}
		def, err := res.State.Marshal(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, md := range def.Metadata {
			if n := md.Description["llb.customname"]; strings.Contains(n, "RUN ") {
				names[p] = append(names[p], n)
			}
		}
	}
	for i, c := range caches {
		match := usesMount(c.Mounts)
		for _, p := range twoPlatforms {
			got := slices.ContainsFunc(names[p], match)
			if want := p == usedBy[i][0] || c.CacheID == "/dl"; got != want {
				t.Errorf("%s (keyed %s) matches %s's RUN %v: %v, want %v", c.CacheID, usedBy[i][0], p, names[p], got, want)
			}
		}
	}
}
