package mountcache

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client/llb/sourceresolver"
	"github.com/moby/buildkit/frontend/dockerfile/dockerfile2llb"
	"github.com/moby/buildkit/frontend/dockerui"
	"github.com/moby/buildkit/solver/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// stubImages answers BuildKit's image lookups with an image whose config sets nothing
// (Discover cannot see base image config either), so the conversion runs without a
// registry.
type stubImages struct {
	platform ocispecs.Platform
	env      []string // the base image's ENV, which Discover cannot see
}

func (s stubImages) ResolveImageConfig(_ context.Context, ref string, _ sourceresolver.Opt) (string, digest.Digest, []byte, error) {
	cfg, err := json.Marshal(ocispecs.Image{
		Platform: s.platform,
		RootFS:   ocispecs.RootFS{Type: "layers"},
		Config:   ocispecs.ImageConfig{Env: s.env},
	})
	return ref, digest.FromBytes(cfg), cfg, err
}

// TestDiscoverAgreesWithBuildKitConversion converts every test Dockerfile to LLB with
// BuildKit's own Dockerfile frontend (dockerfile2llb, as the daemon would run it) and
// checks that the cache mounts in the resulting exec ops (LLB cache id, target,
// sharing) are exactly the reachable mounts Discover reports. This is what makes an
// injected cache land in the directory the user's RUN sees.
func TestDiscoverAgreesWithBuildKitConversion(t *testing.T) {
	for _, c := range discoverCases() {
		t.Run(c.name, func(t *testing.T) {
			dt := c.dockerfile(t)
			mounts, err := Discover(dt, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := buildkitCacheMounts(dt, c.opts, c.imageEnv...)
			if err != nil {
				t.Fatalf("BuildKit conversion: %v", err)
			}
			if diff := compareMounts(got, mounts); diff != "" {
				t.Error(diff)
			}
		})
	}
}

// TestPipCountsFindTheStepsBuildKitNames: the pip counts read the log of the vertices
// usesMount accepts, which BuildKit names after the RUN as written with its variables
// expanded (dockerfile2llb's processCmdEnv); every carried mount must match the vertex of
// its own RUN, whatever variables its target is written with.
func TestPipCountsFindTheStepsBuildKitNames(t *testing.T) {
	for _, c := range discoverCases() {
		t.Run(c.name, func(t *testing.T) {
			dt := c.dockerfile(t)
			mounts, err := Discover(dt, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			names, err := buildkitRunNames(dt, c.opts, c.imageEnv...)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range mounts {
				if !m.Reachable || m.CarryProblem() != "" {
					continue
				}
				match := usesMount([]Mount{m})
				if !slices.ContainsFunc(names, match) {
					t.Errorf("line %d (target %s): no vertex of %q matches", m.Line, m.Target, names)
				}
			}
		})
	}
}

// buildkitRunNames lists the names BuildKit's frontend gives the RUN vertices of dt.
func buildkitRunNames(dt []byte, opts Options, imageEnv ...string) ([]string, error) {
	ctx := context.Background()
	plat := platforms.Normalize(platforms.MustParse(opts.Platform))
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, dt, dockerfile2llb.ConvertOpt{
		Config:       dockerui.Config{BuildArgs: opts.BuildArgs, CacheIDNamespace: opts.BuildArgs[CacheNamespaceArg], Target: opts.Target, TargetPlatforms: []ocispecs.Platform{plat}, BuildPlatforms: []ocispecs.Platform{plat}},
		MetaResolver: stubImages{platform: plat, env: imageEnv},
	})
	if err != nil {
		return nil, err
	}
	def, err := res.State.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, md := range def.Metadata {
		if n := md.Description["llb.customname"]; strings.Contains(n, "RUN ") {
			names = append(names, n)
		}
	}
	return names, nil
}

// compareMounts describes how BuildKit's cache mounts differ from Discover's reachable
// ones, or returns "". Mounts whose flags use variables Discover cannot resolve
// (Mount.Unresolved: BuildKit took them from the base image's ENV) are only counted:
// BuildKit must have as many mounts, the resolved ones among them.
func compareMounts(buildkit []string, mounts []Mount) string {
	var want, unknown []string
	for _, m := range mounts {
		if !m.Reachable {
			continue
		}
		s := fmt.Sprintf("%s -> %s (%s)", m.CacheID, m.Path, m.Sharing)
		if len(m.Unresolved) > 0 {
			unknown = append(unknown, s)
			continue
		}
		want = append(want, s)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	if slices.Equal(buildkit, want) && len(unknown) == 0 {
		return ""
	}
	if len(unknown) > 0 && len(buildkit) >= len(want) && len(buildkit) <= len(want)+len(unknown) {
		all := true
		for _, w := range want {
			all = all && slices.Contains(buildkit, w)
		}
		if all {
			return ""
		}
	}
	return fmt.Sprintf("BuildKit mounts:\n  %s\nDiscover:\n  %s", strings.Join(buildkit, "\n  "), strings.Join(want, "\n  "))
}

// buildkitCacheMounts lists the cache mounts ("<LLB id> -> <dest> (<sharing>)") of the
// exec ops BuildKit's Dockerfile frontend makes for dt.
func buildkitCacheMounts(dt []byte, opts Options, imageEnv ...string) ([]string, error) {
	ctx := context.Background()
	plat, err := platforms.Parse(opts.Platform)
	if err != nil {
		return nil, err
	}
	plat = platforms.Normalize(plat)
	res, err := dockerfile2llb.Dockerfile2LLB(ctx, dt, dockerfile2llb.ConvertOpt{
		Config: dockerui.Config{
			BuildArgs:        opts.BuildArgs,
			CacheIDNamespace: opts.BuildArgs[CacheNamespaceArg],
			Target:           opts.Target,
			TargetPlatforms:  []ocispecs.Platform{plat},
			BuildPlatforms:   []ocispecs.Platform{plat},
		},
		MetaResolver: stubImages{platform: plat, env: imageEnv},
	})
	if err != nil {
		return nil, err
	}
	def, err := res.State.Marshal(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	sharing := map[pb.CacheSharingOpt]string{pb.CacheSharingOpt_SHARED: "shared", pb.CacheSharingOpt_PRIVATE: "private", pb.CacheSharingOpt_LOCKED: "locked"}
	for _, raw := range def.Def {
		var op pb.Op
		if err := op.UnmarshalVT(raw); err != nil {
			return nil, err
		}
		for _, m := range op.GetExec().GetMounts() {
			if m.MountType == pb.MountType_CACHE {
				// The frontend keeps an absolute target as written ("/root/", "//root"):
				// moby/buildkit frontend/dockerfile/dockerfile2llb/convert_runmount.go
				// joins only relative ones with the workdir. The container sees the
				// cleaned path (the runtime joins Dest under the rootfs, and the LLB cache
				// id is path.Clean(target)); Mount.Path is that path.
				out = append(out, fmt.Sprintf("%s -> %s (%s)", m.CacheOpt.ID, path.Clean(m.Dest), sharing[m.CacheOpt.Sharing]))
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
