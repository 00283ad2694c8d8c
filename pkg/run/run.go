// Package run carries one invocation of the action from inputs to outputs:
// inputs → plan (cache policy, layer cache entries, build request) → build → report.
// It owns the order of phases and the rule that cache problems warn but never fail a build.
package run

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/layercache"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// Env is the outside world of one run, injectable for tests.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer
}

// Main runs the action and returns the process exit code.
func Main(ctx context.Context, env Env) int {
	// Under nektos/act both caches need a stand-in token (see cacheservice.WithActToken).
	var actNote string
	env.Getenv, actNote = cacheservice.WithActToken(env.Getenv, time.Now())
	rep := report.New(env.Stdout, env.Getenv)
	if actNote != "" {
		rep.Infof("%s", actNote)
	}
	r := &runner{env: env, rep: rep, out: report.Outputs{RepoCacheUsageBytes: -1}}
	err := r.run(ctx)
	r.finish(err)
	if err != nil {
		return 1
	}
	return 0
}

type runner struct {
	env     Env
	rep     *report.Reporter
	in      *inputs.Inputs
	plan    *Plan
	out     report.Outputs
	summary report.Summary
	phases  []report.Phase
	// savedMountKeys are the mount cache entries this run stored, for cleanup.
	savedMountKeys []string
	// layerNotSaved says why a layer cache export the plan made did not happen.
	layerNotSaved string
}

// Plan is everything decided before the build starts.
type Plan struct {
	Inputs     *inputs.Inputs
	Decision   cachepolicy.Decision
	LayerCache layercache.Plan
	Request    builder.Request
	// Warnings are problems with the run's environment that do not stop it.
	Warnings []string
}

func (r *runner) run(ctx context.Context) error {
	getenv := r.env.Getenv
	// Mask before anything else is printed.
	for _, k := range []string{"ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"} {
		if v := getenv(k); v != "" {
			r.rep.Mask(v)
		}
	}
	if tok := getenv(inputs.InputEnv("github-token")); tok != "" {
		r.rep.Mask(tok)
	}

	in, err := inputs.Parse(getenv)
	if err != nil {
		return err
	}
	r.in = in
	for _, s := range in.Secrets {
		if len(s.Value) > 0 {
			r.rep.Mask(string(s.Value))
		}
	}

	plan, err := MakePlan(in, getenv)
	if err != nil {
		return err
	}
	r.plan = plan
	r.describePlan()

	end := r.rep.Group("Connect to BuildKit")
	start := time.Now()
	// endpoint, builder or neither: dockerbuilder finds (or creates) the daemon through Docker
	// unless endpoint is a plain unix:// or tcp:// address.
	ep, _, err := dockerbuilder.Resolve(ctx, dockerbuilder.Options{
		Endpoint: in.Endpoint.Address, TLSDir: in.Endpoint.TLSDir,
		Builder: in.Builder, Image: in.BuildkitImage,
		Getenv: getenv, Logf: r.rep.Infof,
	})
	var c *client.Client
	if err == nil {
		c, err = builder.Connect(ctx, ep)
	}
	r.phase("connect", start)
	end()
	if err != nil {
		return err
	}
	defer c.Close()

	if err := r.build(ctx, c); err != nil {
		return err
	}
	api := r.githubAPI()
	r.pruneMountCaches(ctx, api, r.savedMountKeys)
	r.readCacheUsage(ctx, api)
	return nil
}

