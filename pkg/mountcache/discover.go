// Package mountcache finds the `RUN --mount=type=cache` directories of a Dockerfile,
// decides which of them to carry across CI runs, and names their cache entries.
//
// Discovery uses BuildKit's own Dockerfile parser and mount-flag parser (v0.34), with
// variables expanded the way the Dockerfile frontend expands them, so the ids and
// targets found here are the ones BuildKit uses when it runs the build.
package mountcache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// CacheNamespaceArg is the build argument BuildKit prefixes every cache mount id with.
const CacheNamespaceArg = "BUILDKIT_CACHE_MOUNT_NS"

// Options are the build settings that change what a Dockerfile's mounts resolve to.
type Options struct {
	BuildArgs map[string]string `json:"buildArgs,omitempty"` // --build-arg values, as given to the build
	Target    string            `json:"target,omitempty"`    // target stage; empty: the last stage
	// Platform is the target platform ("linux/arm64"); empty: the platform this
	// process runs on. It feeds TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT.
	Platform string `json:"platform,omitempty"`
	// BuildPlatform feeds BUILDPLATFORM and friends; empty: the platform this process
	// runs on.
	BuildPlatform string `json:"buildPlatform,omitempty"`
}

// Mount is one `--mount=type=cache` of one RUN instruction, after variable expansion.
type Mount struct {
	Stage      string `json:"stage"`      // stage name (lower-cased, as BuildKit does); "" when unnamed
	StageIndex int    `json:"stageIndex"` // 0-based position of the stage's FROM
	// Reachable says whether the stage is built for the requested target. Mounts of other
	// stages are listed but never selected: BuildKit does not run them.
	Reachable bool `json:"reachable"`
	Line      int  `json:"line"`  // 1-based line of the RUN instruction
	Index     int  `json:"index"` // position of this mount among the RUN's --mount flags

	// ID is the id the user sees: id= when given, otherwise the cleaned target, which
	// is what BuildKit falls back to.
	ID         string `json:"id"`
	ExplicitID bool   `json:"explicitId,omitempty"` // id= was given
	// CacheID is the id of the cache directory inside BuildKit (the LLB id):
	// BUILDKIT_CACHE_MOUNT_NS + "/" + ID. Mounts with the same CacheID share a
	// directory unless their uid, gid, mode or from differ.
	CacheID string `json:"cacheId"`

	Target   string    `json:"target"` // target= as written, after expansion
	Path     string    `json:"path"`   // absolute path inside the RUN's container (relative targets join WORKDIR)
	Sharing  string    `json:"sharing"`
	UID      *uint64   `json:"uid,omitempty"`
	GID      *uint64   `json:"gid,omitempty"`
	Mode     *FileMode `json:"mode,omitempty"`
	From     string    `json:"from,omitempty"`   // stage or image the cache is seeded from
	Source   string    `json:"source,omitempty"` // subpath of From
	ReadOnly bool      `json:"readOnly,omitempty"`

	// BaseImage is the image the mount's stage starts from, following FROM <stage>
	// chains, as the frontend will resolve it ("" for scratch, a stage-specific
	// --platform, or a name that does not expand).
	BaseImage string `json:"baseImage,omitempty"`

	Command string `json:"command"` // the RUN's command, with heredoc bodies appended
	User    string `json:"user"`    // USER in effect; "" means the base image's user (usually root)
	Workdir string `json:"workdir"` // WORKDIR in effect

	// Python says why this mount looks like a Python package cache (pip, uv, ...);
	// empty when it does not. mount-caches: auto selects the mounts where it is set.
	Python string `json:"python,omitempty"`
	// Reason says why this mount looks like the cache of another ecosystem of the table
	// (npm, go); empty for Python caches and mounts of no known ecosystem. mount-caches:
	// auto selects those mounts too, unless the ecosystem is Manual (go).
	Reason string `json:"reason,omitempty"`
	// Ecosystem names the package manager whose cache the mount holds ("pip", "uv",
	// "npm", ...; see Ecosystems), "" when none is known. It is what Python or Reason
	// explain; left out of the JSON, which names it in those texts.
	Ecosystem string `json:"-"`
	// Unresolved lists variables the mount's flag uses that neither the Dockerfile nor
	// the build arguments define. They may come from the base image's ENV, which
	// discovery cannot see, so the mount's values are not known: it is not carried
	// (CarryProblem), and discovery of the other mounts goes on.
	Unresolved []string `json:"unresolved,omitempty"`

	// StepDigest digests what decides the RUN's layer as the Dockerfile writes it: its
	// command (package arguments, constraint and index options included), the ENV and
	// ARG values in scope, and every instruction before it in its stage's FROM chain and
	// in the stages it copies or mounts from. The cache key hashes it (HashSteps).
	StepDigest string `json:"stepDigest"`
	// ContextFiles are the build-context paths (relative, "." for all of it) those
	// instructions read: COPY and ADD sources, bind mounts. The key hashes their content.
	ContextFiles []string `json:"contextFiles,omitempty"`
	// Opaque lists inputs of the RUN's layer no key can hash ("line 3: ADD https://...
	// fetches content from elsewhere"): an exact hit then proves nothing about the layer
	// cache.
	Opaque []string `json:"opaque,omitempty"`
}

