package mountcache

import (
	"path"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/shellwords"
)

// pythonReason says why m looks like a Python package cache, or "" if it does not.
// In order: the target is (or contains) pip's or uv's cache directory for the RUN's
// user and environment; the target is some user's ~/.cache/pip or ~/.cache/uv; the RUN
// invokes a Python package tool and the mount is not a well-known cache of another
// package manager (so an apt cache on the same RUN stays out).
func pythonReason(m Mount, e *env) string {
	for _, tool := range []struct{ name, envVar string }{{"pip", "PIP_CACHE_DIR"}, {"uv", "UV_CACHE_DIR"}} {
		dir, how := cacheDir(tool.name, tool.envVar, m, e)
		if dir == "" {
			continue
		}
		switch {
		case m.Path == dir:
			return "target is " + tool.name + "'s cache directory (" + how + ")"
		case isAncestor(m.Path, dir):
			return "target contains " + tool.name + "'s cache directory " + dir + " (" + how + ")"
		}
	}
	if base := path.Base(m.Path); (base == "pip" || base == "uv") && path.Base(path.Dir(m.Path)) == ".cache" {
		return "target is a ~/.cache/" + base + " directory"
	}
	if tool := pythonTool(m.Command); tool != "" && !otherPackageCache(m.Path) {
		return "the RUN command invokes " + tool
	}
	return ""
}

// cacheDir works out where a tool keeps its cache for the RUN's user, as the tool
// itself would: its own variable, then $XDG_CACHE_HOME, then $HOME/.cache, then the
// home directory a user of that name usually has.
func cacheDir(tool, envVar string, m Mount, e *env) (dir, how string) {
	abs := func(p string) string {
		if path.IsAbs(p) {
			return path.Clean(p)
		}
		return path.Join("/", m.Workdir, p)
	}
	if v, ok := e.Get(envVar); ok && v != "" {
		return abs(v), "$" + envVar
	}
	if v, ok := e.Get("XDG_CACHE_HOME"); ok && v != "" {
		return path.Join(abs(v), tool), "$XDG_CACHE_HOME/" + tool
	}
	if v, ok := e.Get("HOME"); ok && v != "" {
		return path.Join(abs(v), ".cache", tool), "$HOME/.cache/" + tool
	}
	home := homeOf(m.User)
	if home == "" {
		return "", ""
	}
	who := m.User
	if who == "" {
		who = "root"
	}
	return path.Join(home, ".cache", tool), "default for user " + who
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

// otherPackageCache reports whether p is a cache directory of a non-Python package
// manager; a RUN that runs pip after apt-get must not pull its apt cache into a
// pip-only selection.
func otherPackageCache(p string) bool {
	for _, prefix := range []string{
		"/var/cache/apt", "/var/lib/apt", "/var/cache/apk", "/etc/apk/cache", "/var/cache/dnf",
		"/var/cache/yum", "/var/cache/zypp", "/var/cache/pacman", "/go/pkg/mod",
		"/usr/local/cargo/registry", "/usr/local/cargo/git", "/usr/local/share/.cache/yarn",
	} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	for _, inHome := range []string{
		"/.npm", "/.m2", "/.gradle", "/.cargo/registry", "/.cargo/git", "/.pnpm-store",
		"/.cache/go-build", "/.cache/yarn", "/.cache/npm", "/.cache/pnpm", "/.cache/ms-playwright", "/.cache/bazel",
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
		prog := shellwords.Program(words)
		if len(prog) == 0 {
			continue
		}
		name := path.Base(prog[0])
		args := prog[1:]
		switch {
		case versionedName(name, "pip"):
			return "pip"
		case versionedName(name, "python"):
			for j, a := range args {
				if a == "-mpip" || (a == "-m" && j+1 < len(args) && args[j+1] == "pip") {
					return "pip"
				}
				if !strings.HasPrefix(a, "-") {
					break
				}
			}
		case name == "uv" || name == "uvx":
			return "uv"
		case name == "poetry" || name == "pipenv" || name == "pdm":
			return name
		}
	}
	return ""
}
