// Package runnerenv is the one description of the runner's environment: every variable the
// action reads from the runner (ACTIONS_*, GITHUB_*, RUNNER_*, Docker's), and the few
// WARMBUILD_* knobs that stay outside `with:`, read once by Read beside the inputs
// (inputs.Parse) and passed down as typed fields.
//
// What a container action is given is listed in actions/runner
// src/Runner.Worker/Handlers/ContainerActionHandler.cs: GITHUB_*, RUNNER_*, ACTIONS_RUNTIME_TOKEN,
// ACTIONS_CACHE_URL, ACTIONS_RESULTS_URL, ACTIONS_ID_TOKEN_REQUEST_*, ACTIONS_CACHE_MODE,
// with HOME=/github/home; not ACTIONS_CACHE_SERVICE_V2 (node actions only).
//
// Not here, on purpose:
//   - INPUT_* (pkg/inputs), and the process environment that inputs name: a build-args
//     `KEY` without a value and secret-envs read the variable the user named, so they keep
//     a getenv (inputs.Parse, builder.WithGetenv);
//   - the file-command paths and debug flags (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
//     RUNNER_DEBUG, ACTIONS_STEP_DEBUG), which pkg/report reads through go-githubactions,
//     a library that takes a getenv;
//   - GOMEMLIMIT (main.go, Go's runtime) and SSL_CERT_FILE (the helper's CA bundle, as Go
//     reads it).
package runnerenv

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// Knob names: configuration outside `with:`, each documented in README's "Environment"
// section with why it is not an input.
const (
	// EnvMountTransfer=stream moves mount caches through the BuildKit session from the start,
	// skipping the in-build download and its reachability probe (for builders known to have
	// no route to the cache storage). A property of the machine, not of the workflow.
	EnvMountTransfer = "WARMBUILD_MOUNT_TRANSFER"
	// EnvBuilderSecurity and EnvBuilderNetwork shape the builder container warmbuild creates
	// (see pkg/dockerbuilder): properties of the host's Docker, not of the build.
	EnvBuilderSecurity = "WARMBUILD_BUILDER_SECURITY"
	EnvBuilderNetwork  = "WARMBUILD_BUILDER_NETWORK"
	// EnvLayerAccel chooses how the gha layer cache moves (LayerAccel): a comparison or a way
	// out on a network where the builder cannot reach the action's accelerator.
	EnvLayerAccel = "WARMBUILD_LAYER_ACCEL"
)

// LayerAccel is EnvLayerAccel read once: what the layer cache accelerator (pkg/ghaaccel)
// does for the gha layer cache.
type LayerAccel int

const (
	// LayerAccelOn (unset, or any other value): parallel block uploads and ranged downloads
	// wherever the builder reaches the accelerator.
	LayerAccelOn LayerAccel = iota
	// LayerAccelUploads ("uploads"): parallel uploads; downloads stream as BuildKit asks.
	LayerAccelUploads
	// LayerAccelOff ("off"): BuildKit's own gha transfers.
	LayerAccelOff
)

func layerAccelFrom(v string) LayerAccel {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off":
		return LayerAccelOff
	case "uploads":
		return LayerAccelUploads
	}
	return LayerAccelOn
}

// EnvBuildChecksAnnotations switches the build-check annotations off, as it does for
// docker/build-push-action.
const EnvBuildChecksAnnotations = "DOCKER_BUILD_CHECKS_ANNOTATIONS"

// TransferStream is the EnvMountTransfer value that streams mount caches through the session.
const TransferStream = "stream"

