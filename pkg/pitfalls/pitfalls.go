// Package pitfalls checks a Dockerfile, before it is built, for the patterns that cost a
// CI build its cache: dependencies reinstalled on every code change, cache mounts that are
// emptied, thrown away or never used. Each finding names the Dockerfile line and the fix.
//
// The Dockerfile is read with BuildKit's own parser (moby/buildkit
// frontend/dockerfile/parser and instructions, v0.34), as pkg/mountcache reads it. The
// check is advisory: a Dockerfile it cannot parse gives no finding (the build reports the
// parse error), and nothing here fails a build.
package pitfalls

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/warmbuild/warmbuild/pkg/shellwords"
)

// The pitfall ids: stable, documented in README ("Cache pitfalls"), and what
// cache-pitfalls-ignore names.
const (
	CopyBeforeInstall     = "copy-before-install"
	PipTargetInCacheMount = "pip-target-in-cache-mount"
	PipNoCacheDir         = "pip-no-cache-dir"
	UvNoCache             = "uv-no-cache"
	CacheMountRootAsUser  = "cache-mount-root-as-user"
	AptDockerClean        = "apt-cache-docker-clean"
	AptCacheNotLocked     = "apt-cache-not-locked"
	CacheMountCleaned     = "cache-mount-cleaned"
)

// IDs lists every pitfall id, in the order the README documents them.
func IDs() []string {
	return []string{CopyBeforeInstall, PipTargetInCacheMount, PipNoCacheDir, UvNoCache, CacheMountRootAsUser, AptDockerClean, AptCacheNotLocked, CacheMountCleaned}
}

// Finding is one pitfall at one place of the Dockerfile.
type Finding struct {
	ID      string // one of IDs
	File    string // the name Check was given
	Line    int    // 1-based first line of the instruction
	EndLine int    // last line of the instruction (a RUN continued over lines)
	Message string // what is wrong, one sentence
	Fix     string // how to fix it, one sentence
}

// Option changes what Check reports.
type Option func(*config)

type config struct{ ignore map[string]bool }

// Ignore silences the given ids; "all" silences every one.
func Ignore(ids ...string) Option {
	return func(c *config) {
		for _, id := range ids {
			c.ignore[id] = true
		}
	}
}

// Check returns the pitfalls of dockerfile (named name, e.g. its path), in line order.
// A Dockerfile that does not parse has none.
func Check(name string, dockerfile []byte, opts ...Option) (out []Finding) {
	cfg := &config{ignore: map[string]bool{}}
	for _, o := range opts {
		o(cfg)
	}
	if cfg.ignore["all"] {
		return nil
	}
	defer func() {
		// The parser is upstream code fed with user input; an advisory check must not
		// take the build down with it.
		if recover() != nil {
			out = nil
		}
	}()
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil
	}
	// A linter without a Warn function reports nothing; the parser needs one for
	// check= directives (as in pkg/mountcache).
	stages, _, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil
	}
	c := &checker{lex: shell.NewLex(res.EscapeToken), byName: map[string]*stageState{}, copied: map[int]bool{}}
	for i := range stages {
		c.stage(&stages[i])
	}
	nlines := bytes.Count(dockerfile, []byte("\n")) + 1
	for _, f := range c.found {
		if cfg.ignore[f.ID] || f.Line < 1 || f.Line > nlines {
			continue
		}
		f.EndLine = min(max(f.EndLine, f.Line), nlines)
		f.File = name
		out = append(out, f)
	}
	slices.SortStableFunc(out, func(a, b Finding) int { return a.Line - b.Line })
	return out
}

type checker struct {
	lex    *shell.Lex
	byName map[string]*stageState
	found  []Finding
	// copied are the lines of the COPYs reported as copy-before-install: a stage built
	// FROM another inherits its COPY, which is reported once.
	copied map[int]bool
}

// stageState is what a stage leaves to a stage built FROM it.
type stageState struct {
	env     map[string]envValue
	user    string
	workdir string
	// dockerCleanOff says a RUN removed the base image's apt hook that empties
	// /var/cache/apt (or told apt to keep what it downloads).
	dockerCleanOff bool
	// installed says a dependency install ran before the context was copied whole.
	installed bool
	// broadCopy is the line of a COPY/ADD of the whole context not yet followed by an
	// install (0: none).
	broadCopy, broadCopyEnd int
	broadCopyName           string // COPY or ADD
}