// CarryProblem says why discovery cannot tell which BuildKit directory the mount uses,
// or "" when it can: the mount's flag uses variables it cannot resolve.
func (m Mount) CarryProblem() string {
	if len(m.Unresolved) == 0 {
		return ""
	}
	vars, them := "$"+strings.Join(m.Unresolved, ", $"), "them"
	if len(m.Unresolved) == 1 {
		them = "it"
	}
	return fmt.Sprintf("its --mount flag uses %s, which neither the Dockerfile nor the build args set (BuildKit may take %s from the base image's ENV, which warmbuild cannot read), so the directory it names is not known", vars, them)
}

// FileMode is a mount's mode= value; it is written in octal in JSON ("0755").
type FileMode uint32

func (m FileMode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

func (m FileMode) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

func (m *FileMode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return fmt.Errorf("mode %q: %w", s, err)
	}
	*m = FileMode(v)
	return nil
}

// Discover lists every cache mount of every stage of dockerfile, in file order.
//
// Variables in mount flags are expanded as BuildKit does: with the stage's ARGs
// (build-arg value, else default, else the global ARG of the same name when redeclared
// without a default) and its ENV, inherited from a parent stage (FROM <stage>). Global
// ARGs are not visible in a stage unless redeclared there. What the base image's
// config sets (ENV, USER, WORKDIR) is unknown here: see Mount.Unresolved.
//
// An error means the Dockerfile does not parse, the target stage does not exist, or a
// mount of a stage that the target builds is invalid: BuildKit would fail the build too.
// Problems in stages the target does not build are ignored, as BuildKit ignores them.
func Discover(dockerfile []byte, opts Options) ([]Mount, error) {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	// A linter without a Warn function reports nothing; it is passed because the
	// parser dereferences it when a comment holds a check= directive.
	stages, metaArgs, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	if len(stages) == 0 {
		return nil, errors.New("parse Dockerfile: no FROM instruction")
	}
	d := &discovery{lex: shell.NewLex(res.EscapeToken), opts: opts, runNodes: map[int]*parser.Node{}, parsed: map[instructions.Command][]*instructions.Mount{}}
	for _, n := range res.AST.Children {
		if strings.EqualFold(n.Value, "run") {
			d.runNodes[n.StartLine] = n
		}
	}
	if err := d.globals(metaArgs, stages); err != nil {
		return nil, err
	}
	if err := d.link(stages); err != nil {
		return nil, err
	}
	var mounts []Mount
	for i := range d.stages {
		ms, err := d.walkStage(i)
		if err != nil {
			return nil, err
		}
		mounts = append(mounts, ms...)
	}
	return mounts, nil
}

type discovery struct {
	lex    *shell.Lex
	opts   Options
	global *env // build-platform args and global ARGs
	stages []*stageState
	// runNodes are the parsed RUN instructions by first line, whose raw --mount flags
	// are read one at a time when a RUN's mounts use variables discovery cannot resolve.
	runNodes map[int]*parser.Node
	parsed   map[instructions.Command][]*instructions.Mount // each RUN's mounts, as parseMounts found them
}

type stageState struct {
	stage     instructions.Stage
	index     int
	base      *stageState // FROM <earlier stage>
	deps      []*stageState
	reachable bool
	// Scope at the end of the stage, inherited by stages built FROM it.
	env     *env
	user    string
	workdir string
	inputs  stepInputs // what the stage's content depends on
}

