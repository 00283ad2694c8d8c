package builder

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/secrets"
	"github.com/moby/buildkit/session/secrets/secretsprovider"
	"github.com/moby/buildkit/util/progress/progressui"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"
)

// Request is one Dockerfile build, already resolved from the user's inputs.
type Request struct {
	ContextDir    string
	Dockerfile    string // path to the Dockerfile
	Target        string
	BuildArgs     map[string]string
	Labels        map[string]string
	BuildContexts map[string]string // name -> local dir, or a value the frontend understands (docker-image://, https://)
	Platforms     []string
	NoCache       bool
	Pull          bool
	Secrets       []Secret
	Exports       []client.ExportEntry
	CacheImports  []client.CacheOptionsEntry
	CacheExports  []client.CacheOptionsEntry
	// DockerConfigDir holds config.json with registry credentials (DOCKER_CONFIG or ~/.docker).
	DockerConfigDir string
	// Auth, when set, is used instead of reading DockerConfigDir (see LoadRegistryAuth).
	Auth *RegistryAuth

	// checks (issue 14)
	// Call is the request the Dockerfile frontend answers instead of a build, as buildx's
	// --call sends it (lint, outline, targets; see call.go); empty builds. A call exports
	// nothing: its answer is Result.Call.
	Call string
	// flags (issue 14)
	// FlagAttrs are frontend attributes of buildx build flags (force-network-mode,
	// add-hosts, shm-size, ulimit, cgroup-parent, no-cache with stages); Entitlements the
	// solve asks BuildKit to grant; SSH the agents and keys forwarded (flags.go).
	FlagAttrs    map[string]string
	Entitlements []string
	SSH          []SSH
	// attest (issue 14)
	// Attests are the attest:<type> frontend attrs (inputs.Attestations.FrontendAttrs).
	Attests map[string]string
	// Record, when set, gives each solve of the build a new ref (buildx: identity.NewID())
	// and keeps the last, for the metadata's buildx.build.ref (after BuildRefPrefix,
	// <builder>/<node>) and buildx.build.provenance.
	Record         *BuildRecord
	BuildRefPrefix string
	// MetadataProvenance is BUILDX_METADATA_PROVENANCE (empty: min).
	MetadataProvenance MetadataProvenance
	// gitctx (issue 14)
	// GitContext is a Git URL BuildKit fetches as the build context (ContextDir is unused
	// then); Dockerfile is the Dockerfile's path in it, or an absolute path of a local file.
	GitContext string
}

// Secret is a build secret handed to BuildKit through the session, never as a build arg.
type Secret struct {
	ID    string
	Value []byte // inline value
	File  string // or a file
	Env   string // or an environment variable
}

// Result is what a finished build reports.
type Result struct {
	ExporterResponse map[string]string
	Digest           string         // manifest (or index) digest, when an image was exported
	ImageID          string         // config digest
	Metadata         map[string]any // build-push-action's metadata output
	Steps            StepStats
	Duration         time.Duration
	// Warnings are BuildKit's build warnings (the Dockerfile's build checks among them),
	// as the progress display returns them: typed, with the Dockerfile's source and range.
	Warnings []client.VertexWarning
	// Call is the frontend's answer to Request.Call (result.json, result.txt,
	// result.statuscode, version), also merged into ExporterResponse as buildx does.
	Call map[string]string
	// Retried is why the export ran a second time (a push race, see Solve), if it did.
	Retried  string
	recorder *stepRecorder
}

// Logs returns the output of the build's vertices whose name satisfies match.
func (r *Result) Logs(match func(name string) bool) string {
	if r == nil || r.recorder == nil {
		return ""
	}
	return r.recorder.logsOf(match)
}

// SolveOption adjusts a solve.
type SolveOption func(*solveConfig)

type solveConfig struct {
	progress      io.Writer
	getenv        func(string) string
	extra         []session.Attachable
	onExportStart func()
	onStepsDone   func(StepStats)
	holdContext   func(context.Context) error
}

