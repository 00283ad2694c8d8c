package mountcache

import (
	"path"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/shellwords"
)

// The ecosystems whose caches are not a plain ~/.cache/<sub> or ~/<dir>: Cargo, Maven,
// Gradle, apt and conda. Each has a reason hook (Ecosystem.Reason) that lists where the
// package manager keeps its cache for the RUN's user and environment, as the tool itself
// works it out, and says whether a mount holds one of those directories. As for Go, the
// path alone never decides: the RUN must run the tool (Programs).

// knownDir is a directory where a package manager keeps (part of) its cache.
type knownDir struct {
	path string
	what string // "registry", "local repository", ...
	how  string // why it lies there: "$CARGO_HOME", "default for user root", ...
	// inside: a mount at a directory under path (Cargo's registry/cache, apt's
	// archives) holds part of the cache too.
	inside bool
}

// knownDirReason says why m holds one of dirs, the caches of the package manager called
// name that the RUN runs as prog, or "": the target is one of them, lies inside one
// that allows it, or contains one (a mount at ~/.cargo holds Cargo's registry).
func knownDirReason(name, prog string, dirs []knownDir, m Mount) string {
	for _, d := range dirs {
		if m.Path == d.path {
			return "target is " + name + "'s " + d.what + " (" + d.how + ")"
		}
	}
	for _, d := range dirs {
		if d.inside && isAncestor(d.path, m.Path) {
			return "target is inside " + name + "'s " + d.what + " " + d.path + " (" + d.how + ")"
		}
	}
	for _, d := range dirs {
		if isAncestor(m.Path, d.path) {
			return "target contains " + name + "'s " + d.what + " " + d.path + " (" + d.how + "), and the RUN runs " + prog
		}
	}
	return ""
}

// lookup reads a variable as the RUN's commands see it: set on the command line, else
// by the Dockerfile (ENV, ARG); an empty value counts as unset.
func lookup(run runInfo, e *env, k string) (string, bool) {
	if v, ok := run.env[k]; ok {
		return v, v != ""
	}
	v, ok := e.Get(k)
	return v, ok && v != ""
}

// absIn makes p absolute as the RUN sees it: relative paths are taken from WORKDIR.
func absIn(m Mount, p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	return path.Join("/", m.Workdir, p)
}

// userHome is the RUN's home directory: $HOME when set, else the usual home of its user
// ("" for a bare uid).
func userHome(run runInfo, m Mount, e *env) (home, how string) {
	if v, ok := lookup(run, e, "HOME"); ok && path.IsAbs(v) {
		return path.Clean(v), "$HOME"
	}
	who := m.User
	if who == "" {
		who = "root"
	}
	return homeOf(m.User), "default for user " + who
}

// toolArgs lists the arguments of each command of the RUN that runs eco's tool. It
// reads the table entry's Programs, not toolOf, which reads the table.
func toolArgs(eco Ecosystem, cmd string) [][]string {
	var out [][]string
	for _, words := range shellwords.Commands(cmd) {
		if prog := shellwords.Program(words); len(prog) > 0 && slices.Contains(eco.Programs, path.Base(prog[0])) {
			out = append(out, prog[1:])
		}
	}
	return out
}

// progOf is the name the RUN calls eco's tool by (mvnw, micromamba), for a reason.
func progOf(eco Ecosystem, cmd string) string {
	for _, words := range shellwords.Commands(cmd) {
		if prog := shellwords.Program(words); len(prog) > 0 && slices.Contains(eco.Programs, path.Base(prog[0])) {
			return path.Base(prog[0])
		}
	}
	return eco.Programs[0]
}

// optionIn finds the value of a command-line option (long "--opt value", "--opt=value";
// short "-o value", "-ovalue") in any of the tool's commands; "" names no form.
func optionIn(argss [][]string, long, short string) (string, bool) {
	for _, args := range argss {
		for i, a := range args {
			if a == "--" {
				break
			}
			if long != "" {
				if v, ok := strings.CutPrefix(a, long+"="); ok {
					return v, v != ""
				}
			}
			if (a == long && long != "") || (a == short && short != "") {
				if i+1 < len(args) {
					return args[i+1], args[i+1] != ""
				}
				continue
			}
			if short != "" && len(a) > len(short) && strings.HasPrefix(a, short) && !strings.HasPrefix(a, "--") {
				return a[len(short):], true
			}
		}
	}
	return "", false
}