type envValue struct {
	value string
	line  int
}

func (c *checker) stage(st *instructions.Stage) {
	s := &stageState{env: map[string]envValue{}}
	if parent, ok := c.byName[strings.ToLower(st.BaseName)]; ok {
		for k, v := range parent.env {
			s.env[k] = v
		}
		s.user, s.workdir = parent.user, parent.workdir
		s.dockerCleanOff, s.installed = parent.dockerCleanOff, parent.installed
		s.broadCopy, s.broadCopyEnd, s.broadCopyName = parent.broadCopy, parent.broadCopyEnd, parent.broadCopyName
	}
	for _, cmd := range st.Commands {
		c.command(s, cmd)
	}
	if st.Name != "" {
		c.byName[strings.ToLower(st.Name)] = s
	}
}

func (c *checker) expander(s *stageState) instructions.SingleWordExpander {
	return func(word string) (string, error) {
		r, _, err := c.lex.ProcessWord(word, envGetter(s.env))
		if err != nil {
			return word, nil
		}
		return r, nil
	}
}

type envGetter map[string]envValue

func (e envGetter) Get(k string) (string, bool) { v, ok := e[k]; return v.value, ok }
func (e envGetter) Keys() []string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (c *checker) command(s *stageState, cmd instructions.Command) {
	first, last := lines(cmd)
	switch cmd := cmd.(type) {
	case *instructions.EnvCommand:
		_ = cmd.Expand(c.expander(s))
		for _, kv := range cmd.Env {
			s.env[kv.Key] = envValue{kv.Value, first}
		}
	case *instructions.ArgCommand:
		for _, kv := range cmd.Args {
			if kv.Value != nil {
				s.env[kv.Key] = envValue{*kv.Value, first}
			}
		}
	case *instructions.UserCommand:
		_ = cmd.Expand(c.expander(s))
		s.user = cmd.User
	case *instructions.WorkdirCommand:
		_ = cmd.Expand(c.expander(s))
		s.workdir = joinPath(s.workdir, cmd.Path)
	case *instructions.CopyCommand:
		if cmd.From == "" && broadSources(cmd.SourcePaths) && s.broadCopy == 0 {
			s.broadCopy, s.broadCopyEnd, s.broadCopyName = first, last, "COPY"
		}
	case *instructions.AddCommand:
		if broadSources(cmd.SourcePaths) && s.broadCopy == 0 {
			s.broadCopy, s.broadCopyEnd, s.broadCopyName = first, last, "ADD"
		}
	case *instructions.RunCommand:
		c.run(s, cmd, first, last)
	}
}

// broadSources says a COPY/ADD copies the whole context (or its top level), so any code
// change changes its cache key.
func broadSources(srcs []string) bool {
	for _, p := range srcs {
		switch strings.TrimRight(p, "/") {
		case ".", "", "*", "./*", "./.":
			return true
		}
	}
	return false
}

// mount is one cache mount of a RUN, its target made absolute.
type mount struct {
	path    string
	id      string
	sharing string
	uid     *uint64
}