// WithProgress prints BuildKit's plain progress to w.
func WithProgress(w io.Writer) SolveOption { return func(c *solveConfig) { c.progress = w } }

// WithGetenv sets where secret-envs are read from (os.Getenv by default).
func WithGetenv(getenv func(string) string) SolveOption {
	return func(c *solveConfig) { c.getenv = getenv }
}

// WithExportStart calls f once, when BuildKit starts exporting (the image, a local or
// tar output, or the layer cache). Every build step has finished by then, so a cache
// mount's content is final while the exports still run. f must not block. A build
// without exports never calls it.
func WithExportStart(f func()) SolveOption {
	return func(c *solveConfig) { c.onExportStart = f }
}

// WithStepsDone calls f once, when BuildKit starts exporting, with the statistics of
// the steps so far: every step has run by then, so what a step is (its name, stage and
// digest) is final, while whether the exports succeed is not yet known. f must not
// block. A build without exports never calls it.
func WithStepsDone(f func(StepStats)) SolveOption {
	return func(c *solveConfig) { c.onStepsDone = f }
}

// WithContextHeld holds the transfer of the build context until wait returns: the
// Dockerfile frontend meanwhile converts the Dockerfile, resolves the base images, reads
// the layer cache's manifest and runs every step that does not read the context, while a
// step that does (and every step after it) waits. The mount caches' injection uses it to
// let the build start beside it. A Git context (Request.GitContext) is not held.
func WithContextHeld(wait func(context.Context) error) SolveOption {
	return func(c *solveConfig) { c.holdContext = wait }
}

// Solve runs the build. A failed build returns a *BuildError carrying the Dockerfile
// location of the failing instruction, and the partial Result (step statistics) with it;
// a registry refusing a push or pull for its credentials is a *RegistryAuthError.
//
// A push that fails the way concurrent pushes of one layer to one repository can fail
// (the image and a registry layer cache both upload the base layer; see pushRace) is
// exported once more: every step is cached in the builder by then, so the second solve
// only exports. Result.Retried says why; the statistics stay those of the first solve.
func Solve(ctx context.Context, c *client.Client, req Request, opts ...SolveOption) (*Result, error) {
	cfg := solveConfig{progress: io.Discard, getenv: os.Getenv}
	for _, o := range opts {
		o(&cfg)
	}
	start := time.Now()
	res, resp, err := solveOnce(ctx, c, req, cfg)
	if reason := pushRace(err); reason != "" && ctx.Err() == nil {
		res.Retried = reason
		fmt.Fprintf(cfg.progress, "\nThe push failed (%s), as concurrent pushes of one layer to one repository sometimes do; every step is cached, exporting once more.\n\n", reason)
		cfg.onExportStart, cfg.onStepsDone = nil, nil // fired already: the steps were final then
		var again *Result
		again, resp, err = solveOnce(ctx, c, req, cfg)
		res.Steps.CacheExportErrors = again.Steps.CacheExportErrors
		res.Warnings = appendNewWarnings(res.Warnings, again.Warnings)
		if err != nil {
			res.recorder = again.recorder // the error is the second solve's
		}
	}
	res.Duration = time.Since(start)
	if err != nil {
		be := newBuildError(err, req.Dockerfile, res.recorder)
		if ae := asRegistryAuthError(be, req.Auth); ae != nil {
			return res, ae
		}
		return res, be
	}
	res.ExporterResponse = resp.ExporterResponse
	res.Digest = resp.ExporterResponse["containerimage.digest"]
	res.ImageID = resp.ExporterResponse["containerimage.config.digest"]
	res.Metadata = decodeExporterResponse(resp.ExporterResponse)
	addWarningsMetadata(req, res)
	buildxResult(ctx, c, req, res, cfg.progress)
	return res, nil
}