// sysProp finds -D<name>=<value> among words (a command's arguments, or a variable such
// as MAVEN_OPTS split into words).
func sysProp(words []string, name string) (string, bool) {
	for _, w := range words {
		if v, ok := strings.CutPrefix(w, "-D"+name+"="); ok && v != "" {
			return v, true
		}
	}
	return "", false
}

// Cargo keeps what it downloads in the Cargo home: $CARGO_HOME, else ~/.cargo
// (https://doc.rust-lang.org/cargo/guide/cargo-home.html; the home crate's cargo_home:
// a relative CARGO_HOME is taken from the working directory). Its download caches are
// registry/ (index, cache of .crate archives, src) and git/ (db, checkouts); bin/ holds
// installed programs (rustup's cargo itself in the rust image). The official rust images
// set CARGO_HOME=/usr/local/cargo (docker-library/rust, Dockerfile template), an ENV of
// the base image that discovery cannot read, so that location is known as Go's
// /go/pkg/mod is.
func cargoHomes(run runInfo, m Mount, e *env) (dirs, hows []string) {
	if v, ok := lookup(run, e, "CARGO_HOME"); ok {
		return []string{absIn(m, v)}, []string{"$CARGO_HOME"}
	}
	dirs, hows = []string{"/usr/local/cargo"}, []string{"the rust image's CARGO_HOME"}
	if home, how := userHome(run, m, e); home != "" {
		dirs, hows = append(dirs, path.Join(home, ".cargo")), append(hows, how)
	}
	return dirs, hows
}

// cargoReason: the RUN runs cargo and the target is, lies inside or contains the
// registry or git directory of a Cargo home (Docker's docs mount
// /usr/local/cargo/registry and /usr/local/cargo/git/db).
func cargoReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	if !run.runs("cargo") {
		return ""
	}
	homes, hows := cargoHomes(run, m, e)
	var dirs []knownDir
	for i, h := range homes {
		dirs = append(dirs,
			knownDir{path: path.Join(h, "registry"), what: "registry", how: hows[i], inside: true},
			knownDir{path: path.Join(h, "git"), what: "git sources", how: hows[i], inside: true})
	}
	return knownDirReason("Cargo", progOf(eco, m.Command), dirs, m)
}

// cargoTargetReason: the RUN runs cargo and the target is its build directory, where
// it compiles to: --target-dir, $CARGO_TARGET_DIR, $CARGO_BUILD_TARGET_DIR (the
// build.target-dir setting), else target/ at the workspace root, taken to be WORKDIR
// (https://doc.rust-lang.org/cargo/reference/config.html#buildtarget-dir,
// https://doc.rust-lang.org/cargo/guide/build-cache.html). A build cache: it grows with
// every commit, so auto leaves it out (the entry is Manual).
func cargoTargetReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	if !run.runs("cargo") {
		return ""
	}
	d := knownDir{what: "build directory", inside: true}
	if v, ok := optionIn(toolArgs(eco, m.Command), "--target-dir", ""); ok {
		d.path, d.how = absIn(m, v), "--target-dir on the command line"
	} else if v, ok := lookup(run, e, "CARGO_TARGET_DIR"); ok {
		d.path, d.how = absIn(m, v), "$CARGO_TARGET_DIR"
	} else if v, ok := lookup(run, e, "CARGO_BUILD_TARGET_DIR"); ok {
		d.path, d.how = absIn(m, v), "$CARGO_BUILD_TARGET_DIR"
	} else {
		d.path, d.how = path.Join("/", m.Workdir, "target"), "target/ under WORKDIR"
	}
	// Never "contains": a mount at WORKDIR holds the sources, not a cache.
	if m.Path != d.path && !isAncestor(d.path, m.Path) {
		return ""
	}
	return knownDirReason("Cargo", progOf(eco, m.Command), []knownDir{d}, m)
}