func (r *runner) build(ctx context.Context, c *client.Client) error {
	sel, err := mountcache.ParseSelector(r.in.MountCache.Select)
	if err != nil {
		return err
	}
	mounts, err := r.mountEngine(c).Restore(ctx, r.mountRequest(c, sel))
	if err != nil {
		return err
	}
	end := r.rep.Group("Build " + r.summary.Image)
	start := time.Now()
	// The build does not wait for the base image prewarm: its FROM joins the unpack in
	// flight (BuildKit unpacks a layer once, whoever asks), while the rest of its start
	// (definition, cache manifest, context) overlaps with it.
	opts := []builder.SolveOption{builder.WithProgress(r.rep.Writer()), builder.WithGetenv(r.env.Getenv)}
	if early := mounts.ExportStart(); early != nil {
		opts = append(opts, builder.WithExportStart(early))
	}
	res, err := builder.Solve(ctx, c, r.plan.Request, opts...)
	buildPhase := report.Phase{Name: "build", Duration: time.Since(start)}
	mounts.EndPrewarm(ctx)
	end()
	mres := mounts.Save(ctx, mountcache.BuildOf(res, err))
	r.mountResults(mres, buildPhase)
	if res != nil && res.Retried != "" {
		msg := fmt.Sprintf("the first push failed (%s) and the export ran again; the steps were cached, only the export was repeated", res.Retried)
		r.summary.Hints = append(r.summary.Hints, "push retried: "+msg)
		r.rep.Warning("Push retried", msg)
	}
	if res != nil {
		r.out.LayerCacheStepsCached = res.Steps.Cached
		r.out.LayerCacheStepsTotal = res.Steps.Total
		r.out.BuildDurationSeconds = res.Duration.Seconds()
		r.summary.StepsCached, r.summary.StepsTotal = res.Steps.Cached, res.Steps.Total
		r.summary.Duration = res.Duration
	}
	if err != nil {
		return err
	}
	r.out.Digest, r.out.ImageID, r.out.Metadata = res.Digest, res.ImageID, res.Metadata
	r.summary.Digest = res.Digest
	r.out.CacheSaved = r.plan.Decision.Save && len(r.plan.LayerCache.Exports) > 0
	for _, e := range res.Steps.CacheExportErrors {
		// The image is built; only the cache is missing. Say so, do not fail.
		e += layerDeniedNote(e, mres.ReadDenied, mres.WriteDenied)
		r.out.CacheSaved = false
		if r.layerNotSaved == "" {
			r.layerNotSaved = "the layer cache export failed: " + e
		}
		r.out.CacheWarnings = append(r.out.CacheWarnings, e)
		r.summary.Hints = append(r.summary.Hints, "layer cache not saved: "+e)
		r.rep.Warning("Layer cache not saved", e)
	}
	return nil
}

func (r *runner) phase(name string, start time.Time) {
	r.phases = append(r.phases, report.Phase{Name: name, Duration: time.Since(start)})
}

func (r *runner) describePlan() {
	p := r.plan
	r.out.CacheBackend = p.LayerCache.Backend
	r.out.CacheSaveReason = p.Decision.Reason
	for _, w := range p.Warnings {
		r.rep.Warning("Event", w)
	}
	r.describeCacheMode()
	r.out.CacheWarnings = append(r.out.CacheWarnings, p.LayerCache.Warnings...)
	for _, w := range p.LayerCache.Warnings {
		r.rep.Warning("Layer cache", w)
	}
	r.summary.Tags = p.Inputs.Tags
	r.summary.Image = imageName(p.Inputs)
	r.summary.CacheBackend = p.LayerCache.BackendReason
	r.summary.CacheReads = p.LayerCache.ReadScopes
	r.summary.CacheWrite = p.LayerCache.WriteScope
	r.summary.CacheSaveReason = p.Decision.Reason
	r.rep.Infof("Layer cache: %s", p.LayerCache.BackendReason)
	for _, e := range p.LayerCache.Imports {
		r.rep.Infof("  reads  %s", layercache.Redacted(e))
	}
	for _, e := range p.LayerCache.Exports {
		r.rep.Infof("  writes %s", layercache.Redacted(e))
	}
	r.rep.Infof("Cache save: %s", p.Decision.Reason)
	if p.Request.Auth != nil {
		r.rep.Infof("%s", describeRegistryAuth(p.Request.Auth))
		for _, w := range p.Request.Auth.Warnings {
			r.rep.Warning("Registry login", w)
		}
	}
	r.rep.Infof("New layers: gzip level %d (compression-level)", p.Inputs.CompressionLevel)
}

