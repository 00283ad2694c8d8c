package builder

// Git contexts (issue 14): the build context is a Git repository BuildKit fetches itself.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"
)

// applyGitContext sends a Git context the way buildx does (build/opt.go loadInputs, the
// urlutil.IsRemoteURL case): the URL as the frontend's `context` attr, which the dockerfile
// frontend fetches with llb.Git (frontend/dockerui/context.go initContext, DetectGitContext);
// `filename` is then the Dockerfile's path in the repository (the frontend reads it from the
// same Git state), unless the Dockerfile is an absolute local path: that one travels as the
// `dockerfile` local mount, named by `dockerfilekey`. BuildKit authenticates the fetch with
// the GIT_AUTH_TOKEN.<host> (or GIT_AUTH_TOKEN) secret, basic auth as x-access-token
// (source/git/source.go getAuthToken), which the run adds to Secrets.
func applyGitContext(req Request, so *client.SolveOpt) error {
	if req.GitContext == "" {
		return nil
	}
	so.FrontendAttrs["context"] = req.GitContext
	if !filepath.IsAbs(req.Dockerfile) {
		so.FrontendAttrs["filename"] = path.Clean(filepath.ToSlash(req.Dockerfile))
		return nil
	}
	dir := filepath.Dir(req.Dockerfile)
	fs, err := fsutil.NewFS(dir)
	if err != nil {
		return fmt.Errorf("dockerfile directory %s: %w", dir, err)
	}
	so.LocalMounts["dockerfile"] = fs
	so.FrontendAttrs["dockerfilekey"] = "dockerfile"
	so.FrontendAttrs["filename"] = filepath.Base(req.Dockerfile)
	return nil
}

// FetchGitFiles copies the files of req's Git context that match patterns (BuildKit's
// include patterns, relative to the context's directory) into dest, through BuildKit: the
// same llb.Git source the dockerfile frontend makes of the context attr, so the build that
// follows finds the repository fetched already. It is how the mount caches read a Dockerfile
// and its dependency files without a checkout; req's Secrets authenticate the fetch.
func FetchGitFiles(ctx context.Context, c *client.Client, req Request, patterns []string, dest string, opts ...SolveOption) error {
	cfg := solveConfig{progress: io.Discard, getenv: os.Getenv}
	for _, o := range opts {
		o(&cfg)
	}
	st, err := gitSource(req.GitContext)
	if err != nil {
		return fmt.Errorf("git context %s: not a Git URL: %v", req.GitContext, err)
	}
	out := llb.Scratch().File(llb.Copy(st, "/", "/", &llb.CopyInfo{
		CopyDirContentsOnly: true, IncludePatterns: patterns,
		AllowWildcard: true, AllowEmptyWildcard: true,
	}), llb.WithCustomName("[warmbuild] read the Dockerfile and mount-cache-hash-files from the Git context"))
	def, err := out.Marshal(ctx)
	if err != nil {
		return fmt.Errorf("git context: %w", err)
	}
	so := client.SolveOpt{Exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: dest}}}
	if len(req.Secrets) > 0 {
		so.Session = append(so.Session, secretsprovider.NewSecretProvider(secretStore{secrets: req.Secrets, getenv: cfg.getenv}))
	}
	display, err := progressui.NewDisplay(cfg.progress, progressui.PlainMode)
	if err != nil {
		return fmt.Errorf("progress display: %w", err)
	}
	ch := make(chan *client.SolveStatus)
	eg, egCtx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		_, err := c.Solve(egCtx, def, so, ch)
		return err
	})
	eg.Go(func() error {
		_, err := display.UpdateFrom(context.WithoutCancel(egCtx), ch)
		return err
	})
	if err := eg.Wait(); err != nil {
		return fmt.Errorf("fetch the Git context %s: %w", req.GitContext, err)
	}
	return nil
}

// gitSource is the llb.Git source the dockerfile frontend makes of a Git context attr
// (moby/buildkit frontend/dockerui/context.go DetectGitContext, written out here: importing
// dockerui would add a megabyte of frontend code to the action's image), so the build that
// follows finds the repository fetched already: the same remote, ref, subdir, checksum,
// submodule, mtime and fetch-by-commit options, from BuildKit's own parser.
func gitSource(ref string) (llb.State, error) {
	g, isGit, err := dfgitutil.ParseGitRef(ref)
	if err != nil {
		return llb.State{}, err
	}
	if !isGit {
		return llb.State{}, errors.New("not a Git reference")
	}
	opts := []llb.GitOption{llb.GitRef(g.Ref)}
	if g.KeepGitDir != nil && *g.KeepGitDir {
		opts = append(opts, llb.KeepGitDir())
	}
	if g.SubDir != "" {
		opts = append(opts, llb.GitSubDir(g.SubDir))
	}
	if g.Checksum != "" {
		opts = append(opts, llb.GitChecksum(g.Checksum))
	}
	if g.Submodules != nil && !*g.Submodules {
		opts = append(opts, llb.GitSkipSubmodules())
	}
	if g.MTime != "" {
		opts = append(opts, llb.GitMTime(g.MTime))
	}
	if g.FetchByCommit {
		opts = append(opts, llb.GitFetchByCommit())
	}
	return llb.Git(g.Remote, "", opts...), nil
}