// globals builds the global scope: automatic platform args, then the ARGs before the
// first FROM (build-arg values win over defaults, defaults see earlier globals).
func (d *discovery) globals(metaArgs []instructions.ArgCommand, stages []instructions.Stage) error {
	target, err := parsePlatform(d.opts.Platform)
	if err != nil {
		return fmt.Errorf("platform %q: %w", d.opts.Platform, err)
	}
	build, err := parsePlatform(d.opts.BuildPlatform)
	if err != nil {
		return fmt.Errorf("build platform %q: %w", d.opts.BuildPlatform, err)
	}
	stageName := d.opts.Target
	if stageName == "" {
		stageName = stages[len(stages)-1].Name
	}
	if stageName == "" {
		stageName = "default"
	}
	g := &env{}
	for _, kv := range [][2]string{
		{"BUILDPLATFORM", platforms.Format(build)},
		{"BUILDOS", build.OS},
		{"BUILDOSVERSION", build.OSVersion},
		{"BUILDARCH", build.Architecture},
		{"BUILDVARIANT", build.Variant},
		{"TARGETPLATFORM", platforms.FormatAll(target)},
		{"TARGETOS", target.OS},
		{"TARGETOSVERSION", target.OSVersion},
		{"TARGETARCH", target.Architecture},
		{"TARGETVARIANT", target.Variant},
		{"TARGETSTAGE", stageName},
	} {
		v := kv[1]
		if ov, ok := d.opts.BuildArgs[kv[0]]; ok {
			v = ov
		}
		g.set(kv[0], v)
	}
	for _, cmd := range metaArgs {
		for _, kp := range cmd.Args {
			if v, ok := d.opts.BuildArgs[kp.Key]; ok {
				g.set(kp.Key, v)
				continue
			}
			if kp.Value == nil {
				continue
			}
			v, _, err := d.lex.ProcessWord(*kp.Value, g)
			if err != nil {
				return fmt.Errorf("line %d: ARG %s: %w", line(cmd.Location()), kp.Key, err)
			}
			g.set(kp.Key, v)
		}
	}
	d.global = g
	return nil
}

func parsePlatform(s string) (p platforms.Platform, err error) {
	if s == "" {
		return platforms.Normalize(platforms.DefaultSpec()), nil
	}
	p, err = platforms.Parse(s)
	if err != nil {
		return p, err
	}
	return platforms.Normalize(p), nil
}

// link resolves each stage's parent stage and dependencies and marks what the target
// needs, as BuildKit's dispatcher does: FROM <stage>, COPY --from, RUN --mount from=.
func (d *discovery) link(stages []instructions.Stage) error {
	byName := map[string]*stageState{}
	for i, st := range stages {
		s := &stageState{stage: st, index: i}
		if base, _, err := d.lex.ProcessWord(st.BaseName, d.global); err == nil {
			// BuildKit looks the expanded name up as is; stage names are stored lower-cased.
			s.base = byName[base]
		}
		if s.base != nil {
			s.deps = append(s.deps, s.base)
		}
		d.stages = append(d.stages, s)
		if st.Name != "" {
			byName[strings.ToLower(st.Name)] = s
		}
	}
	for _, s := range d.stages {
		for _, cmd := range s.stage.Commands {
			for _, from := range commandSources(cmd) {
				if n, err := strconv.Atoi(from); err == nil {
					if n >= 0 && n < len(d.stages) {
						s.deps = append(s.deps, d.stages[n])
					}
					continue
				}
				if dep, ok := byName[strings.ToLower(from)]; ok {
					s.deps = append(s.deps, dep)
				}
			}
		}
	}
	var target *stageState
	if d.opts.Target == "" {
		target = d.stages[len(d.stages)-1]
	} else if target = byName[strings.ToLower(d.opts.Target)]; target == nil {
		return fmt.Errorf("target stage %q not found in the Dockerfile", d.opts.Target)
	}
	markReachable(target)
	return nil
}

// baseImage is the image at the root of s's FROM chain, expanded with the global ARGs.
func (d *discovery) baseImage(s *stageState) string {
	for s.base != nil {
		s = s.base
	}
	if s.stage.Platform != "" {
		return ""
	}
	name, _, err := d.lex.ProcessWord(s.stage.BaseName, d.global)
	if err != nil || name == "" || strings.EqualFold(name, "scratch") {
		return ""
	}
	return name
}

func markReachable(s *stageState) {
	if s.reachable {
		return
	}
	s.reachable = true
	for _, dep := range s.deps {
		markReachable(dep)
	}
}

