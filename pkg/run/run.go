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
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/buildrecord"
	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/dockerbuilder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/layercache"
	"github.com/warmbuild/warmbuild/pkg/mountcache"
	"github.com/warmbuild/warmbuild/pkg/report"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

// Env is the outside world of one run, injectable for tests. Getenv is read once for the
// runner's variables (runnerenv.Read) and the inputs (inputs.Parse); afterwards only the
// variables the user names (secret-envs, build-args without a value) are read through it.
type Env struct {
	Getenv func(string) string
	Stdout io.Writer
}

// Main runs the action and returns the process exit code.
func Main(ctx context.Context, env Env) int {
	// Under nektos/act both caches need a stand-in token (see cacheservice.WithActToken);
	// runnerenv.Read below sees it as ACTIONS_RUNTIME_TOKEN.
	var actNote string
	env.Getenv, actNote = cacheservice.WithActToken(env.Getenv, time.Now())
	rep := report.New(env.Stdout, env.Getenv)
	if actNote != "" {
		rep.Infof("%s", actNote)
	}
	r := &runner{env: env, renv: runnerenv.Read(env.Getenv), rep: rep, warn: report.NewWarnings(rep)}
	err := r.run(ctx)
	r.finish(err)
	if err != nil {
		return 1
	}
	return 0
}

type runner struct {
	env Env
	// renv is the runner's environment, read once (after the act stand-in token).
	renv runnerenv.Env
	rep  *report.Reporter
	in   *inputs.Inputs
	plan *Plan
	// res is what the run found out; finish writes the outputs and the summary from it.
	res report.Result
	// warn annotates cache problems and records them for res.Warnings (cache-warnings).
	warn   *report.Warnings
	phases []report.Phase
	// savedMountKeys are the mount cache entries this run stored, for cleanup.
	savedMountKeys []string
	// layerNotSaved says why a layer cache export the plan made did not happen.
	layerNotSaved string
	// loads are the image loads into the Docker Engine (load.go), if any.
	loads *engineLoads
	// thisRun is this run's build record, once made (explain.go, issue 17).
	thisRun *buildrecord.Record
	// prevRecord is the previous run's record, read while the build runs (explain.go);
	// recordSaved is closed once this run's record was saved (or not).
	prevRecord  *recordRead
	recordSaved chan struct{}
	// stagedRecord is this run's record uploaded while BuildKit exported, to commit.
	stagedRecord *stagedRecord
}

// Plan is everything decided before the build starts.
type Plan struct {
	Inputs     *inputs.Inputs
	Decision   cachepolicy.Decision
	LayerCache layercache.Plan
	Request    builder.Request
	// Warnings are problems with the run's environment that do not stop it.
	Warnings []string
	// CacheService is the run's one detection of the GitHub Actions cache service
	// (runnerenv.Env.CacheService); CacheServiceErr what it returned instead. The layer
	// cache's gha entries were made from it, and the mount caches connect to it (CacheClient).
	CacheService    cacheservice.Service
	CacheServiceErr error

	// gitctx (issue 14)
	// Git is the Git repository BuildKit fetches as the context; nil for a checkout.
	Git *GitContext
}

// CacheClient connects to the cache service the plan detected, or returns why there is
// none (cacheservice.ErrNoService when the runner names no service).
func (p *Plan) CacheClient(opts ...cacheservice.Option) (*cacheservice.Client, error) {
	if p.CacheServiceErr != nil {
		return nil, p.CacheServiceErr
	}
	if p.CacheService.Protocol == "" {
		return nil, cacheservice.ErrNoService
	}
	return cacheservice.Open(p.CacheService, opts...)
}