func (c *checker) run(s *stageState, cmd *instructions.RunCommand, first, last int) {
	_ = cmd.Expand(c.expander(s))
	var mounts []mount
	for _, m := range instructions.GetMounts(cmd) {
		if m.Type != instructions.MountTypeCache || m.Target == "" {
			continue
		}
		mounts = append(mounts, mount{path: joinPath(s.workdir, m.Target), id: m.CacheID, sharing: string(m.CacheSharing), uid: m.UID})
	}
	text := commandText(cmd)
	cmds := shellwords.Commands(text)
	add := func(id string, line, end int, msg, fix string) {
		c.found = append(c.found, Finding{ID: id, Line: line, EndLine: end, Message: msg, Fix: fix})
	}

	// copy-before-install
	if tool, kind := installs(cmds); kind != installNone {
		switch {
		case s.broadCopy == 0:
			if kind == installDeps {
				s.installed = true
			}
		case kind >= installNamed && !s.installed && !c.copied[s.broadCopy]:
			c.copied[s.broadCopy] = true
			add(CopyBeforeInstall, s.broadCopy, s.broadCopyEnd,
				fmt.Sprintf("this %s of the whole context comes before the %s install at line %d, so every code change reinstalls the dependencies.", s.broadCopyName, tool, first),
				fmt.Sprintf("Copy only the dependency files first (e.g. %s), run the install, and copy the rest of the code after it.", depFiles(tool)))
		}
	}

	aptDisabled := false
	for _, sc := range cmds {
		if removesDockerClean(sc) {
			aptDisabled = true
		}
	}
	for _, m := range mounts {
		// pip-target-in-cache-mount
		for _, sc := range cmds {
			if dir := pipInstallDir(sc); dir != "" && under(joinPath(s.workdir, dir), m.path) {
				add(PipTargetInCacheMount, first, last,
					fmt.Sprintf("pip installs into %s, inside the cache mount at %s, and a cache mount is not part of the image: the image is left without the packages.", dir, m.path),
					"Install to a directory outside the cache mount and keep the mount for pip's cache only (target=/root/.cache/pip).")
				break
			}
		}
		// pip-no-cache-dir
		if pipCacheMount(m, s.env) && runsPip(cmds) {
			if where := pipNoCache(cmds, s.env); where != "" {
				add(PipNoCacheDir, first, last,
					fmt.Sprintf("%s turns pip's cache off, so the pip cache mount at %s stays empty and every build downloads again.", where, m.path),
					"Drop --no-cache-dir and PIP_NO_CACHE_DIR where the RUN mounts pip's cache: the mount is not in the image, so it does not make it bigger.")
			}
		}
		// uv-no-cache: uv's --no-cache (-n) and UV_NO_CACHE (docs.astral.sh/uv, "Caching")
		if uvCacheMount(m, s.env) {
			if where := uvNoCache(cmds, s.env); where != "" {
				add(UvNoCache, first, last,
					fmt.Sprintf("%s turns uv's cache off, so the uv cache mount at %s stays empty and every build downloads again.", where, m.path),
					"Drop --no-cache and UV_NO_CACHE where the RUN mounts uv's cache: the mount is not in the image, so it does not make it bigger.")
			}
		}
		// cache-mount-root-as-user
		if under(m.path, "/root") && !isRoot(s.user) && !pointedAt(m, s.env) {
			add(CacheMountRootAsUser, first, last,
				fmt.Sprintf("the cache mount at %s is under /root, but this RUN runs as %s, whose tools neither look there nor may write there: the cache is never used.", m.path, s.user),
				fmt.Sprintf("Mount the cache in %s's home (e.g. target=/home/%s/.cache/pip) with uid= set to its uid, or run this RUN as root.", s.user, userName(s.user)))
		}
		// apt-cache-docker-clean: Debian's and Ubuntu's official images ship a hook that
		// runs apt-get clean after every install (docker/docs
		// content/manuals/build/building/best-practices.md, debuerreotype
		// scripts/debuerreotype-minimizing-config); BuildKit's apt example removes it
		// (moby/buildkit frontend/dockerfile/docs/reference.md, RUN --mount=type=cache).
		if m.path == "/var/cache/apt" || m.path == "/var/cache/apt/archives" {
			if !s.dockerCleanOff && !aptDisabled {
				add(AptDockerClean, first, last,
					fmt.Sprintf("Debian and Ubuntu images delete what apt downloads after every install (/etc/apt/apt.conf.d/docker-clean), so the apt cache mount at %s stays empty.", m.path),
					`Before this RUN, add: RUN rm -f /etc/apt/apt.conf.d/docker-clean; echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > /etc/apt/apt.conf.d/keep-cache`)
			}
		}
		// apt-cache-not-locked: apt needs exclusive access to its data, so BuildKit's
		// example locks both mounts (moby/buildkit commit a577b86, "Add sharing=locked to
		// Apt cache example"); without it parallel builds race on apt's lock.
		if (under(m.path, "/var/cache/apt") || under(m.path, "/var/lib/apt")) && m.sharing != string(instructions.MountSharingLocked) {
			add(AptCacheNotLocked, first, last,
				fmt.Sprintf("the apt cache mount at %s is shared (sharing=%s), and apt locks it: a second build using it at the same time (another platform, a parallel job on the builder) fails with \"Could not get lock\".", m.path, sharingName(m.sharing)),
				"Add sharing=locked to apt's cache mounts, as BuildKit's documentation does.")
		}
		// cache-mount-cleaned
		for _, sc := range cmds {
			if what := cleans(sc, m.path); what != "" {
				add(CacheMountCleaned, first, last,
					fmt.Sprintf("%s empties the cache mount at %s in the same RUN that mounts it, so the next build finds nothing.", what, m.path),
					"Remove the cleanup from this RUN: a cache mount is not in the image, so cleaning it saves no space.")
				break
			}
		}
	}
	if aptDisabled {
		s.dockerCleanOff = true
	}
}