// commandSources lists the stages (by name or index) a command reads from. Neither
// COPY --from nor RUN --mount from= expands variables in BuildKit, so BuildKit's parser
// fills both in before expansion.
func commandSources(cmd instructions.Command) []string {
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		if c.From != "" {
			return []string{c.From}
		}
	case *instructions.RunCommand:
		var out []string
		for _, m := range instructions.GetMounts(c) {
			if m.From != "" {
				out = append(out, m.From)
			}
		}
		return out
	}
	return nil
}

// walkStage replays a stage's scope (ARG, ENV, USER, WORKDIR) in order and collects
// its cache mounts. A stage built FROM another starts from that stage's final scope.
// In a stage the target does not build, an instruction that fails to expand is
// skipped, since BuildKit never evaluates it.
func (d *discovery) walkStage(i int) ([]Mount, error) {
	s := d.stages[i]
	sc := scope{env: &env{}, workdir: "/", lex: d.lex}
	if s.base != nil {
		// Stages can only build FROM earlier stages, which were walked already.
		sc = scope{env: s.base.env.clone(), user: s.base.user, workdir: s.base.workdir, lex: d.lex, inputs: s.base.inputs.clone()}
	} else {
		from, _, _ := d.lex.ProcessWord(s.stage.BaseName, d.global)
		sc.inputs.texts = append(sc.inputs.texts, "FROM "+from+" --platform="+s.stage.Platform)
	}
	defer func() { s.env, s.user, s.workdir, s.inputs = sc.env, sc.user, sc.workdir, sc.inputs }()
	var mounts []Mount
	for _, cmd := range s.stage.Commands {
		ms, err := d.replay(s, cmd, &sc)
		if err != nil {
			if s.reachable {
				return nil, fmt.Errorf("line %d: %w", line(cmd.Location()), err)
			}
			continue
		}
		mounts = append(mounts, ms...)
		sc.inputs.record(cmd, &sc, d.stageOf(i), d.parsed[cmd])
	}
	return mounts, nil
}

func (d *discovery) replay(s *stageState, cmd instructions.Command, sc *scope) ([]Mount, error) {
	switch c := cmd.(type) {
	case *instructions.ArgCommand:
		for _, kp := range c.Args {
			v, ok, err := d.argValue(kp, sc.env)
			if err != nil {
				return nil, err
			}
			if ok {
				sc.env.set(kp.Key, v)
			}
		}
	case *instructions.EnvCommand:
		// All pairs expand against the scope before the instruction, as in BuildKit.
		if err := c.Expand(sc.expander(nil)); err != nil {
			return nil, err
		}
		for _, kv := range c.Env {
			sc.env.set(kv.Key, kv.Value)
		}
	case *instructions.UserCommand:
		if err := c.Expand(sc.expander(nil)); err != nil {
			return nil, err
		}
		sc.user = c.User
	case *instructions.WorkdirCommand:
		if err := c.Expand(sc.expander(nil)); err != nil {
			return nil, err
		}
		sc.workdir = joinWorkdir(sc.workdir, c.Path)
	case *instructions.RunCommand:
		return d.runMounts(s, c, *sc)
	}
	return nil, nil
}

// argValue resolves a stage ARG as BuildKit's dispatchArg does: a build-arg value wins,
// then the default (expanded in the stage scope), then a global ARG of the same name
// when declared without a default.
func (d *discovery) argValue(kp instructions.KeyValuePairOptional, e *env) (string, bool, error) {
	if v, ok := d.opts.BuildArgs[kp.Key]; ok {
		return v, true, nil
	}
	if kp.Value != nil {
		v, _, err := d.lex.ProcessWord(*kp.Value, e)
		return v, err == nil, err
	}
	v, ok := d.global.Get(kp.Key)
	return v, ok, nil
}

type scope struct {
	env     *env
	user    string
	workdir string
	lex     *shell.Lex
	inputs  stepInputs // of the instructions replayed so far
}

// stageOf finds the stage before stage i that a --from names, as BuildKit does: a
// stage name (case-insensitive) or an index; nil means an image.
func (d *discovery) stageOf(i int) func(string) *stageState {
	return func(from string) *stageState {
		if n, err := strconv.Atoi(from); err == nil {
			if n >= 0 && n < i {
				return d.stages[n]
			}
			return nil
		}
		for _, s := range d.stages[:i] {
			if s.stage.Name != "" && strings.EqualFold(s.stage.Name, from) {
				return s
			}
		}
		return nil
	}
}

