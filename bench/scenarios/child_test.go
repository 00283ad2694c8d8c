//go:build bench

package scenarios

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/buildx/util/buildflags"
	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
)

// childEnv names the spec file when the test binary runs as the plain or dance pipeline.
const childEnv = "WB_SCENARIO_CHILD"

// childSpec is one plain or dance run, handed to a child process of the test binary so
// that its wall time and peak memory are a process's, like the action's.
type childSpec struct {
	Way        string // plain or dance
	Endpoint   string
	ContextDir string
	Dockerfile string
	Tag        string
	CacheFrom  []string // in buildx --cache-from syntax, as a workflow writes them
	CacheTo    []string
	// Dance: the pip cache mount to carry, and actions/cache's key, restore key and version.
	MountTarget    string
	DanceKey       string
	DanceRestore   string
	DanceVersion   string
	UtilityImage   string
	ScratchDir     string
	ResultFile     string
	ProgressToFile string
}

// childResult is what a child reports back.
type childResult struct {
	Phases     []phase `json:"phases"`
	Solve      float64 `json:"solve"` // seconds of the main build's BuildKit solve
	StepsTotal int     `json:"stepsTotal"`
	StepsCache int     `json:"stepsCached"`
	PipTotal   int     `json:"pipTotal"`
	PipCached  int     `json:"pipCached"`
	MountHit   string  `json:"mountHit,omitempty"` // dance: exact, partial or miss (actions/cache's view)
}

type phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// childMain runs the spec named by $WB_SCENARIO_CHILD and returns the exit code.
func childMain() int {
	data, err := os.ReadFile(os.Getenv(childEnv))
	if err == nil {
		var spec childSpec
		if err = json.Unmarshal(data, &spec); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
			defer cancel()
			var res childResult
			if res, err = runChild(ctx, spec); err == nil {
				out, _ := json.Marshal(res)
				err = os.WriteFile(spec.ResultFile, out, 0o644)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	return 0
}

func runChild(ctx context.Context, spec childSpec) (childResult, error) {
	var res childResult
	timed := func(name string, f func() error) error {
		start := time.Now()
		err := f()
		res.Phases = append(res.Phases, phase{name, time.Since(start).Seconds()})
		return err
	}
	var c *client.Client
	if err := timed("connect", func() (err error) {
		c, err = builder.Connect(ctx, builder.Endpoint{Address: spec.Endpoint})
		return err
	}); err != nil {
		return res, err
	}
	defer c.Close()

	var (
		svc      *cacheservice.Client
		cacheDir = filepath.Join(spec.ScratchDir, "cache")
		hit      = "miss"
	)
	if spec.Way == "dance" {
		var err error
		if svc, err = cacheservice.FromEnv(os.Getenv); err != nil {
			return res, err
		}
		if err := danceRestore(ctx, svc, spec, cacheDir, &hit, timed); err != nil {
			return res, err
		}
		res.MountHit = hit
		if err := timed("inject", func() error { return danceInject(ctx, c, spec, cacheDir) }); err != nil {
			return res, err
		}
	}

	var built *builder.Result
	if err := timed("build", func() (err error) {
		built, err = solvePlain(ctx, c, spec)
		return err
	}); err != nil {
		return res, err
	}
	res.Solve = built.Duration.Seconds()
	res.StepsTotal, res.StepsCache = built.Steps.Total, built.Steps.Cached
	pip := mountcache.ParsePipLog(built.Logs(func(name string) bool { return strings.Contains(name, "pip install") }))
	res.PipTotal, res.PipCached = pip.Total, pip.Cached

	// buildkit-cache-dance's README passes skip-extraction: cache-hit, and actions/cache
	// does not save after an exact hit: only a changed key extracts and saves.
	if spec.Way == "dance" && hit != "exact" {
		outDir := filepath.Join(spec.ScratchDir, "extracted")
		if err := timed("extract", func() error { return danceExtract(ctx, c, spec, outDir) }); err != nil {
			return res, err
		}
		archivePath := filepath.Join(spec.ScratchDir, "save.tar.zst")
		if err := timed("tar", func() error { return tarDir(ctx, outDir, archivePath) }); err != nil {
			return res, err
		}
		if err := timed("save", func() error { return saveFile(ctx, svc, spec.DanceKey, spec.DanceVersion, archivePath) }); err != nil {
			return res, err
		}
	}
	return res, nil
}

// solvePlain is docker/build-push-action's build: the Dockerfile frontend with the
// workflow's cache-from/cache-to, turned into BuildKit entries as buildx does.
func solvePlain(ctx context.Context, c *client.Client, spec childSpec) (*builder.Result, error) {
	from, err := buildxCacheEntries(spec.CacheFrom)
	if err != nil {
		return nil, err
	}
	to, err := buildxCacheEntries(spec.CacheTo)
	if err != nil {
		return nil, err
	}
	progress, closeProgress, err := progressWriter(spec)
	if err != nil {
		return nil, err
	}
	defer closeProgress()
	return builder.Solve(ctx, c, builder.Request{
		ContextDir:   spec.ContextDir,
		Dockerfile:   spec.Dockerfile,
		CacheImports: from,
		CacheExports: to,
		Exports: []client.ExportEntry{{Type: client.ExporterImage, Attrs: map[string]string{
			"name": spec.Tag, "push": "true",
		}}},
	}, builder.WithProgress(progress))
}

// buildxCacheEntries parses cache-from/cache-to lines with buildx's own parser and adds
// the runner's token and cache service URL the way buildx's build.CreateCaches does
// (addGithubToken, buildx v0.38.2 build/opt.go) with ACTIONS_CACHE_SERVICE_V2=true.
func buildxCacheEntries(lines []string) ([]client.CacheOptionsEntry, error) {
	opts, err := buildflags.ParseCacheEntry(lines)
	if err != nil {
		return nil, fmt.Errorf("cache entries %q: %w", lines, err)
	}
	var out []client.CacheOptionsEntry
	for _, o := range opts {
		e := client.CacheOptionsEntry{Type: o.Type, Attrs: maps.Clone(o.Attrs)}
		if e.Attrs == nil {
			e.Attrs = map[string]string{}
		}
		if e.Type == "gha" {
			setDefault(e.Attrs, "token", os.Getenv("ACTIONS_RUNTIME_TOKEN"))
			if os.Getenv("ACTIONS_CACHE_SERVICE_V2") == "true" {
				setDefault(e.Attrs, "url_v2", os.Getenv("ACTIONS_RESULTS_URL"))
			}
			setDefault(e.Attrs, "url", os.Getenv("ACTIONS_RESULTS_URL"))
		}
		out = append(out, e)
	}
	return out, nil
}

func setDefault(m map[string]string, k, v string) {
	if _, ok := m[k]; !ok && v != "" {
		m[k] = v
	}
}

func progressWriter(spec childSpec) (io.Writer, func(), error) {
	if spec.ProgressToFile == "" {
		return io.Discard, func() {}, nil
	}
	f, err := os.OpenFile(spec.ProgressToFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// danceRestore is actions/cache's restore: look the key up (restore key as fallback),
// download the archive to a file, then untar it into the directory the dance injects.
func danceRestore(ctx context.Context, svc *cacheservice.Client, spec childSpec, dir string, hit *string, timed func(string, func() error) error) error {
	archivePath := filepath.Join(spec.ScratchDir, "restore.tar.zst")
	found := false
	if err := timed("restore", func() error {
		e, err := svc.Restore(ctx, spec.DanceKey, []string{spec.DanceRestore}, spec.DanceVersion)
		if err != nil || e == nil {
			return err
		}
		found = true
		*hit = "partial"
		if e.Exact {
			*hit = "exact"
		}
		f, err := os.Create(archivePath)
		if err != nil {
			return err
		}
		if _, err := e.Download(ctx, f); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}); err != nil {
		return fmt.Errorf("dance restore: %w", err)
	}
	if !found {
		// buildkit-cache-dance creates the directory and injects it even when empty.
		return os.MkdirAll(dir, 0o755)
	}
	return timed("untar", func() error {
		f, err := os.Open(archivePath)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := archive.Extract(ctx, f, dir, archive.Limits{}); err != nil {
			return fmt.Errorf("dance untar: %w", err)
		}
		return os.Remove(archivePath)
	})
}

// danceInject is buildkit-cache-dance's inject: a throwaway build whose context is the
// restored directory, copied into the cache mount with cp -p -R. A buildstamp file makes
// the RUN miss the layer cache every time, as the dance's does.
func danceInject(ctx context.Context, c *client.Client, spec childSpec, dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "buildstamp"), []byte(time.Now().String()), 0o644); err != nil {
		return err
	}
	dockerfile := filepath.Join(spec.ScratchDir, "Dancefile.inject")
	content := fmt.Sprintf("FROM %s\nCOPY buildstamp buildstamp\n"+
		"RUN --mount=type=cache,target=%s --mount=type=bind,source=.,target=/var/dance-cache "+
		"cp -p -R /var/dance-cache/. %s || true\n", spec.UtilityImage, spec.MountTarget, spec.MountTarget)
	if err := os.WriteFile(dockerfile, []byte(content), 0o644); err != nil {
		return err
	}
	progress, closeProgress, err := progressWriter(spec)
	if err != nil {
		return err
	}
	defer closeProgress()
	if _, err := builder.Solve(ctx, c, builder.Request{ContextDir: dir, Dockerfile: dockerfile}, builder.WithProgress(progress)); err != nil {
		return fmt.Errorf("dance inject: %w", err)
	}
	return nil
}

// danceExtract is the dance's extract: a throwaway build that copies the cache mount out
// to a stage whose files leave BuildKit through a local output.
func danceExtract(ctx context.Context, c *client.Client, spec childSpec, outDir string) error {
	ctxDir := filepath.Join(spec.ScratchDir, "extract-context")
	if err := os.MkdirAll(ctxDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "buildstamp"), []byte(time.Now().String()), 0o644); err != nil {
		return err
	}
	dockerfile := filepath.Join(ctxDir, "Dancefile.extract")
	content := fmt.Sprintf("FROM %s AS dance\nCOPY buildstamp buildstamp\n"+
		"RUN --mount=type=cache,target=%s mkdir -p /var/dance-cache/ && cp -p -R %s/. /var/dance-cache/ || true\n"+
		"FROM scratch\nCOPY --from=dance /var/dance-cache /\n", spec.UtilityImage, spec.MountTarget, spec.MountTarget)
	if err := os.WriteFile(dockerfile, []byte(content), 0o644); err != nil {
		return err
	}
	progress, closeProgress, err := progressWriter(spec)
	if err != nil {
		return err
	}
	defer closeProgress()
	_, err = builder.Solve(ctx, c, builder.Request{ContextDir: ctxDir, Dockerfile: dockerfile,
		Exports: []client.ExportEntry{{Type: client.ExporterLocal, OutputDir: outDir}}}, builder.WithProgress(progress))
	if err != nil {
		return fmt.Errorf("dance extract: %w", err)
	}
	return nil
}

// tarDir is actions/cache's save half one: the directory as tar+zstd in a file.
func tarDir(ctx context.Context, dir, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := archive.Write(ctx, f, dir); err != nil {
		f.Close()
		return fmt.Errorf("dance tar: %w", err)
	}
	return f.Close()
}

// saveFile is actions/cache's save half two: upload the archive under the key.
func saveFile(ctx context.Context, svc *cacheservice.Client, key, version, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	res, err := svc.Save(ctx, key, version, f)
	if err != nil {
		return fmt.Errorf("dance save: %w", err)
	}
	if res.AlreadyExists {
		return errors.New("dance save: the key exists already (the bench should give each repetition its own cache server)")
	}
	return nil
}