// finish reports whatever happened: outputs and summary are written on failure too, so a
// later step can still read the hit ratio of a failed build.
func (r *runner) finish(err error) {
	var inErrs inputs.Errors
	var inErr *inputs.Error
	var buildErr *builder.BuildError
	var authErr *builder.RegistryAuthError
	switch {
	case err == nil:
	case errors.As(err, &inErrs):
		for _, e := range inErrs {
			r.rep.Error(e.Title(), e.Error())
		}
		return
	case errors.As(err, &inErr):
		r.rep.Error(inErr.Title(), inErr.Error())
		return
	case errors.As(err, &authErr):
		// Not the Dockerfile's fault: no file, and what to add to the workflow.
		r.rep.Error(fmt.Sprintf("%s refused the %s", authErr.Registry, authErr.Op), authErr.Error()+"\n"+authErr.Fix())
		r.summary.Failed = authErr.Error()
	case errors.As(err, &buildErr):
		msg := buildErr.Error()
		if buildErr.Log != "" {
			msg += "\n" + buildErr.Log
		}
		r.rep.ErrorAt("Build failed", msg, buildErr.File, buildErr.Line, buildErr.EndLine)
		r.summary.Failed = buildErr.Error()
	default:
		r.rep.Error("warmbuild", err.Error())
		r.summary.Failed = err.Error()
	}
	if r.plan == nil {
		return
	}
	r.out.CacheSaved = r.out.CacheSaved && err == nil
	r.out.CacheSaveReason = r.resultSaveReason(err)
	r.summary.CacheSaveReason = r.out.CacheSaveReason
	r.rep.SetOutputs(r.out)
	r.summary.Phases = r.phases
	r.summary.CacheSaved = r.out.CacheSaved
	r.rep.AddSummary(r.summary.Markdown())
}

func imageName(in *inputs.Inputs) string {
	if len(in.Tags) > 0 {
		return in.Tags[0]
	}
	return in.File
}

// MakePlan turns inputs and the runner's environment into what the build will do.
func MakePlan(in *inputs.Inputs, getenv func(string) string) (*Plan, error) {
	pin, payloadWarning, err := policyInput(in, getenv)
	if err != nil {
		return nil, err
	}
	decision, err := cachepolicy.Decide(pin)
	if err != nil {
		return nil, err
	}
	lc, err := layercache.NewPlan(layercache.Settings{
		Backend:     in.Cache.Backend,
		CacheRef:    in.Cache.Ref,
		CacheDir:    in.Cache.Dir,
		Scope:       in.Cache.Scope,
		Tags:        in.Tags,
		Dockerfile:  in.File,
		Target:      in.Target,
		CacheFrom:   in.CacheFrom,
		CacheTo:     in.CacheTo,
		Auto:        in.Cache.Auto,
		GitHubToken: in.GitHubToken,
		Getenv:      getenv,
	}, decision)
	if err != nil {
		return nil, err
	}
	req, err := buildRequest(in, lc, getenv)
	if err != nil {
		return nil, err
	}
	p := &Plan{Inputs: in, Decision: decision, LayerCache: lc, Request: req}
	if payloadWarning != "" {
		p.Warnings = append(p.Warnings, payloadWarning)
	}
	return p, nil
}

// policyInput reads the runner's GITHUB_* variables and the event payload. A payload that
// cannot be read (act in host mode passes host paths into the container) is a warning: the
// policy then decides from the variables alone, which at worst means saving nothing.
func policyInput(in *inputs.Inputs, getenv func(string) string) (cachepolicy.Input, string, error) {
	var warning string
	var payload io.Reader
	if path := getenv("GITHUB_EVENT_PATH"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			warning = fmt.Sprintf("cannot read the event payload (GITHUB_EVENT_PATH): %v; deciding from GITHUB_* variables only", err)
		} else {
			defer f.Close()
			payload = f
		}
	}
	pin, err := cachepolicy.InputFromEnv(getenv, payload)
	if err != nil {
		warning = fmt.Sprintf("cannot read the event payload (GITHUB_EVENT_PATH): %v; deciding from GITHUB_* variables only", err)
		if pin, err = cachepolicy.InputFromEnv(getenv, nil); err != nil {
			return cachepolicy.Input{}, "", err
		}
	}
	pin.SaveOn = in.Cache.SaveOn
	pin.Mode = in.Cache.Mode
	return pin, warning, nil
}