// placeholderExpander expands with the scope, and a variable the scope does not
// define is kept as written (keep "$": "${APP_HOME}", "${X:-default}", as BuildKit names
// RUN vertices with shlex.SkipUnsetEnv: moby/buildkit
// frontend/dockerfile/dockerfile2llb/convert.go, dispatchRun) or becomes keep ("0"): a
// stand-in that lets the flag parse.
func (sc scope) placeholderExpander(keep string) instructions.SingleWordExpander {
	return func(word string) (string, error) {
		if keep == "$" {
			lex := *sc.lex
			lex.SkipUnsetEnv = true
			v, _, err := lex.ProcessWord(word, sc.env)
			return v, err
		}
		v, _, err := sc.lex.ProcessWord(word, placeholderEnv{sc.env, keep})
		return v, err
	}
}

type placeholderEnv struct {
	e    *env
	keep string
}

func (p placeholderEnv) Get(k string) (string, bool) {
	if v, ok := p.e.Get(k); ok {
		return v, true
	}
	return p.keep, true
}

func (p placeholderEnv) Keys() []string { return p.e.Keys() }

func (sc scope) expander(unmatched map[string]struct{}) instructions.SingleWordExpander {
	return func(word string) (string, error) {
		v, um, err := sc.lex.ProcessWord(word, sc.env)
		for k := range um {
			if unmatched != nil {
				unmatched[k] = struct{}{}
			}
		}
		return v, err
	}
}

func (d *discovery) runMounts(s *stageState, c *instructions.RunCommand, sc scope) ([]Mount, error) {
	mounts, unresolved, err := d.parseMounts(c, sc)
	if err != nil {
		return nil, err
	}
	command := commandText(c)
	step := sc.inputs.clone()
	d.parsed[c] = mounts
	step.record(c, &sc, d.stageOf(s.index), mounts)
	stepDigest := step.digest()
	contextFiles := slices.Compact(slices.Sorted(slices.Values(step.sources)))
	var out []Mount
	for i, m := range mounts {
		if m.Type != instructions.MountTypeCache {
			continue
		}
		missing := unresolved[i]
		mp := m.Target
		if !path.IsAbs(mp) {
			mp = path.Join("/", sc.workdir, mp)
		}
		mp = path.Clean(mp)
		if mp == "/" && len(missing) == 0 {
			return nil, fmt.Errorf("invalid mount target %q", m.Target)
		}
		id := m.CacheID
		if id == "" {
			id = path.Clean(m.Target)
		}
		sharing := string(m.CacheSharing)
		if sharing == "" {
			sharing = string(instructions.MountSharingShared)
		}
		mount := Mount{
			Stage:      s.stage.Name,
			StageIndex: s.index,
			Reachable:  s.reachable,
			Line:       line(c.Location()),
			Index:      i,
			ID:         id,
			ExplicitID: m.CacheID != "",
			CacheID:    d.opts.BuildArgs[CacheNamespaceArg] + "/" + id,
			Target:     m.Target,
			Path:       mp,
			Sharing:    sharing,
			UID:        m.UID,
			GID:        m.GID,
			From:       m.From,
			Source:     m.Source,
			ReadOnly:   m.ReadOnly,
			Command:    command,
			User:       sc.user,
			Workdir:    sc.workdir,
			Unresolved: missing,
			BaseImage:  d.baseImage(s),

			StepDigest:   stepDigest,
			ContextFiles: contextFiles,
			Opaque:       slices.Clone(step.opaque),
		}
		if m.Mode != nil {
			mode := FileMode(*m.Mode)
			mount.Mode = &mode
		}
		run := readRun(mount.Command)
		mount.Ecosystem, mount.Python = pythonReason(mount, sc.env, run)
		if mount.Python == "" {
			mount.Ecosystem, mount.Reason = otherReason(mount, sc.env, run)
		}
		out = append(out, mount)
	}
	return out, nil
}