func (r *runner) run(ctx context.Context) error {
	getenv := r.env.Getenv
	// Mask before anything else is printed.
	for _, v := range r.renv.Secrets() {
		r.rep.Mask(v)
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

	plan, err := MakePlan(in, r.renv)
	if err != nil {
		return err
	}
	r.plan = plan
	r.describePlan()
	r.checkPitfalls() // pitfalls (issue 17)
	if err := r.prepareLoad(ctx); err != nil {
		return err
	}

	end := r.rep.Group("Connect to BuildKit")
	start := time.Now()
	// endpoint, builder or neither: dockerbuilder finds (or creates) the daemon through Docker
	// unless endpoint is a plain unix:// or tcp:// address.
	ep, info, err := dockerbuilder.Resolve(ctx, dockerbuilder.Options{
		Endpoint: in.Endpoint.Address, TLSDir: in.Endpoint.TLSDir,
		Builder: in.Builder, Image: in.BuildkitImage,
		Env:  dockerbuilder.Env{DockerHost: r.renv.DockerHost, Security: r.renv.BuilderSecurity, Network: r.renv.BuilderNetwork},
		Logf: r.rep.Infof,

		// remote (issue 20): buildx's store, to recognise remote/kubernetes builders by name
		BuildxDir: dockerbuilder.BuildxDir(r.env.Getenv("BUILDX_CONFIG"), r.renv.DockerConfigDir()),
		Self:      r.selfContainer(), // accel (issue 16): whether the builder reaches the action's container
	})
	var c *client.Client
	if err == nil {
		c, err = builder.Connect(ctx, ep)
	}
	r.plan.Request.BuildRefPrefix = buildRefPrefix(info) // attest (issue 14)
	r.phase("connect", start)
	end()
	if err != nil {
		return err
	}
	defer c.Close()
	defer r.startLayerAccel(ep, info)() // accel (issue 16)

	if err := r.build(ctx, c); err != nil {
		return err
	}
	api := r.githubAPI()
	r.pruneMountCaches(ctx, api, r.savedMountKeys)
	r.readCacheUsage(ctx, api)
	if r.recordSaved != nil {
		<-r.recordSaved
	}
	return nil
}

func (r *runner) build(ctx context.Context, c *client.Client) error {
	if r.plan.Request.Call != "" {
		return r.call(ctx, c) // checks (issue 14): call: check, outline, targets
	}
	mreq := r.mountRequest(c)
	cleanupGit := r.gitMountFiles(ctx, c, &mreq) // gitctx (issue 14): a Git context's Dockerfile
	defer cleanupGit()
	mounts := r.mountEngine(c).Lookup(ctx, mreq)
	r.prevRecord = r.readRecordAhead(ctx) // explain (issue 17)
	// secret-envs name variables of the process environment: the raw getenv, not runnerenv.
	opts := []builder.SolveOption{builder.WithGetenv(r.env.Getenv)}
	if stage := r.stageRecordAtExport(ctx); stage != nil {
		opts = append(opts, builder.WithStepsDone(stage)) // explain (issue 17)
	}
	start := time.Now()
	var end func()
	var joinInjection func() func()
	beside := mounts.BuildMayStartBeside()
	if beside {
		// The build starts beside the injection, its context held until the injection is
		// done: the steps fed by the mounts read the context, so they wait, while the
		// frontend, the base image and the layer cache's manifest do not.
		var besideOpts []builder.SolveOption
		besideOpts, joinInjection = r.besideInjection(ctx, mounts)
		opts = append(opts, besideOpts...)
	} else {
		// The build does not wait for the base image prewarm: its FROM joins the unpack in
		// flight (BuildKit unpacks a layer once, whoever asks), while the rest of its start
		// (definition, cache manifest, context) overlaps with it.
		mounts.Inject(ctx)
		end = r.buildGroup()
		start = time.Now()
		opts = append(opts, builder.WithProgress(r.rep.Writer()))
		if early := mounts.ExportStart(); early != nil {
			opts = append(opts, builder.WithExportStart(early))
		}
	}
	res, err := r.solve(ctx, c, opts...)
	if beside {
		end = joinInjection()
	}
	err = r.loadResult(err)
	err = gitFetchError(err, r.plan.Git) // gitctx (issue 14)
	buildPhase := report.Phase{Name: "build", Duration: time.Since(start)}
	mounts.EndPrewarm(ctx)
	end()
	r.buildChecks(res)
	mres := mounts.Save(ctx, mountcache.BuildOf(res, err))
	r.mountResults(mres, buildPhase, beside)
	err = refusedEntitlement(err, r.plan.Inputs.Flags)
	if res != nil && res.Retried != "" {
		msg := fmt.Sprintf("the first push failed (%s) and the export ran again; the steps were cached, only the export was repeated", res.Retried)
		r.res.Hints = append(r.res.Hints, "push retried: "+msg)
		r.rep.Warning("Push retried", msg)
	}
	if res != nil {
		r.res.StepsCached, r.res.StepsTotal = res.Steps.Cached, res.Steps.Total
		r.res.Duration = res.Duration
		r.explainSteps(ctx, res.Steps) // explain (issue 17)
	}
	if err != nil {
		return err
	}
	r.res.Digest, r.res.ImageID, r.res.Metadata = res.Digest, res.ImageID, res.Metadata
	r.res.CacheSaved = r.plan.Decision.Save && len(r.plan.LayerCache.Exports) > 0
	for _, e := range res.Steps.CacheExportErrors {
		// The image is built; only the cache is missing. Say so, do not fail.
		e += layerDeniedNote(e, mres.ReadDenied, mres.WriteDenied)
		r.res.CacheSaved = false
		if r.layerNotSaved == "" {
			r.layerNotSaved = "the layer cache export failed: " + e
		}
		r.res.Hints = append(r.res.Hints, "layer cache not saved: "+e)
		r.warn.Warn("Layer cache not saved", e)
	}
	// explain (issue 17): the record's save (a reservation, an upload, a finalize) runs
	// beside the cleanup and the usage read, REST calls of their own; run waits for it.
	r.recordSaved = make(chan struct{})
	go func() {
		defer close(r.recordSaved)
		r.saveBuildRecord(ctx, res.Steps)
	}()
	return nil
}

// buildGroup opens the build's log group; its first line says what the build attests.
func (r *runner) buildGroup() (end func()) {
	end = r.rep.Group("Build " + r.res.Image)
	r.rep.Infof("Attestations: %s", describeAttests(r.plan.Request.Attests))
	return end
}

func (r *runner) phase(name string, start time.Time) {
	r.phases = append(r.phases, report.Phase{Name: name, Duration: time.Since(start)})
}

func (r *runner) describePlan() {
	p := r.plan
	r.res.Backend, r.res.BackendReason = p.LayerCache.Backend, p.LayerCache.BackendReason
	r.res.SaveReason = p.Decision.Reason
	for _, w := range p.Warnings {
		r.rep.Warning("Event", w)
	}
	r.describeCacheMode()
	for _, w := range p.LayerCache.Warnings {
		r.warn.Warn("Layer cache", w)
	}
	r.res.Tags = p.Inputs.Tags
	r.res.Image = imageName(p.Inputs)
	r.res.ReadScopes = p.LayerCache.ReadScopes
	r.res.WriteScope = p.LayerCache.WriteScope
	r.describeGitContext() // gitctx (issue 14)
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
	r.describeFlags()
}

// finish reports whatever happened: outputs and summary are written on failure too, so a
// later step can still read the hit ratio of a failed build.
func (r *runner) finish(err error) {
	var inErrs inputs.Errors
	var inErr *inputs.Error
	var buildErr *builder.BuildError
	var authErr *builder.RegistryAuthError
	var callErr *CallError
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
		r.res.Failed = authErr.Error()
	case errors.As(err, &callErr):
		r.rep.Error(callErr.Title(), callErr.Error())
		r.res.Failed = callErr.Error()
	case errors.As(err, &buildErr):
		msg := buildErr.Error()
		if buildErr.Log != "" {
			msg += "\n" + buildErr.Log
		}
		r.rep.ErrorAt("Build failed", msg, buildErr.File, buildErr.Line, buildErr.EndLine)
		r.res.Failed = buildErr.Error()
	default:
		r.rep.Error("warmbuild", err.Error())
		r.res.Failed = err.Error()
	}
	if r.plan == nil {
		return
	}
	r.res.CacheSaved = r.res.CacheSaved && err == nil
	r.res.SaveReason = r.resultSaveReason(err)
	r.res.Phases = r.phases
	r.res.Warnings = r.warn.Entries()
	r.rep.SetOutputs(r.res.Outputs())
	if r.callSkipsSummary() {
		return
	}
	r.rep.AddSummary(r.res.Summary())
}

