package builder

import (
	"context"
	"path"
	"strings"

	"github.com/moby/buildkit/session/filesync"
	"github.com/tonistiigi/fsutil"
)

// contextLocal is the session directory of the build context (solveOpt).
const contextLocal = "context"

// holdContext is the file sync's per-request hook (client.SolveOpt.LocalFilterOpt, called
// by session/filesync before it sends a directory): a request for the build context waits
// for wait. The Dockerfile frontend's read of the context's .dockerignore does not: it
// asks for that one file (FollowPaths [".dockerignore"], moby/buildkit
// frontend/dockerui/config.go dockerIgnorePatterns) before it converts the Dockerfile,
// and the conversion is what is to run meanwhile.
func holdContext(ctx context.Context, wait func(context.Context) error) filesync.FilterOptFunc {
	return func(dir string, opt *fsutil.FilterOpt) error {
		if dir != contextLocal || onlyIgnoreFiles(opt.FollowPaths) {
			return nil
		}
		return wait(ctx)
	}
}

// onlyIgnoreFiles reports whether paths name nothing but .dockerignore files.
func onlyIgnoreFiles(paths []string) bool {
	if len(paths) == 0 {
		return false
	}
	for _, p := range paths {
		if !strings.HasSuffix(path.Base(p), ".dockerignore") {
			return false
		}
	}
	return true
}