// What an install installs, weakest first.
const (
	installNone        = iota
	installProjectOnly // the project without its dependencies (pip install --no-deps .)
	installNamed       // packages named on the command line (pip install poetry, npm i -g pm2)
	installDeps        // from dependency files or the project (pip -r, uv sync, npm ci, ...)
)

// installs says what a RUN installs (the strongest of its commands) and with which tool.
// Any install after a COPY of the whole context reruns on every code change; only an
// install from dependency files before that COPY means the dependencies came first.
func installs(cmds [][]string) (tool string, kind int) {
	for _, w := range cmds {
		t, k := install(shellwords.Program(w))
		if k > kind {
			tool, kind = t, k
		}
	}
	return tool, kind
}

func install(w []string) (string, int) {
	if len(w) == 0 {
		return "", installNone
	}
	name, args := path.Base(w[0]), w[1:]
	// packageArgs is the kind of an install whose dependency files are its flags.
	packageArgs := func(tool string, args []string) (string, int) {
		if len(operands(args)) > 0 {
			return tool, installNamed
		}
		return tool, installDeps
	}
	switch {
	case pipArgs(w) != nil:
		args := pipArgs(w)
		if slices.Contains(args, "--no-deps") {
			return "pip", installProjectOnly
		}
		for i, a := range args {
			if a == "-r" || a == "--requirement" || strings.HasPrefix(a, "--requirement=") || (strings.HasPrefix(a, "-r") && len(a) > 2) || a == "-e" || a == "--editable" {
				return "pip", installDeps
			}
			if i > 0 && (args[i-1] == "-c" || args[i-1] == "--constraint") {
				continue
			}
			if !strings.HasPrefix(a, "-") && (strings.HasPrefix(a, ".") || strings.HasPrefix(a, "/") || strings.Contains(a, "/")) {
				return "pip", installDeps
			}
		}
		return "pip", installNamed
	case name == "uv" && len(args) > 0 && args[0] == "sync":
		return "uv", installDeps
	case name == "poetry" && len(args) > 0 && args[0] == "install":
		return "poetry", installDeps
	case name == "pipenv" && len(args) > 0 && args[0] == "sync":
		return "pipenv", installDeps
	case name == "pipenv" && len(args) > 0 && args[0] == "install":
		return packageArgs("pipenv", args[1:])
	case name == "npm" && len(args) > 0 && args[0] == "ci":
		return "npm", installDeps
	case name == "npm" && len(args) > 0 && (args[0] == "install" || args[0] == "i"):
		if slices.Contains(args, "-g") || slices.Contains(args, "--global") {
			return "npm", installNamed
		}
		return packageArgs("npm", args[1:])
	case name == "yarn" && (len(args) == 0 || args[0] == "install" || strings.HasPrefix(args[0], "--")):
		return "yarn", installDeps
	case name == "pnpm" && len(args) > 0 && (args[0] == "install" || args[0] == "i"):
		return packageArgs("pnpm", args[1:])
	}
	return "", installNone
}

// operands are the arguments that are not flags.
func operands(args []string) []string {
	var out []string
	for _, a := range args {
		if !strings.HasPrefix(a, "-") && !strings.Contains(a, ">") {
			out = append(out, a)
		}
	}
	return out
}

func depFiles(tool string) string {
	switch tool {
	case "pip":
		return "COPY requirements.txt ."
	case "uv":
		return "COPY pyproject.toml uv.lock ./"
	case "poetry":
		return "COPY pyproject.toml poetry.lock ./"
	case "pipenv":
		return "COPY Pipfile Pipfile.lock ./"
	case "npm":
		return "COPY package.json package-lock.json ./"
	case "yarn":
		return "COPY package.json yarn.lock ./"
	default:
		return "COPY package.json pnpm-lock.yaml ./"
	}
}

func isPip(name string) bool {
	return name == "pip" || (strings.HasPrefix(name, "pip") && strings.Trim(name[3:], "0123456789.") == "")
}