func imageName(in *inputs.Inputs) string {
	if len(in.Tags) > 0 {
		return in.Tags[0]
	}
	return in.File
}

// MakePlan turns inputs and the runner's environment into what the build will do.
func MakePlan(in *inputs.Inputs, env runnerenv.Env) (*Plan, error) {
	// caps (issue 18): mount-cache-max-size names ecosystems of the mount cache table,
	// which pkg/inputs cannot see.
	if err := in.MountCache.MaxSize.CheckEcosystems(mountcache.EcosystemNames()); err != nil {
		return nil, err
	}
	// gitctx (issue 14): the checkout or a Git context; {{defaultContext}} expanded.
	in, git, err := resolveContext(in, env)
	if err != nil {
		return nil, err
	}
	pin, payloadWarning, err := policyInput(in, env)
	if err != nil {
		return nil, err
	}
	decision, err := cachepolicy.Decide(pin)
	if err != nil {
		return nil, err
	}
	svc, svcErr := env.CacheService()
	lc := layercache.NewPlan(layercache.Settings{
		Backend:     in.Cache.Backend,
		Scope:       in.Cache.Scope,
		Tags:        in.Tags,
		Dockerfile:  git.scopeDockerfile(in.File),
		Target:      in.Target,
		CacheFrom:   in.CacheFrom,
		CacheTo:     in.CacheTo,
		Auto:        in.Cache.Auto,
		GitHubToken: in.GitHubToken,
		// The one detection, also the mount caches' (Plan.CacheClient).
		Service: svc, ServiceErr: svcErr,
		RuntimeToken: env.Cache.Token, Repository: env.GitHub.Repository,
	}, decision)
	req, err := buildRequest(in, lc, env, git)
	if err != nil {
		return nil, err
	}
	if err := planAttest(&req, in, env, decision.Event.Private); err != nil {
		return nil, err
	}
	p := &Plan{Inputs: in, Decision: decision, LayerCache: lc, Request: req, CacheService: svc, CacheServiceErr: svcErr, Git: git}
	if payloadWarning != "" {
		p.Warnings = append(p.Warnings, payloadWarning)
	}
	applyCall(p)
	return p, nil
}