// Env is the runner's environment as the action uses it. The zero value is "no runner":
// no cache service, no repository, no event.
type Env struct {
	// Cache says where the GitHub Actions cache service is (ACTIONS_RESULTS_URL,
	// ACTIONS_CACHE_URL, ACTIONS_RUNTIME_TOKEN, ACTIONS_CACHE_API_FORCE_VERSION,
	// ACTIONS_CACHE_SERVICE_V2, GITHUB_SERVER_URL, ACT). CacheService detects it.
	Cache cacheservice.Vars
	// CacheMode is ACTIONS_CACHE_MODE; CacheModeWarning is set when its value is unknown
	// (cachepolicy.AccessFromEnv says what that means).
	CacheMode        cachepolicy.Access
	CacheModeWarning string
	// IDTokenRequestToken is ACTIONS_ID_TOKEN_REQUEST_TOKEN: never used, only masked.
	IDTokenRequestToken string

	GitHub GitHub

	// RunnerTemp is RUNNER_TEMP (/github/runner_temp in a container action): scratch space
	// the runner empties after the job. Empty means the system's temporary directory.
	RunnerTemp string

	// DockerConfig and Home (DOCKER_CONFIG, HOME) say where registry logins are read, as
	// the docker CLI reads them; DockerHost (DOCKER_HOST) where the Docker daemon is.
	DockerConfig string
	Home         string
	DockerHost   string

	// MountTransfer is WARMBUILD_MOUNT_TRANSFER ("" or TransferStream).
	MountTransfer string
	// BuilderSecurity and BuilderNetwork are WARMBUILD_BUILDER_SECURITY and
	// WARMBUILD_BUILDER_NETWORK, checked by pkg/dockerbuilder when it creates a builder.
	BuilderSecurity string
	BuilderNetwork  string
	// LayerAccel is WARMBUILD_LAYER_ACCEL (issue 16).
	LayerAccel LayerAccel
	// Hostname is HOSTNAME, which Docker sets in a container to its short id: a
	// container action finds its own container (and networks) by it.
	Hostname string

	// checks (issue 14)
	// Workspace is GITHUB_WORKSPACE (/github/workspace in a container action): build-check
	// annotations name the Dockerfile relative to it. Empty: the working directory.
	Workspace string
	// NoBuildChecksAnnotations is DOCKER_BUILD_CHECKS_ANNOTATIONS=false, read as
	// docker/build-push-action reads it (src/main.ts buildChecksAnnotationsEnabled,
	// actions-toolkit src/util.ts Util.parseBool): unset means annotations on. A value
	// parseBool refuses keeps them on, with BuildChecksAnnotationsWarning saying so
	// (build-push-action fails the step there; a knob's typo should not fail a build).
	NoBuildChecksAnnotations      bool
	BuildChecksAnnotationsWarning string
	// NoDefaultAttestations is BUILDX_NO_DEFAULT_ATTESTATIONS (no default provenance) and
	// MetadataProvenance BUILDX_METADATA_PROVENANCE (buildx.build.provenance in metadata),
	// the variables build-push-action and buildx read.
	NoDefaultAttestations bool
	MetadataProvenance    string
	// gitctx (issue 14)
	// GitContext are the variables build-push-action's default Git context is made of.
	GitContext GitContextVars
}

// GitContextVars are what actions-toolkit's Build.gitContext (src/buildx/build.ts) reads
// besides GITHUB_SERVER_URL, GITHUB_REPOSITORY and GITHUB_REF.
type GitContextVars struct {
	SHA string // GITHUB_SHA: the commit the default context is pinned to
	// PRHeadRef is DOCKER_DEFAULT_GIT_CONTEXT_PR_HEAD_REF: a pull request builds its head
	// commit (refs/pull/N/head) instead of the merge commit.
	PRHeadRef bool
	// QueryAsInput is BUILDX_SEND_GIT_QUERY_AS_INPUT: the default context is written in the
	// query form (?ref=...) instead of the fragment form (#ref).
	QueryAsInput bool
}

// GitHub are the GITHUB_* variables the action reads.
type GitHub struct {
	EventName  string // GITHUB_EVENT_NAME
	EventPath  string // GITHUB_EVENT_PATH: the event payload (JSON)
	Ref        string // GITHUB_REF, e.g. refs/heads/main, refs/pull/12/merge
	RefName    string // GITHUB_REF_NAME
	RefType    string // GITHUB_REF_TYPE: branch or tag
	BaseRef    string // GITHUB_BASE_REF (pull requests)
	HeadRef    string // GITHUB_HEAD_REF (pull requests)
	Repository string // GITHUB_REPOSITORY, owner/name
	Actor      string // GITHUB_ACTOR: the user name sent to ghcr.io with github-token
	APIURL     string // GITHUB_API_URL: https://api.github.com, or https://HOST/api/v3 on GHES
	ServerURL  string // GITHUB_SERVER_URL (also in Cache, where it decides the protocol)
	// RunID and RunAttempt (GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT) make the provenance's
	// builder-id, the workflow run's URL.
	RunID, RunAttempt string
}

