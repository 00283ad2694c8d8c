package mountcache

import (
	"path"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/shellwords"
)

// pythonReason says why m looks like a Python package cache, or "" if it does not. Auto
// mode decides from the command and the environment, not from the path alone:
//   - the target is a Python tool's cache directory for the RUN's user and environment
//     ($PIP_CACHE_DIR and friends, set by ENV, ARG or on the command line, a --cache-dir
//     option, $XDG_CACHE_HOME, $HOME, the user's home);
//   - the target contains the cache directory of the tool the RUN runs (a mount at
//     /root/.cache on a RUN that runs uv holds uv's cache; on a RUN that runs go build it
//     holds Go's build cache, not pip's);
//   - the target is some ~/.cache/pip or ~/.cache/uv and the RUN's user has no known home
//     (USER 1001);
//   - the RUN runs a Python package tool and the mount is neither a well-known cache of
//     another package manager (an apt cache on the same RUN stays out) nor inside another
//     user's home (pip run as app never writes to /root/.cache/pip).
func pythonReason(m Mount, e *env, run runInfo) (eco, reason string) {
	var tools []Ecosystem
	for _, t := range Ecosystems {
		if t.Python {
			tools = append(tools, t)
		}
	}
	if i := toolIndex(run.tool); i > 0 {
		// The tool the RUN runs is looked at first, so the reason names it.
		tools = append([]Ecosystem{tools[i]}, append(append([]Ecosystem(nil), tools[:i]...), tools[i+1:]...)...)
	}
	for _, tool := range tools {
		dir, how := cacheDir(tool, run, m, e)
		if dir == "" {
			continue
		}
		switch {
		case m.Path == dir:
			return tool.Name, "target is " + tool.Name + "'s cache directory (" + how + ")"
		case isAncestor(m.Path, dir) && run.tool == tool.Name:
			return tool.Name, "target contains " + tool.Name + "'s cache directory " + dir + " (" + how + "), and the RUN runs " + tool.Name
		}
	}
	home := homeOf(m.User)
	if v, ok := e.Get("HOME"); ok && path.IsAbs(v) {
		home = path.Clean(v)
	}
	if base := path.Base(m.Path); (base == "pip" || base == "uv") && path.Base(path.Dir(m.Path)) == ".cache" && home == "" {
		return base, "target is a ~/.cache/" + base + " directory (the home of user " + m.User + " is not known)"
	}
	if run.tool != "" && !otherPackageCache(m, e, run) && !inOtherHome(m.Path, home) {
		return run.tool, "the RUN command invokes " + run.tool
	}
	return "", ""
}

// toolIndex is the position of a Python tool among the table's Python entries.
func toolIndex(name string) int {
	i := 0
	for _, t := range Ecosystems {
		if !t.Python {
			continue
		}
		if t.Name == name {
			return i
		}
		i++
	}
	return -1
}

// runInfo is what discovery reads from a RUN's shell text: the first Python package tool
// it runs, every package manager of the ecosystem table it runs, the variables it sets
// for the commands (FOO=bar cmd, export FOO=bar), and the cache directories its commands
// name with an option.
type runInfo struct {
	tool     string
	tools    []string
	env      map[string]string
	cacheOpt map[string]string // tool name -> --cache-dir (npm: --cache) value
}

// runs reports whether the RUN runs the ecosystem's tool.
func (ri runInfo) runs(eco string) bool { return slices.Contains(ri.tools, eco) }

func readRun(cmd string) runInfo {
	ri := runInfo{env: map[string]string{}, cacheOpt: map[string]string{}}
	for _, words := range shellwords.Commands(cmd) {
		if len(words) > 1 && words[0] == "export" {
			for _, w := range words[1:] {
				if k, v, ok := assignment(w); ok {
					ri.env[k] = v
				}
			}
			continue
		}
		for _, w := range words {
			k, v, ok := assignment(w)
			if !ok {
				break
			}
			ri.env[k] = v
		}
		tool, args := toolOf(shellwords.Program(words))
		if tool == "" {
			continue
		}
		t := Ecosystems[ecosystemIndex(tool)]
		if ri.tool == "" && t.Python {
			ri.tool = tool
		}
		if !ri.runs(tool) {
			ri.tools = append(ri.tools, tool)
		}
		if t.CacheOpt != "" {
			if v, ok := optionValue(args, t.CacheOpt); ok {
				ri.cacheOpt[tool] = v
			}
		}
	}
	return ri
}

// optionValue finds "--opt value" or "--opt=value" among args.
func optionValue(args []string, opt string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, opt+"="); ok {
			return v, true
		}
		if a == opt && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func assignment(w string) (key, value string, ok bool) {
	key, value, ok = strings.Cut(w, "=")
	if !ok || key == "" {
		return "", "", false
	}
	for i, r := range key {
		if r != '_' && !(r >= 'A' && r <= 'Z') && !(r >= 'a' && r <= 'z') && !(i > 0 && r >= '0' && r <= '9') {
			return "", "", false
		}
	}
	return key, value, true
}