// Maven keeps downloaded artifacts in its local repository: the maven.repo.local system
// property (-Dmaven.repo.local=... on the command line, in $MAVEN_OPTS, which bin/mvn
// passes to the JVM, or in $MAVEN_ARGS, which Maven 3.9 adds to the command line), else
// ~/.m2/repository (https://maven.apache.org/guides/mini/guide-configuring-maven.html,
// https://maven.apache.org/configure.html). The wrapper (mvnw) keeps the Maven it
// downloads in ~/.m2/wrapper, so Docker's docs mount all of ~/.m2. A <localRepository>
// in settings.xml is not read here.
func mavenReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	if !run.runs("maven") {
		return ""
	}
	args := toolArgs(eco, m.Command)
	var words []string
	for _, a := range args {
		words = append(words, a...)
	}
	if v, ok := sysProp(words, "maven.repo.local"); ok {
		return knownDirReason("Maven", progOf(eco, m.Command), []knownDir{{path: absIn(m, v), what: "local repository", how: "-Dmaven.repo.local on the command line", inside: true}}, m)
	}
	for _, k := range []string{"MAVEN_OPTS", "MAVEN_ARGS"} {
		if opts, ok := lookup(run, e, k); ok {
			if v, ok := sysProp(strings.Fields(opts), "maven.repo.local"); ok {
				return knownDirReason("Maven", progOf(eco, m.Command), []knownDir{{path: absIn(m, v), what: "local repository", how: "-Dmaven.repo.local in $" + k, inside: true}}, m)
			}
		}
	}
	home, how := userHome(run, m, e)
	if home == "" {
		return ""
	}
	m2 := path.Join(home, ".m2")
	return knownDirReason("Maven", progOf(eco, m.Command), []knownDir{
		{path: path.Join(m2, "repository"), what: "local repository", how: how, inside: true},
		{path: m2, what: "user directory, which holds its local repository", how: how, inside: true},
	}, m)
}

// Gradle keeps downloaded dependencies (caches/modules-2), the distributions the wrapper
// downloads (wrapper/dists) and their derived caches in the Gradle user home:
// --gradle-user-home or -g, else $GRADLE_USER_HOME, else the gradle.user.home system
// property (in $GRADLE_OPTS), else ~/.gradle
// (https://docs.gradle.org/current/userguide/directory_layout.html,
// https://docs.gradle.org/current/userguide/command_line_interface.html). The official
// gradle images create the user gradle with /home/gradle/.gradle and link /root/.gradle
// to it (docker-library's gradle Dockerfiles: "Symlinking root Gradle cache to gradle
// Gradle cache"), so that directory is known too.
func gradleReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	if !run.runs("gradle") {
		return ""
	}
	d := knownDir{what: "user home", inside: true}
	if v, ok := optionIn(toolArgs(eco, m.Command), "--gradle-user-home", "-g"); ok {
		d.path, d.how = absIn(m, v), "--gradle-user-home on the command line"
	} else if v, ok := lookup(run, e, "GRADLE_USER_HOME"); ok {
		d.path, d.how = absIn(m, v), "$GRADLE_USER_HOME"
	} else if v, ok := gradleOptsHome(run, e); ok {
		d.path, d.how = absIn(m, v), "-Dgradle.user.home in $GRADLE_OPTS"
	}
	if d.path != "" {
		return knownDirReason("Gradle", progOf(eco, m.Command), []knownDir{d}, m)
	}
	dirs := []knownDir{{path: "/home/gradle/.gradle", what: "user home", how: "the gradle image's, which its /root/.gradle links to", inside: true}}
	if home, how := userHome(run, m, e); home != "" && home != "/home/gradle" {
		dirs = append([]knownDir{{path: path.Join(home, ".gradle"), what: "user home", how: how, inside: true}}, dirs...)
	}
	return knownDirReason("Gradle", progOf(eco, m.Command), dirs, m)
}

// gradleOptsHome is the gradle.user.home system property $GRADLE_OPTS sets, if any.
func gradleOptsHome(run runInfo, e *env) (string, bool) {
	opts, ok := lookup(run, e, "GRADLE_OPTS")
	if !ok {
		return "", false
	}
	return sysProp(strings.Fields(opts), "gradle.user.home")
}