// Read reads the runner's environment through getenv (os.Getenv in production; under act
// after cacheservice.WithActToken, so Cache.Token is the stand-in there).
func Read(getenv func(string) string) Env {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	e := Env{
		Cache:               cacheservice.VarsFromEnv(getenv),
		IDTokenRequestToken: getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
		GitHub: GitHub{
			EventName:  getenv("GITHUB_EVENT_NAME"),
			EventPath:  getenv("GITHUB_EVENT_PATH"),
			Ref:        getenv("GITHUB_REF"),
			RefName:    getenv("GITHUB_REF_NAME"),
			RefType:    getenv("GITHUB_REF_TYPE"),
			BaseRef:    getenv("GITHUB_BASE_REF"),
			HeadRef:    getenv("GITHUB_HEAD_REF"),
			Repository: getenv("GITHUB_REPOSITORY"),
			Actor:      getenv("GITHUB_ACTOR"),
			APIURL:     getenv("GITHUB_API_URL"),
			ServerURL:  getenv("GITHUB_SERVER_URL"),
			RunID:      getenv("GITHUB_RUN_ID"),
			RunAttempt: getenv("GITHUB_RUN_ATTEMPT"),
		},
		RunnerTemp:      getenv("RUNNER_TEMP"),
		DockerConfig:    getenv("DOCKER_CONFIG"),
		Home:            getenv("HOME"),
		DockerHost:      getenv("DOCKER_HOST"),
		MountTransfer:   getenv(EnvMountTransfer),
		BuilderSecurity: getenv(EnvBuilderSecurity),
		BuilderNetwork:  getenv(EnvBuilderNetwork),
		LayerAccel:      layerAccelFrom(getenv(EnvLayerAccel)),
		GitContext: GitContextVars{
			// Read as actions-toolkit reads them (src/buildx/build.ts gitContext:
			// Util.parseBoolOrDefault, false for anything it cannot read).
			SHA:          getenv("GITHUB_SHA"),
			PRHeadRef:    toolkitBoolOrFalse(getenv("DOCKER_DEFAULT_GIT_CONTEXT_PR_HEAD_REF")),
			QueryAsInput: toolkitBoolOrFalse(getenv("BUILDX_SEND_GIT_QUERY_AS_INPUT")),
		},
	}
	e.CacheMode, e.CacheModeWarning = cachepolicy.AccessFromEnv(getenv)
	e.Workspace = getenv("GITHUB_WORKSPACE")
	e.Hostname = getenv("HOSTNAME")
	on, warning := parseToolkitBool(EnvBuildChecksAnnotations, getenv(EnvBuildChecksAnnotations), true)
	e.NoBuildChecksAnnotations, e.BuildChecksAnnotationsWarning = !on, warning
	e.NoDefaultAttestations, _ = strconv.ParseBool(getenv("BUILDX_NO_DEFAULT_ATTESTATIONS"))
	e.MetadataProvenance = getenv("BUILDX_METADATA_PROVENANCE")
	return e
}

// CacheService is the run's one cache service detection (cacheservice.Vars.Detect): the
// layer cache's gha entries and the mount caches both use its answer.
func (e Env) CacheService() (cacheservice.Service, error) { return e.Cache.Detect() }

// Secrets are the runner's tokens, to mask before anything is printed.
func (e Env) Secrets() []string {
	var s []string
	for _, v := range []string{e.Cache.Token, e.IDTokenRequestToken} {
		if v != "" {
			s = append(s, v)
		}
	}
	return s
}

// StreamMounts tells whether WARMBUILD_MOUNT_TRANSFER asks to stream mount caches through
// the session from the start.
func (e Env) StreamMounts() bool { return e.MountTransfer == TransferStream }

// PolicyInput is the GITHUB_* part and the cache mode of a cachepolicy.Input; the caller
// adds the event payload (cachepolicy.Input.WithPayload) and the inputs.
func (e Env) PolicyInput() cachepolicy.Input {
	return cachepolicy.Input{
		EventName:     e.GitHub.EventName,
		Ref:           e.GitHub.Ref,
		RefName:       e.GitHub.RefName,
		RefType:       e.GitHub.RefType,
		BaseRef:       e.GitHub.BaseRef,
		HeadRef:       e.GitHub.HeadRef,
		Repository:    e.GitHub.Repository,
		Access:        e.CacheMode,
		AccessWarning: e.CacheModeWarning,
	}
}

// DockerConfigDir is where registry credentials are read, as the docker CLI reads them:
// DOCKER_CONFIG, else $HOME/.docker, else "" (none).
func (e Env) DockerConfigDir() string {
	if e.DockerConfig != "" {
		return e.DockerConfig
	}
	if e.Home != "" {
		return filepath.Join(e.Home, ".docker")
	}
	return ""
}

// parseToolkitBool reads a boolean as actions-toolkit's Util.parseBool does (src/util.ts:
// 1, t, T, true, TRUE, True and their false counterparts); "" is def, anything else def
// with a warning naming the variable.
func parseToolkitBool(name, v string, def bool) (bool, string) {
	switch v {
	case "":
		return def, ""
	case "1", "t", "T", "true", "TRUE", "True":
		return true, ""
	case "0", "f", "F", "false", "FALSE", "False":
		return false, ""
	}
	return def, fmt.Sprintf("%s=%q is not a boolean (true or false); keeping the default, %t", name, v, def)
}

// toolkitBoolOrFalse is actions-toolkit's Util.parseBoolOrDefault(v): parseBool, or false
// (silently) for anything else.
func toolkitBoolOrFalse(v string) bool {
	b, _ := parseToolkitBool("", v, false)
	return b
}
