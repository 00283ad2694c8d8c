package mountcache

import (
	"bufio"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// The JavaScript package managers besides npm: yarn (classic v1 and berry v2+) and pnpm.
// Where each keeps its packages was read from their sources:
//   - yarn v1, yarnpkg/yarn src/util/user-dirs.js getCacheDir, src/util/user-home-dir.js,
//     src/util/root-user.js, src/config.js and src/registries/{base,yarn}-registry.js: the
//     cache root is --cache-folder, else the cache-folder setting (YARN_CACHE_FOLDER, any
//     case, or npm's npm_config_cache_folder), else $XDG_CACHE_HOME/yarn, else
//     <home>/.cache/yarn, where <home> is /usr/local/share for root (not $HOME: the node
//     images' root cache is /usr/local/share/.cache/yarn) and the user's home otherwise;
//     packages go under its v6 directory (constants.js CACHE_VERSION).
//   - yarn berry, yarnpkg/berry packages/yarnpkg-core/sources/Configuration.ts and
//     folderUtils.ts: with enableGlobalCache (the default since Yarn 4) the cache is
//     <globalFolder>/cache, globalFolder being $YARN_GLOBAL_FOLDER, else
//     $XDG_DATA_HOME/yarn/berry, else ~/.yarn/berry (os.homedir(), /root for root); with
//     YARN_ENABLE_GLOBAL_CACHE=false it is cacheFolder, $YARN_CACHE_FOLDER or the
//     project's .yarn/cache.
//   - pnpm, pnpm/pnpm config/config/src/dirs.ts getDataDir and store/store-path (v10;
//     pnpm11/store/path/src/index.ts now): the store is the store-dir setting
//     (--store-dir, npm_config_store_dir in pnpm 10, pnpm_config_store_dir in pnpm 11)
//     with the store version under it (v10), else <pnpm home>/store/v10, the pnpm home
//     being $PNPM_HOME, else $XDG_DATA_HOME/pnpm, else ~/.local/share/pnpm. pnpm 6 and
//     older used ~/.pnpm-store.

// yarnKeyFiles and pnpmKeyFiles: the lockfile says what a frozen install fetches;
// package.json decides it when there is none.
var (
	yarnKeyFiles = []string{"yarn.lock", "package.json"}
	pnpmKeyFiles = []string{"pnpm-lock.yaml", "package.json"}
)

// jsDir is a directory a JavaScript package manager may keep its packages in for a RUN.
type jsDir struct {
	path, what, how string
	// versioned: the tool puts its packages under a version directory of path (yarn
	// v1's v6, pnpm's v10), which a mount may name instead of path itself.
	versioned bool
	// contained: a mount above path holds it. Not so for pnpm's store under its home
	// directory: pnpm puts the store there only when it can hard-link from the project
	// to that home, and a mount at the home (or above) is another filesystem, so pnpm
	// uses <mount point of the project>/.pnpm-store instead (store-path,
	// storePathRelativeToHome).
	contained bool
}

// runEnv reads a variable as the RUN's commands see it: set on the command line, else by
// the Dockerfile. An empty value counts as unset, as the tools treat it.
func runEnv(run runInfo, e *env, k string) (string, bool) {
	if v, ok := run.env[k]; ok {
		return v, v != ""
	}
	v, ok := e.Get(k)
	return v, ok && v != ""
}

// firstEnv is the first of keys set for the RUN, with its name.
func firstEnv(run runInfo, e *env, keys ...string) (val, key string) {
	for _, k := range keys {
		if v, ok := runEnv(run, e, k); ok {
			return v, k
		}
	}
	return "", ""
}

// jsAbs makes a directory the tool was given absolute against the RUN's working
// directory, as it resolves one.
func jsAbs(m Mount, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join("/", m.Workdir, p)
}

// isRootUser says whether a USER value is root (no USER, "root", uid 0).
func isRootUser(user string) bool {
	name, _, _ := strings.Cut(user, ":")
	return name == "" || name == "root" || name == "0"
}

// jsHome is the home directory os.homedir() gives the RUN's user: $HOME when set, else
// the user's usual home.
func jsHome(run runInfo, m Mount, e *env) (dir, how string) {
	if v, ok := runEnv(run, e, "HOME"); ok && path.IsAbs(v) {
		return path.Clean(v), "$HOME"
	}
	if h := homeOf(m.User); h != "" {
		who := m.User
		if who == "" {
			who = "root"
		}
		return h, "default for user " + who
	}
	return "", ""
}

// homeHow says how a directory under the home was found: "$HOME/<sub>", or the user's
// default.
func homeHow(how, sub string) string {
	if how == "$HOME" {
		return how + "/" + sub
	}
	return how
}

// yarnDirs are the directories yarn (v1 or berry, discovery cannot tell which the image
// has) keeps its cache in for the RUN.
func yarnDirs(run runInfo, m Mount, e *env) []jsDir {
	var dirs []jsDir
	// yarn v1: the cache root, packages under its v6.
	if v, ok := run.cacheOpt["yarn"]; ok && v != "" {
		dirs = append(dirs, jsDir{jsAbs(m, v), "cache directory", "--cache-folder on the command line", true, true})
	} else if v, k := firstEnv(run, e, "YARN_CACHE_FOLDER", "yarn_cache_folder", "npm_config_cache_folder", "NPM_CONFIG_CACHE_FOLDER"); v != "" {
		dirs = append(dirs, jsDir{jsAbs(m, v), "cache directory", "$" + k, true, true})
	} else if v, ok := runEnv(run, e, "XDG_CACHE_HOME"); ok {
		dirs = append(dirs, jsDir{path.Join(jsAbs(m, v), "yarn"), "cache directory", "$XDG_CACHE_HOME/yarn", true, true})
	} else if isRootUser(m.User) {
		dirs = append(dirs, jsDir{"/usr/local/share/.cache/yarn", "cache directory", "yarn 1's default for root", true, true})
	} else if h, how := jsHome(run, m, e); h != "" {
		dirs = append(dirs, jsDir{path.Join(h, ".cache", "yarn"), "cache directory", homeHow(how, ".cache/yarn"), true, true})
	}
	// yarn berry's cacheFolder: Yarn 2 and 3 keep their cache there by default, Yarn 4
	// with the global cache off ($YARN_CACHE_FOLDER is listed above already).
	if _, ok := runEnv(run, e, "YARN_CACHE_FOLDER"); !ok {
		dirs = append(dirs, jsDir{jsAbs(m, ".yarn/cache"), "project cache", "yarn 2+'s cacheFolder in the project", false, true})
	}
	// yarn berry's global cache, Yarn 4's default.
	if v, ok := runEnv(run, e, "YARN_ENABLE_GLOBAL_CACHE"); !ok || (v != "false" && v != "0") {
		if v, ok := runEnv(run, e, "YARN_GLOBAL_FOLDER"); ok {
			dirs = append(dirs, jsDir{path.Join(jsAbs(m, v), "cache"), "global cache", "$YARN_GLOBAL_FOLDER/cache", false, true})
		} else if v, ok := runEnv(run, e, "XDG_DATA_HOME"); ok {
			dirs = append(dirs, jsDir{path.Join(jsAbs(m, v), "yarn", "berry", "cache"), "global cache", "$XDG_DATA_HOME/yarn/berry/cache", false, true})
		} else if h, how := jsHome(run, m, e); h != "" {
			dirs = append(dirs, jsDir{path.Join(h, ".yarn", "berry", "cache"), "global cache", "yarn 2+, " + homeHow(how, ".yarn/berry/cache"), false, true})
		}
	}
	return dirs
}

// pnpmDirs are the directories pnpm keeps its content-addressable store in for the RUN.
func pnpmDirs(run runInfo, m Mount, e *env) []jsDir {
	if v, ok := run.cacheOpt["pnpm"]; ok && v != "" {
		return []jsDir{{jsAbs(m, v), "store", "--store-dir on the command line", true, true}}
	}
	if v, k := firstEnv(run, e, "npm_config_store_dir", "NPM_CONFIG_STORE_DIR", "pnpm_config_store_dir", "PNPM_CONFIG_STORE_DIR"); v != "" {
		return []jsDir{{jsAbs(m, v), "store", "$" + k, true, true}}
	}
	var dirs []jsDir
	if v, ok := runEnv(run, e, "PNPM_HOME"); ok {
		dirs = append(dirs, jsDir{path.Join(jsAbs(m, v), "store"), "store", "$PNPM_HOME/store", true, false})
	} else if v, ok := runEnv(run, e, "XDG_DATA_HOME"); ok {
		dirs = append(dirs, jsDir{path.Join(jsAbs(m, v), "pnpm", "store"), "store", "$XDG_DATA_HOME/pnpm/store", true, false})
	} else if h, how := jsHome(run, m, e); h != "" {
		dirs = append(dirs, jsDir{path.Join(h, ".local", "share", "pnpm", "store"), "store", homeHow(how, ".local/share/pnpm/store"), true, false})
	}
	if h, how := jsHome(run, m, e); h != "" {
		dirs = append(dirs, jsDir{path.Join(h, ".pnpm-store"), "store", "pnpm 6's default, " + homeHow(how, ".pnpm-store"), true, false})
	}
	return dirs
}

// versionDir reports whether name is a store or cache version directory: v6, v10, v3.
func versionDir(name string) bool {
	rest, ok := strings.CutPrefix(name, "v")
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// jsReason says why m holds eco's packages, or "": the RUN runs the tool and the target
// is one of dirs (or its version directory), or contains one.
func jsReason(eco Ecosystem, m Mount, run runInfo, dirs []jsDir) string {
	if !run.runs(eco.Name) {
		return ""
	}
	for _, d := range dirs {
		if m.Path == d.path || (d.versioned && path.Dir(m.Path) == d.path && versionDir(path.Base(m.Path))) {
			return "target is " + eco.Name + "'s " + d.what + " (" + d.how + ")"
		}
	}
	if path.Base(m.Path) == "node_modules" {
		return ""
	}
	for _, d := range dirs {
		if d.contained && isAncestor(m.Path, d.path) {
			return "target contains " + eco.Name + "'s " + d.what + " " + d.path + " (" + d.how + "), and the RUN runs " + eco.Name
		}
	}
	return ""
}

func yarnReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	return jsReason(eco, m, run, yarnDirs(run, m, e))
}

func pnpmReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	return jsReason(eco, m, run, pnpmDirs(run, m, e))
}

