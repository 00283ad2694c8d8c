package builder

import (
	"context"
	"fmt"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/session"
)

// Prewarm pulls image into the daemon and unpacks it, so that a build starting from it
// finds its root filesystem ready. On a new runner unpacking a base image is seconds of
// work the build would do anyway; started while the action does other work (injecting a
// mount cache), it overlaps with it. BuildKit shares unpacked layers by content, whether a
// later build gets them from the registry or from a layer cache. The build's own
// resolution is unaffected: Prewarm only fills the daemon's local store.
func Prewarm(ctx context.Context, c *client.Client, image, platform, dockerConfigDir string) error {
	var opts []llb.ImageOption
	var constraints []llb.ConstraintsOpt
	if platform != "" {
		p, err := platforms.Parse(platform)
		if err != nil {
			return fmt.Errorf("prewarm %s: platform %q: %w", image, platform, err)
		}
		p = platforms.Normalize(p)
		opts = append(opts, llb.Platform(p))
		constraints = append(constraints, llb.Platform(p))
	}
	// Copying a pattern that matches nothing still mounts the source, which unpacks it,
	// and leaves nothing behind.
	st := llb.Scratch().File(
		llb.Copy(llb.Image(image, opts...), "/.warmbuild-prewarm-*", "/", &llb.CopyInfo{AllowWildcard: true, AllowEmptyWildcard: true}),
		llb.WithCustomName("[warmbuild] unpack "+image),
	)
	def, err := st.Marshal(ctx, constraints...)
	if err != nil {
		return fmt.Errorf("prewarm %s: %w", image, err)
	}
	auth, err := registryAuth(dockerConfigDir)
	if err != nil {
		return err
	}
	if _, err := c.Solve(ctx, def, client.SolveOpt{Session: []session.Attachable{auth}}, nil); err != nil {
		return fmt.Errorf("prewarm %s: %w", image, err)
	}
	return nil
}