// policyInput reads the runner's GITHUB_* variables and the event payload. A payload that
// cannot be read (act in host mode passes host paths into the container) is a warning: the
// policy then decides from the variables alone, which at worst means saving nothing.
func policyInput(in *inputs.Inputs, env runnerenv.Env) (cachepolicy.Input, string, error) {
	var warning string
	var payload io.Reader
	if path := env.GitHub.EventPath; path != "" {
		f, err := os.Open(path)
		if err != nil {
			warning = fmt.Sprintf("cannot read the event payload (GITHUB_EVENT_PATH): %v; deciding from GITHUB_* variables only", err)
		} else {
			defer f.Close()
			payload = f
		}
	}
	pin, err := env.PolicyInput().WithPayload(payload)
	if err != nil {
		warning = fmt.Sprintf("cannot read the event payload (GITHUB_EVENT_PATH): %v; deciding from GITHUB_* variables only", err)
		pin = env.PolicyInput()
	}
	pin.SaveOn = in.Cache.SaveOn
	pin.Mode = in.Cache.Mode
	return pin, warning, nil
}

func buildRequest(in *inputs.Inputs, lc layercache.Plan, env runnerenv.Env, git *GitContext) (builder.Request, error) {
	if err := checkLocalContext(in, git); err != nil {
		return builder.Request{}, err
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
		DockerConfigDir: env.DockerConfigDir(),
		BuildContexts:   map[string]string{},
	}
	for name, v := range in.BuildContexts {
		if !strings.Contains(v, "://") && !strings.HasPrefix(v, "target:") && !strings.HasPrefix(v, "git@") { // git@: gitctx (issue 14)
			if err := checkDir("build-contexts", v); err != nil {
				return builder.Request{}, err
			}
		}
		req.BuildContexts[name] = v
	}
	for _, s := range in.Secrets {
		req.Secrets = append(req.Secrets, builder.Secret{ID: s.ID, Value: s.Value, File: s.File, Env: s.Env})
	}
	applyFlags(&req, in.Flags)
	req.Exports = exports(in)
	applyCompressionLevel(req.Exports, req.CacheExports, in.CompressionLevel)
	auth, err := registryAuth(req.DockerConfigDir, in.GitHubToken, env.GitHub.Actor)
	if err != nil {
		return builder.Request{}, err
	}
	req.Auth = auth
	applyGitContext(&req, in, git) // gitctx (issue 14)
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
			// tar=false writes an OCI layout directory, anything else a tarball (buildx
			// build/opt.go CreateExports); a docker export without dest is loaded (load.go).
			if tar, err := strconv.ParseBool(o.Attrs["tar"]); err == nil && !tar {
				e.OutputDir = o.Destination
			} else if o.Destination != "" {
				e.Output = fileOutput(o.Destination)
			}
		}
		if (e.Type == client.ExporterImage || e.Type == "oci" || e.Type == "docker") && e.Attrs["name"] == "" && names != "" {
			e.Attrs["name"] = names
		}
		out = append(out, e)
	}
	// push: true pushes every image output, or adds one when there is none (beside a local,
	// tar, oci or docker output), as buildx's --push does (commands/build.go).
	pushUsed := false
	for i := range out {
		if in.Push && out[i].Type == client.ExporterImage {
			out[i].Attrs["push"] = "true"
			pushUsed = true
		}
	}
	if in.Push && !pushUsed {
		out = append(out, client.ExportEntry{Type: client.ExporterImage, Attrs: map[string]string{"name": names, "push": "true"}})
	}
	// load (issue 14)
	out = append(out, loadExports(in, out, names)...)
	// BuildKit merges the exporters' responses in order, the last one's keys winning
	// (moby/buildkit solver/llbsolver/export.go runExporters), and the digest output is
	// its containerimage.digest: pushed images go last, so digest names what the registry
	// holds (an index with attestations) and not a load's manifest beside it.
	slices.SortStableFunc(out, func(a, b client.ExportEntry) int {
		return boolOrder(a.Attrs["push"] == "true", b.Attrs["push"] == "true")
	})
	return out
}

// boolOrder sorts false before true.
func boolOrder(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
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