func isPython(name string) bool {
	return name == "python" || (strings.HasPrefix(name, "python") && strings.Trim(name[6:], "0123456789.") == "")
}

// pipArgs returns the arguments after `install` of a pip install (pip, python -m pip,
// uv pip), or nil.
func pipArgs(w []string) []string {
	w = shellwords.Program(w)
	if len(w) == 0 {
		return nil
	}
	name, args := path.Base(w[0]), w[1:]
	switch {
	case isPip(name):
	case name == "uv" && len(args) > 0 && args[0] == "pip":
		args = args[1:]
	case isPython(name) && len(args) > 1 && args[0] == "-m" && isPip(args[1]):
		args = args[2:]
	default:
		return nil
	}
	if len(args) == 0 || args[0] != "install" {
		return nil
	}
	return args[1:]
}

func runsPip(cmds [][]string) bool {
	for _, w := range cmds {
		if pipArgs(w) != nil {
			return true
		}
	}
	return false
}

// pipInstallDir is the directory a pip install puts packages in instead of the
// interpreter's site-packages (--target, --prefix, --root); "" when none.
func pipInstallDir(w []string) string {
	args := pipArgs(w)
	for i, a := range args {
		for _, flag := range []string{"--target", "--prefix", "--root", "-t"} {
			switch {
			case a == flag && i+1 < len(args):
				return args[i+1]
			case strings.HasPrefix(a, flag+"=") && len(flag) > 2:
				return a[len(flag)+1:]
			case flag == "-t" && strings.HasPrefix(a, "-t") && len(a) > 2 && !strings.HasPrefix(a, "--"):
				return a[2:]
			}
		}
	}
	return ""
}

// pipCacheMount says a cache mount holds pip's cache: pip's default directory for
// root or any user, PIP_CACHE_DIR, or an id naming pip.
func pipCacheMount(m mount, env map[string]envValue) bool {
	// ~/.cache holds ~/.cache/pip: a mount of the whole cache directory is pip's too.
	if strings.HasSuffix(m.path, "/.cache/pip") || strings.HasSuffix(m.path, "/.cache") || m.id == "pip" || strings.HasSuffix(m.id, "/pip") || strings.HasPrefix(m.id, "pip-") {
		return true
	}
	if v, ok := env["PIP_CACHE_DIR"]; ok && v.value != "" && under(path.Clean(v.value), m.path) {
		return true
	}
	return false
}

// pipNoCache says what turns pip's cache off for the RUN: --no-cache-dir, or
// PIP_NO_CACHE_DIR set inline or by ENV (pip reads any value but a false one as on).
func pipNoCache(cmds [][]string, env map[string]envValue) string {
	for _, w := range cmds {
		for _, a := range w {
			if k, v, ok := strings.Cut(a, "="); ok && k == "PIP_NO_CACHE_DIR" && !falsy(v) {
				return "PIP_NO_CACHE_DIR=" + v
			}
		}
		if args := pipArgs(w); slices.Contains(args, "--no-cache-dir") {
			return "--no-cache-dir"
		}
	}
	if v, ok := env["PIP_NO_CACHE_DIR"]; ok && !falsy(v.value) {
		return fmt.Sprintf("ENV PIP_NO_CACHE_DIR (line %d)", v.line)
	}
	return ""
}

// uvCacheMount says a cache mount holds uv's cache: ~/.cache/uv, ~/.cache, UV_CACHE_DIR,
// or an id naming uv.
func uvCacheMount(m mount, env map[string]envValue) bool {
	if strings.HasSuffix(m.path, "/.cache/uv") || strings.HasSuffix(m.path, "/.cache") || m.id == "uv" || strings.HasSuffix(m.id, "/uv") {
		return true
	}
	v, ok := env["UV_CACHE_DIR"]
	return ok && v.value != "" && under(path.Clean(v.value), m.path)
}

// uvNoCache says what turns uv's cache off in a RUN that runs uv: --no-cache or -n on
// its command line, UV_NO_CACHE inline or by ENV.
func uvNoCache(cmds [][]string, env map[string]envValue) string {
	ran := false
	for _, w := range cmds {
		prog := shellwords.Program(w)
		if len(prog) == 0 || path.Base(prog[0]) != "uv" {
			continue
		}
		ran = true
		for _, a := range w[:len(w)-len(prog)] {
			if k, v, ok := strings.Cut(a, "="); ok && k == "UV_NO_CACHE" && !falsy(v) {
				return "UV_NO_CACHE=" + v
			}
		}
		for _, a := range prog[1:] {
			if a == "--no-cache" || a == "-n" {
				return "uv " + a
			}
		}
	}
	if v, ok := env["UV_NO_CACHE"]; ran && ok && !falsy(v.value) {
		return fmt.Sprintf("ENV UV_NO_CACHE (line %d)", v.line)
	}
	return ""
}