// pnpmStats counts pnpm's packages from its progress line (pnpm/pnpm
// cli/default-reporter/src/reporterForClient/reportProgress.ts, createStatusMessage):
//
//	Progress: resolved 4, reused 3, downloaded 1, added 4, done
//
// "reused" counts the packages found in the store (status found_in_store), "downloaded"
// those fetched (status fetched), so the total is their sum and the cached ones are the
// reused. The line is repeated as the install goes on and ends with ", done"; in a
// workspace each project's line carries its directory before a "|" (zoomOut). The last
// line of each project counts, and the projects (and the RUN steps) add up.
func pnpmStats(log string, _ []string) PackageStats {
	type counts struct{ reused, downloaded int }
	var st PackageStats
	add := func(c counts) {
		if st.Total < 1<<30 {
			st.Total += c.reused + c.downloaded
			st.Cached += c.reused
		}
	}
	pending := map[string]counts{} // project -> its latest line before ", done"
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := stripANSI(sc.Text())
		mt := pnpmProgress.FindStringSubmatchIndex(line)
		if mt == nil {
			continue
		}
		reused, err1 := strconv.Atoi(line[mt[2]:mt[3]])
		downloaded, err2 := strconv.Atoi(line[mt[4]:mt[5]])
		if err1 != nil || err2 != nil || reused >= 1<<20 || downloaded >= 1<<20 { // no real install is near either
			continue
		}
		c, project := counts{reused, downloaded}, pnpmPrefix(line[:mt[0]])
		if mt[6] >= 0 { // ", done": this project's install is over; a later line starts another
			add(c)
			delete(pending, project)
			continue
		}
		pending[project] = c
	}
	for _, c := range pending { // an install whose output stopped before ", done"
		add(c)
	}
	return st
}

var pnpmProgress = regexp.MustCompile(`Progress: resolved \d+, reused (\d+), downloaded (\d+)(?:, added \d+)?(, done)?`)

// pnpmPrefix is the project a progress line is about: the text before its "|" (a
// workspace's "packages/a | Progress: ..."), without BuildKit's or a CI's timestamps.
func pnpmPrefix(before string) string {
	i := strings.LastIndex(before, "|")
	if i < 0 {
		return ""
	}
	f := strings.Fields(before[:i])
	if len(f) == 0 {
		return ""
	}
	return f[len(f)-1]
}