// parseMounts expands and parses a RUN's --mount flags with BuildKit's own mount
// parser, as the frontend does (moby/buildkit frontend/dockerfile/dockerfile2llb/convert.go,
// dispatch: the expander sees the stage's ENV, ARGs and the base image's ENV). unresolved[i] lists the variables the i-th flag uses
// that neither the Dockerfile nor the build arguments define: BuildKit may find them in
// the base image's ENV, which discovery cannot see, so that mount's values (id, target,
// uid, gid, mode) are not known here. Such a flag never fails the RUN's discovery: it is
// parsed with its unknown variables left as written (or, where a number is needed, as
// 0), and the mount is listed with the variables named, for the caller to skip.
func (d *discovery) parseMounts(c *instructions.RunCommand, sc scope) ([]*instructions.Mount, [][]string, error) {
	unmatched := map[string]struct{}{}
	err := c.Expand(sc.expander(unmatched))
	mounts := instructions.GetMounts(c)
	if err == nil && len(unmatched) == 0 {
		return mounts, make([][]string, len(mounts)), nil
	}
	node := d.runNodes[line(c.Location())]
	if err != nil && (node == nil || len(unmatched) == 0) {
		return nil, nil, err
	}
	if node == nil {
		// Not expected (every RUN has its node); then every mount of the RUN is named
		// with all the variables its flags use.
		all := slices.Sorted(maps.Keys(unmatched))
		unresolved := make([][]string, len(mounts))
		for i := range unresolved {
			unresolved[i] = all
		}
		return mounts, unresolved, nil
	}
	var flags []string
	for _, f := range node.Flags {
		if strings.HasPrefix(f, "--mount=") {
			flags = append(flags, f)
		}
	}
	mounts = mounts[:0:0]
	var unresolved [][]string
	for _, flag := range flags {
		um := map[string]struct{}{}
		m, err := parseMountFlag(flag, sc.expander(um))
		if err != nil && len(um) == 0 {
			return nil, nil, err
		}
		vars := slices.Sorted(maps.Keys(um))
		if len(vars) > 0 {
			// Listed with the unknown variables as written, or, where the flag needs a
			// number there, with the numbers they decide left out.
			if m, err = parseMountFlag(flag, sc.placeholderExpander("$")); err != nil {
				m, err = parseMountFlag(flag, sc.placeholderExpander("0"))
				one, err1 := parseMountFlag(flag, sc.placeholderExpander("1"))
				if err != nil || err1 != nil {
					return nil, nil, errors.Join(err, err1)
				}
				m.UID, m.GID, m.Mode = sameOrNil(m.UID, one.UID), sameOrNil(m.GID, one.GID), sameOrNil(m.Mode, one.Mode)
			}
		}
		mounts = append(mounts, m)
		unresolved = append(unresolved, vars)
	}
	return mounts, unresolved, nil
}

func sameOrNil(a, b *uint64) *uint64 {
	if a == nil || b == nil || *a != *b {
		return nil
	}
	return a
}

// parseMountFlag parses one raw --mount flag as BuildKit parses a RUN's flags.
func parseMountFlag(flag string, expand instructions.SingleWordExpander) (*instructions.Mount, error) {
	cmd, err := instructions.ParseCommand(&parser.Node{Value: "run", Flags: []string{flag}, Next: &parser.Node{Value: "true"}, Original: "RUN " + flag + " true"})
	if err != nil {
		return nil, err
	}
	rc, ok := cmd.(*instructions.RunCommand)
	if !ok {
		return nil, errors.New("not a RUN instruction")
	}
	if err := rc.Expand(expand); err != nil {
		return nil, err
	}
	ms := instructions.GetMounts(rc)
	if len(ms) != 1 {
		return nil, fmt.Errorf("flag %s holds %d mounts", flag, len(ms))
	}
	return ms[0], nil
}

// commandText is the RUN's command as a user reads it: shell form as written, exec form
// as JSON, then any heredoc bodies.
func commandText(c *instructions.RunCommand) string {
	var b strings.Builder
	if c.PrependShell {
		b.WriteString(strings.Join(c.CmdLine, " "))
	} else {
		js, _ := json.Marshal(c.CmdLine)
		b.Write(js)
	}
	for _, f := range c.Files {
		b.WriteString("\n")
		b.WriteString(strings.TrimSuffix(f.Data, "\n"))
	}
	return b.String()
}

func joinWorkdir(current, wd string) string {
	if path.IsAbs(wd) {
		return path.Clean(wd)
	}
	return path.Join("/", current, wd)
}

func line(r []parser.Range) int {
	if len(r) == 0 {
		return 0
	}
	return r[0].Start.Line
}

// env is an ordered set of variables implementing shell.EnvGetter.
type env struct {
	keys []string
	vals map[string]string
}

func (e *env) set(k, v string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.vals[k] = v
}

func (e *env) Get(k string) (string, bool) {
	v, ok := e.vals[k]
	return v, ok
}

func (e *env) Keys() []string { return e.keys }

func (e *env) clone() *env {
	c := &env{keys: slices.Clone(e.keys), vals: make(map[string]string, len(e.vals))}
	for k, v := range e.vals {
		c.vals[k] = v
	}
	return c
}