func buildRequest(in *inputs.Inputs, lc layercache.Plan, getenv func(string) string) (builder.Request, error) {
	if err := checkDir("context", in.Context); err != nil {
		return builder.Request{}, err
	}
	if fi, err := os.Stat(in.File); err != nil || fi.IsDir() {
		return builder.Request{}, &inputs.Error{Input: "file", Problem: fmt.Sprintf("no Dockerfile at %s (file is relative to the workspace; its default is <context>/Dockerfile)", in.File)}
	}
	req := builder.Request{
		ContextDir:      in.Context,
		Dockerfile:      in.File,
		Target:          in.Target,
		BuildArgs:       in.BuildArgs,
		Labels:          in.Labels,
		Platforms:       in.Platforms,
		NoCache:         in.NoCache,
		Pull:            in.Pull,
		CacheImports:    toClientCache(lc.Imports),
		CacheExports:    toClientCache(lc.Exports),
		DockerConfigDir: dockerConfigDir(getenv),
		BuildContexts:   map[string]string{},
	}
	for name, v := range in.BuildContexts {
		if !strings.Contains(v, "://") && !strings.HasPrefix(v, "target:") {
			if err := checkDir("build-contexts", v); err != nil {
				return builder.Request{}, err
			}
		}
		req.BuildContexts[name] = v
	}
	for _, s := range in.Secrets {
		req.Secrets = append(req.Secrets, builder.Secret{ID: s.ID, Value: s.Value, File: s.File, Env: s.Env})
	}
	req.Exports = exports(in)
	applyCompressionLevel(req.Exports, req.CacheExports, in.CompressionLevel)
	auth, err := registryAuth(req.DockerConfigDir, in.GitHubToken, getenv)
	if err != nil {
		return builder.Request{}, err
	}
	req.Auth = auth
	return req, nil
}

// exports turns push/tags/outputs into BuildKit exporters the way buildx does: push is
// shorthand for an image export with push=true, and tags name the image.
func exports(in *inputs.Inputs) []client.ExportEntry {
	names := strings.Join(in.Tags, ",")
	var out []client.ExportEntry
	for _, o := range in.Outputs {
		e := client.ExportEntry{Type: o.Type, Attrs: map[string]string{}}
		for k, v := range o.Attrs {
			e.Attrs[k] = v
		}
		switch o.Type {
		case "registry":
			e.Type = client.ExporterImage
			e.Attrs["push"] = "true"
		case "local", "tar":
			e.OutputDir = o.Destination
			if o.Type == "tar" {
				e.Output = fileOutput(o.Destination)
				e.OutputDir = ""
			}
		case "oci", "docker":
			e.Output = fileOutput(o.Destination)
		}
		if (e.Type == client.ExporterImage || e.Type == "oci" || e.Type == "docker") && e.Attrs["name"] == "" && names != "" {
			e.Attrs["name"] = names
		}
		out = append(out, e)
	}
	if in.Push && len(out) == 0 {
		out = append(out, client.ExportEntry{Type: client.ExporterImage, Attrs: map[string]string{"name": names, "push": "true"}})
	} else if in.Push {
		for i := range out {
			if out[i].Type == client.ExporterImage {
				out[i].Attrs["push"] = "true"
			}
		}
	}
	return out
}

func fileOutput(path string) func(map[string]string) (io.WriteCloser, error) {
	return func(map[string]string) (io.WriteCloser, error) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		return os.Create(path)
	}
}

func toClientCache(es inputs.CacheEntries) []client.CacheOptionsEntry {
	out := make([]client.CacheOptionsEntry, 0, len(es))
	for _, e := range es {
		// A copy: the client writes into import attrs (local digests) during the solve.
		out = append(out, client.CacheOptionsEntry{Type: e.Type, Attrs: maps.Clone(e.Attrs)})
	}
	return out
}

func checkDir(input, dir string) error {
	fi, err := os.Stat(dir)
	if err != nil || !fi.IsDir() {
		return &inputs.Error{Input: input, Problem: fmt.Sprintf("%s is not a directory (paths are relative to the workspace)", dir)}
	}
	return nil
}

// dockerConfigDir is where registry credentials are read, as the docker CLI reads them.
func dockerConfigDir(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".docker")
	}
	return ""
}