// solveOnce is one BuildKit solve with its progress printed and recorded.
func solveOnce(ctx context.Context, c *client.Client, req Request, cfg solveConfig) (*Result, *client.SolveResponse, error) {
	rec := newStepRecorder()
	res := &Result{recorder: rec}
	so, err := solveOpt(req, cfg)
	if err != nil {
		return res, nil, err
	}
	if cfg.holdContext != nil && req.GitContext == "" {
		so.LocalFilterOpt = holdContext(ctx, cfg.holdContext)
	}
	display, err := progressui.NewDisplay(cfg.progress, progressui.PlainMode)
	if err != nil {
		return res, nil, fmt.Errorf("progress display: %w", err)
	}

	statusCh := make(chan *client.SolveStatus)
	displayCh := make(chan *client.SolveStatus)
	eg, egCtx := errgroup.WithContext(ctx)
	var resp *client.SolveResponse
	eg.Go(func() error {
		var err error
		resp, res.Call, err = solveOrCall(egCtx, c, req.Call, so, statusCh)
		return err
	})
	eg.Go(func() error {
		// Tee the status stream: one copy is printed, one feeds the step statistics.
		defer close(displayCh)
		exporting := false
		for s := range statusCh {
			rec.record(s)
			if !exporting && (cfg.onExportStart != nil || cfg.onStepsDone != nil) && startsExport(s) {
				exporting = true
				if cfg.onExportStart != nil {
					cfg.onExportStart()
				}
				if cfg.onStepsDone != nil {
					cfg.onStepsDone(rec.stats())
				}
			}
			displayCh <- s
		}
		return nil
	})
	eg.Go(func() error {
		warnings, err := display.UpdateFrom(context.WithoutCancel(egCtx), displayCh)
		res.Warnings = append(res.Warnings, warnings...)
		return err
	})
	err = eg.Wait()
	res.Steps = rec.stats()
	return res, resp, err
}

// pushRace names the failure when err is an image push that failed as concurrent
// uploads of one blob to one repository can make it fail, and is empty otherwise. Seen
// with BuildKit v0.34 against distribution 2.8 when the image and a registry layer cache
// in the same repository both uploaded the base layer: the manifest was refused because
// a layer it names was not (yet) in the repository ("blob unknown to registry"), or an
// upload's content did not match its digest. Pushing again finds the blobs there.
func pushRace(err error) string {
	if err == nil {
		return ""
	}
	msg := strings.ToLower(err.Error())
	if !strings.Contains(msg, "failed to push") {
		return ""
	}
	for _, sign := range []string{
		"blob unknown to registry",
		"provided digest did not match uploaded content",
		"unexpected commit digest",
		"blob upload invalid",
		"blob upload unknown",
	} {
		if strings.Contains(msg, sign) {
			return sign
		}
	}
	return ""
}

