package run

import (
	"context"
	"io"
	"os"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/layercache"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// mountEngine is the mount cache engine of this run, with its dependencies: the Actions
// cache service, the helper builds on c, the base image prewarm and the reporter.
func (r *runner) mountEngine(c *client.Client) *mountcache.Engine {
	// On failure exe is "": the helper builds then fail, and the engine warns per mount.
	exe, _ := os.Executable()
	platform := firstOr(r.in.Platforms, "")
	cfgDir := r.plan.Request.DockerConfigDir
	return mountcache.NewEngine(
		mountcache.WithLogger(r.rep),
		mountcache.WithTempDir(r.renv.RunnerTemp),
		mountcache.WithStore(func() (mountcache.Store, error) {
			// 4 parallel 4 MiB blocks: enough to fill a runner's link to the blob store
			// while the transfer buffers stay near 20 MB, whatever the cache's size.
			// The plan's one detection, which the layer cache's gha entries use too.
			svc, err := r.plan.CacheClient(
				cacheservice.WithParallelism(4), cacheservice.WithBlockSize(4<<20),
				cacheservice.WithWarnf(func(f string, a ...any) { r.rep.Infof("cache service: "+f, a...) }),
				// Signed storage URLs are masked the moment the service hands them out.
				cacheservice.WithMask(r.rep.Mask))
			if err != nil {
				return nil, err
			}
			return mountcache.ServiceStore(svc), nil
		}),
		mountcache.WithHelper(func(tempDir string, progress io.Writer) mountcache.Helper {
			return mountcache.HelperBuild{Client: c, Binary: exe, Platform: platform, TempDir: tempDir, Progress: progress}
		}),
		mountcache.WithPrewarm(func(ctx context.Context, image, platform string) error {
			return builder.Prewarm(ctx, c, image, platform, cfgDir)
		}),
	)
}

// mountRequest is what this run asks of the mount cache engine.
func (r *runner) mountRequest(c *client.Client) mountcache.Request {
	in, p := r.in, r.plan
	return mountcache.Request{
		Selector:        mountcache.Selector{MountSelector: in.MountCache.Select},
		Dockerfile:      in.File,
		ContextDir:      in.Context,
		HashFiles:       in.MountCache.HashFiles,
		BuildArgs:       in.BuildArgs,
		Target:          in.Target,
		Platform:        firstOr(in.Platforms, ""),
		Platforms:       in.Platforms, // every platform's mounts are carried (issue 18)
		DefaultPlatform: func(ctx context.Context) (string, error) { return mountcache.DefaultPlatform(ctx, c) },
		MaxSize:         in.MountCache.MaxSize,
		// WARMBUILD_MOUNT_TRANSFER=stream skips the in-build download (and its
		// reachability probe) where the build is known to have no route to the storage.
		StreamOnly:           r.renv.StreamMounts(),
		Reads:                p.Decision.Access.Reads(),
		ReadReason:           p.Decision.ReadReason,
		Save:                 p.Decision.Save,
		SaveReason:           p.Decision.Reason,
		LayerCacheHoldsSteps: p.LayerCache.Backend != layercache.BackendNone && !in.NoCache,
		ReadDeniedHint:       deniedHint(p.Decision.Access) + readDeniedNote(p.LayerCache),
		WriteDeniedHint:      deniedHint(p.Decision.Access),
	}
}

// mountResults is the one place the mount cache engine's result reaches the run's Result.
// buildPhase goes between the engine's restore and save phases; beside says the build
// started beside the injection, whose phase is then not added to the wall time.
func (r *runner) mountResults(res *mountcache.Result, buildPhase report.Phase, beside bool) {
	r.warn.Add(res.Warnings...)
	r.res.Hints = append(r.res.Hints, res.Hints...)
	r.savedMountKeys = append(r.savedMountKeys, res.SavedKeys...)
	for _, p := range res.RestorePhases {
		if beside && p.Name == "inject" {
			p.During = "build"
		}
		r.phases = append(r.phases, p)
	}
	r.phases = append(r.phases, buildPhase)
	r.phases = append(r.phases, res.SavePhases...)
	if len(res.Mounts) == 0 {
		return
	}
	r.res.PipTotal, r.res.PipCached = res.PipTotal, res.PipCached
	r.res.PackagesTotal, r.res.PackagesCached = res.PackagesTotal, res.PackagesCached // eco (issue 18)
	r.res.Mounts = make([]report.MountEntry, 0, len(res.Mounts))
	for _, o := range res.Mounts {
		r.res.Mounts = append(r.res.Mounts, mountEntry(o))
	}
}

// mountEntry is the one mapping of a mount's outcome to its mount-cache-report entry.
func mountEntry(o *mountcache.Outcome) report.MountEntry {
	e := report.MountEntry{
		ID: o.ID, CacheID: o.CacheID, Target: o.Target, Key: o.Key, MatchedKey: o.MatchedKey,
		Hit: string(o.Hit), Injected: o.Injected, Reason: o.Reason, RestoredBytes: o.RestoredBytes,
		Saved: o.Saved, SavedBytes: o.SavedBytes, SaveNote: o.SaveNote, SavedKey: o.SavedKey,
		DeltaOn: o.DeltaOn, StepCached: o.StepCached,
	}
	if p := o.Pip; p != nil {
		e.Pip = &report.PipCounts{Total: p.Total, Cached: p.Cached, Downloaded: p.Downloaded, Built: p.Built}
	}
	// eco (issue 18)
	e.Ecosystem = o.Ecosystem
	if p := o.Packages; p != nil {
		e.Packages = &report.PackageCounts{Total: p.Total, Cached: p.Cached}
	}
	// caps (issue 18)
	e.Platform, e.QuotaBytes = o.Platform, o.QuotaBytes
	if p := o.Pruned; p != nil {
		e.Pruned = &report.PruneCounts{Files: p.Files, Bytes: p.Bytes, MaxBytes: p.MaxBytes}
	}
	return e
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// besideInjection starts the mount caches' injection and returns the build's options to
// start beside it: the build context is held until the injection is done, so no step
// that reads it (BuildMayStartBeside: every step fed by a mount) runs on a half-injected
// directory; the build's log is held too, and follows the restore's group; the early
// save starts with the export as before, once the injection is done. join waits for the
// injection (the save reads what it did, even after a failed build) and returns the end
// of the build's log group.
func (r *runner) besideInjection(ctx context.Context, mounts *mountcache.Run) (opts []builder.SolveOption, join func() (end func())) {
	held := report.Hold(r.rep.Writer())
	done := make(chan struct{})
	var end func()
	go func() {
		defer close(done)
		mounts.Inject(ctx)
		end = r.buildGroup()
		held.Release()
	}()
	opts = []builder.SolveOption{
		builder.WithProgress(held),
		builder.WithContextHeld(func(ctx context.Context) error {
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}),
		builder.WithExportStart(func() {
			select {
			case <-done:
				// Exports start after the steps, which waited for the context.
				if early := mounts.ExportStart(); early != nil {
					early()
				}
			default: // not done: Save extracts and saves after the build
			}
		}),
	}
	return opts, func() func() { <-done; return end }
}