// cacheDir works out where a tool keeps its cache for the RUN's user, as the tool
// itself would: its option on the command line, its own variable (set on the command
// line, then by the Dockerfile), then $XDG_CACHE_HOME, then $HOME/.cache, then the
// home directory a user of that name usually has.
func cacheDir(tool Ecosystem, run runInfo, m Mount, e *env) (dir, how string) {
	abs := func(p string) string {
		if path.IsAbs(p) {
			return path.Clean(p)
		}
		return path.Join("/", m.Workdir, p)
	}
	get := func(k string) (string, bool) {
		if v, ok := run.env[k]; ok {
			return v, v != ""
		}
		v, ok := e.Get(k)
		return v, ok && v != ""
	}
	if v, ok := run.cacheOpt[tool.Name]; ok && v != "" {
		return abs(v), tool.CacheOpt + " on the command line"
	}
	for _, k := range tool.CacheEnv {
		if v, ok := get(k); ok {
			return abs(v), "$" + k
		}
	}
	// Where the cache lies under the home directory: ~/.cache/<sub>, or HomeDir.
	sub, homeSub := path.Join(".cache", tool.CacheSub), "$HOME/.cache/"+tool.CacheSub
	if tool.HomeDir != "" {
		sub, homeSub = tool.HomeDir, "$HOME/"+tool.HomeDir
	} else if v, ok := get("XDG_CACHE_HOME"); ok {
		return path.Join(abs(v), tool.CacheSub), "$XDG_CACHE_HOME/" + tool.CacheSub
	}
	if v, ok := get("HOME"); ok {
		return path.Join(abs(v), sub), homeSub
	}
	home := homeOf(m.User)
	if home == "" {
		return "", ""
	}
	who := m.User
	if who == "" {
		who = "root"
	}
	return path.Join(home, sub), "default for user " + who
}

// inOtherHome reports whether p lies in a home directory (/root, /home/<name>) other
// than home, the RUN's user's.
func inOtherHome(p, home string) bool {
	var h string
	switch {
	case p == "/root" || strings.HasPrefix(p, "/root/"):
		h = "/root"
	case strings.HasPrefix(p, "/home/"):
		name, _, _ := strings.Cut(strings.TrimPrefix(p, "/home/"), "/")
		h = "/home/" + name
	default:
		return false
	}
	return h != home
}

// homeOf guesses a user's home directory from a USER value ("name", "name:group",
// "uid"). Root's is /root; a named user's is /home/<name>, as useradd makes it; a bare
// non-zero uid has no guessable home.
func homeOf(user string) string {
	name, _, _ := strings.Cut(user, ":")
	switch {
	case name == "" || name == "root" || name == "0":
		return "/root"
	case strings.Trim(name, "0123456789") == "":
		return ""
	}
	return "/home/" + name
}

func isAncestor(dir, p string) bool {
	return dir != "/" && strings.HasPrefix(p, dir+"/")
}

// otherPackageCache reports whether m holds the cache of a package manager other than
// the Python tools: a RUN that runs pip after apt-get, or that builds a Rust extension
// with Cargo's registry mounted, must not pull those caches into a pip selection. It is
// the table's own rules, asked as if the RUN ran every tool of the table (the path is
// where that tool keeps its cache for the RUN's user and environment), then the caches
// of package managers not on the table.
func otherPackageCache(m Mount, e *env, run runInfo) bool {
	all := run
	all.tools = EcosystemNames()
	if eco, _ := otherReason(m, e, all); eco != "" {
		return true
	}
	p := m.Path
	for _, prefix := range []string{
		"/var/cache/apk", "/etc/apk/cache", "/var/cache/dnf", "/var/cache/yum", "/var/cache/zypp",
		"/var/cache/pacman", "/usr/local/share/.cache/yarn",
	} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	for _, inHome := range []string{
		"/.pnpm-store", "/.cache/yarn", "/.cache/npm", "/.cache/pnpm", "/.cache/ms-playwright", "/.cache/bazel",
	} {
		if strings.HasSuffix(p, inHome) || strings.Contains(p, inHome+"/") {
			return true
		}
	}
	return false
}

// versionedName reports whether name is prefix followed only by a version such as
// "3" or "3.12" (pip3, python3.12).
func versionedName(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	return ok && strings.Trim(rest, "0123456789.") == ""
}

// pythonTool returns the Python package tool a shell command runs ("pip", "uv",
// "poetry", "pipenv", "pdm"), or "". It looks only at words in command position (the
// start of the command or after ;, &&, ||, |, (, newline), so "apt-get install
// python3-pip" or "echo pip" do not count.
func pythonTool(cmd string) string {
	for _, words := range shellwords.Commands(cmd) {
		if tool, _ := toolOf(shellwords.Program(words)); tool != "" && Ecosystems[ecosystemIndex(tool)].Python {
			return tool
		}
	}
	return ""
}

// toolOf says which package tool of the ecosystem table a simple command (program and arguments) runs,
// and with which arguments after the tool's name ("python -m pip install x" gives pip
// and "install x").
func toolOf(prog []string) (tool string, args []string) {
	if len(prog) == 0 {
		return "", nil
	}
	name := path.Base(prog[0])
	rest := prog[1:]
	switch {
	case versionedName(name, "pip"):
		return "pip", rest
	case versionedName(name, "python"):
		for j, a := range rest {
			if a == "-mpip" {
				return "pip", rest[j+1:]
			}
			if a == "-m" && j+1 < len(rest) && rest[j+1] == "pip" {
				return "pip", rest[j+2:]
			}
			if !strings.HasPrefix(a, "-") {
				break
			}
		}
	}
	for _, e := range Ecosystems {
		if slices.Contains(e.Programs, name) {
			return e.Name, rest
		}
	}
	return "", nil
}