func solveOpt(req Request, cfg solveConfig) (*client.SolveOpt, error) {
	so := &client.SolveOpt{
		Frontend:      "dockerfile.v0",
		FrontendAttrs: map[string]string{"filename": filepath.Base(req.Dockerfile)},
		LocalMounts:   map[string]fsutil.FS{},
		Exports:       req.Exports,
		CacheImports:  req.CacheImports,
		CacheExports:  req.CacheExports,
	}
	if req.GitContext == "" { // a Git context is fetched by BuildKit (applyGitContext)
		dockerfileDir := filepath.Dir(req.Dockerfile)
		contextFS, err := fsutil.NewFS(req.ContextDir)
		if err != nil {
			return nil, fmt.Errorf("build context %s: %w", req.ContextDir, err)
		}
		dockerfileFS, err := fsutil.NewFS(dockerfileDir)
		if err != nil {
			return nil, fmt.Errorf("dockerfile directory %s: %w", dockerfileDir, err)
		}
		so.LocalMounts["context"], so.LocalMounts["dockerfile"] = contextFS, dockerfileFS
	}
	attrs := so.FrontendAttrs
	if req.Target != "" {
		attrs["target"] = req.Target
	}
	for k, v := range req.BuildArgs {
		attrs["build-arg:"+k] = v
	}
	for k, v := range req.Labels {
		attrs["label:"+k] = v
	}
	if len(req.Platforms) > 0 {
		attrs["platform"] = strings.Join(req.Platforms, ",")
	}
	if req.NoCache {
		attrs["no-cache"] = ""
	}
	if req.Pull {
		attrs["image-resolve-mode"] = "pull"
	}
	for name, v := range req.BuildContexts {
		if isFrontendContext(v) {
			attrs["context:"+name] = v
			continue
		}
		// A local directory travels through the session like the main context.
		fs, err := fsutil.NewFS(v)
		if err != nil {
			return nil, fmt.Errorf("build context %q (%s): %w", name, v, err)
		}
		local := "ctx-" + name
		so.LocalMounts[local] = fs
		attrs["context:"+name] = "local:" + local
	}

	auth := req.Auth
	if auth == nil {
		var err error
		if auth, err = LoadRegistryAuth(req.DockerConfigDir); err != nil {
			return nil, err
		}
	}
	so.Session = append(so.Session, auth.attachable())
	if len(req.Secrets) > 0 {
		so.Session = append(so.Session, secretsprovider.NewSecretProvider(secretStore{secrets: req.Secrets, getenv: cfg.getenv}))
	}
	so.Session = append(so.Session, cfg.extra...)
	for i, e := range so.Exports {
		if e.Type == client.ExporterLocal && e.OutputDir == "" {
			so.Exports[i].OutputDir = e.Attrs["dest"]
		}
	}
	if err := applyFlags(req, so); err != nil {
		return nil, err
	}
	applyAttest(req, so)
	if err := applyGitContext(req, so); err != nil {
		return nil, err
	}
	return so, nil
}

func isFrontendContext(v string) bool {
	for _, p := range []string{"docker-image://", "oci-layout://", "https://", "http://", "git://", "git@", "target:", "input:"} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// secretStore serves build secrets from memory, files or the environment. Values are read
// when BuildKit asks for them, and only then.
type secretStore struct {
	secrets []Secret
	getenv  func(string) string
}

func (s secretStore) GetSecret(ctx context.Context, id string) ([]byte, error) {
	for _, sec := range s.secrets {
		if sec.ID != id {
			continue
		}
		switch {
		case sec.File != "":
			return os.ReadFile(sec.File)
		case sec.Env != "":
			return []byte(s.getenv(sec.Env)), nil
		default:
			return sec.Value, nil
		}
	}
	// Not found, in BuildKit's terms: an optional secret (a Git context's GIT_AUTH_TOKEN,
	// a RUN --mount=type=secret without required=true) is then skipped, not an error.
	return nil, fmt.Errorf("secret %q was not given to warmbuild (add it to secrets, secret-files or secret-envs): %w", id, secrets.ErrNotFound)
}

// decodeExporterResponse turns BuildKit's exporter response into the metadata JSON that
// docker buildx (and so build-push-action) writes: base64-encoded JSON values are decoded,
// everything else is kept as a string.
func decodeExporterResponse(resp map[string]string) map[string]any {
	out := make(map[string]any, len(resp))
	keys := make([]string, 0, len(resp))
	for k := range resp {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := resp[k]
		dt, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			out[k] = v
			continue
		}
		var obj any
		if err := json.Unmarshal(dt, &obj); err != nil {
			out[k] = v
			continue
		}
		switch o := obj.(type) {
		case map[string]any:
			if len(o) == 0 {
				out[k] = v
				continue
			}
		case []any:
			if len(o) == 0 {
				out[k] = v
				continue
			}
		default:
			out[k] = v
			continue
		}
		out[k] = json.RawMessage(dt)
	}
	return out
}

// WithSession adds session attachables (e.g. a local directory a helper build reads).
func WithSession(a ...session.Attachable) SolveOption {
	return func(c *solveConfig) { c.extra = append(c.extra, a...) }
}