func falsy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "0", "false", "no", "off":
		return true
	}
	return false
}

// removesDockerClean says a command deletes (or neutralises) the docker-clean apt hook
// of Debian and Ubuntu images: the first half of the apt example in BuildKit's
// documentation (docs: Dockerfile reference, RUN --mount=type=cache, "Example: cache apt
// packages").
func removesDockerClean(w []string) bool {
	w = shellwords.Program(w)
	if len(w) == 0 {
		return false
	}
	joined := strings.Join(w, " ")
	switch path.Base(w[0]) {
	case "rm", "mv":
		return strings.Contains(joined, "/etc/apt/apt.conf.d/docker-clean")
	case "echo", "printf":
		return strings.Contains(joined, "Keep-Downloaded-Packages") && strings.Contains(joined, "true")
	}
	return false
}

// cleans says what in a command empties the cache mount at dir: rm of dir or inside it,
// apt-get clean on apt's archive, pip cache purge on pip's.
func cleans(w []string, dir string) string {
	w = shellwords.Program(w)
	if len(w) == 0 {
		return ""
	}
	name, args := path.Base(w[0]), w[1:]
	switch {
	case name == "rm":
		for _, a := range args {
			if strings.HasPrefix(a, "-") {
				continue
			}
			p := path.Clean(strings.TrimSuffix(strings.TrimSuffix(a, "*"), "/"))
			if strings.HasPrefix(p, "/") && (under(p, dir) || (p == path.Dir(dir) && strings.HasSuffix(a, "*"))) {
				return "rm " + a
			}
		}
	case (name == "apt-get" || name == "apt") && slices.Contains(args, "clean") && (dir == "/var/cache/apt" || dir == "/var/cache/apt/archives"):
		return name + " clean"
	case pipCacheDir(dir) && slices.Equal(args, []string{"cache", "purge"}) && isPip(name):
		return name + " cache purge"
	}
	return ""
}

func pipCacheDir(dir string) bool { return strings.HasSuffix(dir, "/.cache/pip") }

// pointedAt says the RUN's user was given the mount: uid= set and a cache directory
// variable pointing into it.
func pointedAt(m mount, env map[string]envValue) bool {
	if m.uid == nil {
		return false
	}
	for _, k := range []string{"PIP_CACHE_DIR", "UV_CACHE_DIR", "XDG_CACHE_HOME", "npm_config_cache", "YARN_CACHE_FOLDER", "POETRY_CACHE_DIR"} {
		if v, ok := env[k]; ok && v.value != "" && under(path.Clean(v.value), m.path) {
			return true
		}
	}
	return false
}

func isRoot(user string) bool {
	u, g, _ := strings.Cut(user, ":")
	if u != "" && u != "root" && u != "0" {
		return false
	}
	return g == "" || g == "root" || g == "0"
}

func userName(user string) string {
	u, _, _ := strings.Cut(user, ":")
	if u == "" || strings.Trim(u, "0123456789") == "" {
		return "app"
	}
	return u
}

func sharingName(s string) string {
	if s == "" {
		return "shared"
	}
	return s
}

// under says p is dir or inside it.
func under(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

func joinPath(workdir, p string) string {
	if !path.IsAbs(p) {
		p = path.Join("/", workdir, p)
	}
	return path.Clean(p)
}

// lines is the first and last line of an instruction.
func lines(cmd instructions.Command) (int, int) {
	loc := cmd.Location()
	if len(loc) == 0 {
		return 0, 0
	}
	return loc[0].Start.Line, loc[len(loc)-1].End.Line
}

// commandText is the RUN's command, shell form as written, exec form joined, then any
// heredoc bodies.
func commandText(c *instructions.RunCommand) string {
	var b strings.Builder
	b.WriteString(strings.Join(c.CmdLine, " "))
	for _, f := range c.Files {
		b.WriteString("\n")
		b.WriteString(f.Data)
	}
	return b.String()
}