// apt keeps the .deb archives it downloads in Dir::Cache::archives (/var/cache/apt/archives)
// and the package lists of apt-get update in Dir::State::lists (/var/lib/apt/lists): fixed
// paths unless apt.conf moves them (apt.conf(5), "The Directory configuration group";
// Docker's docs mount both with sharing=locked, since apt locks them).
func aptReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	if !run.runs("apt") {
		return ""
	}
	return knownDirReason("apt", progOf(eco, m.Command), []knownDir{
		{path: "/var/cache/apt", what: "archive cache", how: "Dir::Cache", inside: true},
		{path: "/var/lib/apt", what: "package lists", how: "Dir::State", inside: true},
	}, m)
}

// conda, mamba and micromamba keep downloaded packages (the tarballs and their extracted
// copies, hard-linked into environments) in the package cache: the first of
// $CONDA_PKGS_DIRS (the pkgs_dirs setting, a comma-separated list), else <root
// prefix>/pkgs and ~/.conda/pkgs
// (https://docs.conda.io/projects/conda/en/stable/user-guide/configuration/custom-env-and-pkg-locations.html).
// micromamba's root prefix is --root-prefix/-r or $MAMBA_ROOT_PREFIX; the
// continuumio/miniconda3, conda-forge/miniforge3 and mambaorg/micromamba images all put
// it at /opt/conda (mamba-org/micromamba-docker Dockerfile: ENV MAMBA_ROOT_PREFIX=/opt/conda),
// an ENV discovery cannot read, so /opt/conda/pkgs is known.
func condaReason(eco Ecosystem, m Mount, e *env, run runInfo) string {
	if !run.runs("conda") {
		return ""
	}
	if v, ok := lookup(run, e, "CONDA_PKGS_DIRS"); ok {
		first, _, _ := strings.Cut(v, ",")
		if first = strings.TrimSpace(first); first != "" {
			return knownDirReason("conda", progOf(eco, m.Command), []knownDir{{path: absIn(m, first), what: "package cache", how: "$CONDA_PKGS_DIRS", inside: true}}, m)
		}
	}
	var dirs []knownDir
	if v, ok := optionIn(toolArgs(eco, m.Command), "--root-prefix", "-r"); ok {
		dirs = append(dirs, knownDir{path: path.Join(absIn(m, v), "pkgs"), what: "package cache", how: "--root-prefix on the command line", inside: true})
	} else if v, ok := lookup(run, e, "MAMBA_ROOT_PREFIX"); ok {
		dirs = append(dirs, knownDir{path: path.Join(absIn(m, v), "pkgs"), what: "package cache", how: "$MAMBA_ROOT_PREFIX/pkgs", inside: true})
	}
	dirs = append(dirs, knownDir{path: "/opt/conda/pkgs", what: "package cache", how: "the conda and micromamba images' root prefix", inside: true})
	if home, how := userHome(run, m, e); home != "" {
		dirs = append(dirs, knownDir{path: path.Join(home, ".conda", "pkgs"), what: "package cache", how: how, inside: true})
	}
	return knownDirReason("conda", progOf(eco, m.Command), dirs, m)
}

// Key files, lockfiles first. The globs are path.Match patterns (no "**"), so nested
// projects are matched one and two levels down.
var (
	// Cargo.lock pins every crate; the manifests decide what cargo resolves without it.
	cargoKeyFiles = []string{"Cargo.lock", "Cargo.toml", "*/Cargo.toml", "*/*/Cargo.toml"}
	// Maven has no lockfile: the POMs (modules one and two levels down) name the
	// artifacts; the wrapper's properties name the Maven it downloads into ~/.m2.
	mavenKeyFiles = []string{"pom.xml", "*/pom.xml", "*/*/pom.xml", ".mvn/wrapper/maven-wrapper.properties"}
	// Gradle's dependency locks first, then the version catalog, the build scripts (Groovy
	// and Kotlin, root and subprojects) and the wrapper's distribution.
	gradleKeyFiles = []string{"gradle.lockfile", "*/gradle.lockfile", "gradle/libs.versions.toml",
		"*.gradle", "*.gradle.kts", "*/*.gradle", "*/*.gradle.kts", "gradle/wrapper/gradle-wrapper.properties"}
	// conda-lock's lockfile, then the environment files of conda env create and
	// micromamba's docs (env.yaml).
	condaKeyFiles = []string{"conda-lock.yml", "*.conda-lock.yml", "environment.yml", "environment.yaml", "env.yml", "env.yaml"}
)
