package mountcache

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

func mountSummary(ms []Mount) string {
	var s []string
	for _, m := range ms {
		s = append(s, m.Path+"@"+strconv.Itoa(m.Line))
	}
	return strings.Join(s, " ")
}

// auto carries the download caches (Cargo's registry and git sources, Maven's
// repository, the Gradle user home, conda's package cache) and leaves out Cargo's build
// directory and apt's caches, which their names select.
func TestNativeEcosystemsAutoAndNames(t *testing.T) {
	for _, tc := range []struct {
		file, input, want string
	}{
		{"cargo-registry-target", "auto", "/usr/local/cargo/registry@7 /usr/local/cargo/git/db@11 /usr/local/cargo/registry/cache@11 /opt/cargo/registry@21 /home/builder/.cargo/registry@35 /home/builder/.cargo@38 /root/.cache/pip@44"},
		{"cargo-registry-target", "cargo", "/usr/local/cargo/registry@7 /usr/local/cargo/git/db@11 /usr/local/cargo/registry/cache@11 /opt/cargo/registry@21 /home/builder/.cargo/registry@35 /home/builder/.cargo@38"},
		{"cargo-registry-target", "cargo-target", "/app/target@7 /tmp/cargo-target@21 /cache/target@24 /home/builder/app/target@35"},
		{"apt-locked", "auto", ""},
		{"apt-locked", "apt", "/var/cache/apt@7 /var/lib/apt@7 /var/cache/apt/archives@10"},
		{"maven-m2", "maven", "/root/.m2@5 /root/.m2/repository@7 /cache/m2@11 /var/maven/repository@20 /home/app/.m2@24"},
		{"gradle-user-home", "gradle", "/root/.gradle@6 /home/gradle/.gradle/caches@7 /root/.gradle/caches@15 /root/.gradle/wrapper@15 /gradle-home@19 /cache/gradle@21"},
		{"conda-pkgs", "conda", "/opt/conda/pkgs@5 /opt/conda/pkgs@14 /tmp/mamba/pkgs@16 /cache/conda-pkgs@21"},
		// The conda cache on a pip RUN is not pip's.
		{"conda-pkgs", "pip", "/root/.cache/pip@7"},
	} {
		sel, unmatched := selectorOf(t, tc.input).Select(discoverFile(t, tc.file))
		if got := mountSummary(sel); got != tc.want || len(unmatched) != 0 {
			t.Errorf("%s, mount-caches: %s selects %q (unmatched %q), want %q", tc.file, tc.input, got, unmatched, tc.want)
		}
	}
}

// otherPackageCache follows the table: on a RUN that runs pip, a mount where another
// ecosystem of the table keeps its cache for that user and environment is not pip's,
// though the RUN does not run that tool; any other mount is.
func TestOtherPackageCacheFollowsTheTable(t *testing.T) {
	run := readRun("pip install -r requirements.txt")
	e := &env{}
	for _, tc := range []struct {
		path, user, workdir string
		other               bool
	}{
		{"/usr/local/cargo/registry", "", "/", true},
		{"/root/.cargo/git/db", "", "/", true},
		{"/app/target", "", "/app", true},
		{"/root/.m2", "", "/", true},
		{"/root/.gradle/caches", "", "/", true},
		{"/home/gradle/.gradle", "", "/", true},
		{"/var/cache/apt", "", "/", true},
		{"/var/lib/apt/lists", "", "/", true},
		{"/opt/conda/pkgs", "", "/", true},
		{"/root/.conda/pkgs", "", "/", true},
		{"/go/pkg/mod", "", "/", true},
		{"/root/.npm", "", "/", true},
		{"/home/app/.m2", "app", "/", true},
		{"/var/cache/apk", "", "/", true},
		{"/tmp/wheels", "", "/", false},
		{"/root/.m2", "app", "/", false}, // not app's: inOtherHome decides that one
		{"/app/build", "", "/app", false},
	} {
		m := Mount{Path: tc.path, User: tc.user, Workdir: tc.workdir, Command: "pip install -r requirements.txt"}
		if got := otherPackageCache(m, e, run); got != tc.other {
			t.Errorf("otherPackageCache(%s, user %q) = %v, want %v", tc.path, tc.user, got, tc.other)
		}
	}
	ms := discoverFile(t, "conda-pkgs")
	if m := find(t, ms, 7, 0); m.Python != "" || m.Ecosystem != "" {
		t.Errorf("conda's /opt/conda/pkgs on a pip RUN: ecosystem %q, %q", m.Ecosystem, m.Python)
	}
}

// Left at its default, mount-cache-hash-files keys each ecosystem on its own files,
// lockfiles first, nested modules included; apt's cache on none (its packages are in the
// command, which the key hashes with the step).
func TestKeyGlobsNativeEcosystems(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"requirements.txt": "wb-core==1.0\n", "Cargo.lock": "v1", "Cargo.toml": "[package]", "crates/a/Cargo.toml": "[package]",
		"pom.xml": "<project/>", "module/pom.xml": "<project/>", "build.gradle.kts": "plugins {}", "settings.gradle": "x",
		"app/build.gradle": "y", "gradle/libs.versions.toml": "[versions]", "gradle/wrapper/gradle-wrapper.properties": "d",
		"environment.yml": "name: app", "conda-lock.yml": "version: 1",
	} {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	def, err := inputs.ParseHashGlobs()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ eco, want string }{
		{"cargo", "Cargo.lock,Cargo.toml,crates/a/Cargo.toml"},
		{"cargo-target", "Cargo.lock,Cargo.toml,crates/a/Cargo.toml"},
		{"maven", "module/pom.xml,pom.xml"},
		{"gradle", "app/build.gradle,build.gradle.kts,gradle/libs.versions.toml,gradle/wrapper/gradle-wrapper.properties,settings.gradle"},
		{"conda", "conda-lock.yml,environment.yml"},
		{"apt", ""},
	} {
		fh, err := HashFiles(context.Background(), dir, KeyGlobs(def, tc.eco))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(fh.Files, ","); got != tc.want {
			t.Errorf("%s cache keyed on %q, want %q", tc.eco, got, tc.want)
		}
		if tc.eco == "apt" && (!fh.None || fh.Hash != NoFilesHash) {
			t.Errorf("apt cache: files hash %+v, want none", fh)
		}
	}
	if g := KeyGlobs(def, "cargo").Globs(); g[0] != "Cargo.lock" {
		t.Errorf("Cargo's key files %v, want Cargo.lock first", g)
	}
}

const aptDockerfile = "FROM debian:bookworm\nRUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update && apt-get install -y cowsay figlet sl\n"

// mount-caches: apt carries apt's archive cache, keyed on the command (a new package is
// a new key; requirements.txt is not apt's), with apt's own count of archives it took
// from the cache.
func TestEngineAptMount(t *testing.T) {
	f := newFixture(t, aptDockerfile, "apt")
	def, err := inputs.ParseHashGlobs()
	if err != nil {
		t.Fatal(err)
	}
	f.req.HashFiles = def
	step := "[2/2] RUN --mount=type=cache,target=/var/cache/apt,sharing=locked apt-get update && apt-get install -y cowsay figlet sl"
	log := aptLog(t, "update") + aptLog(t, "partial")
	build := Build{
		Logs: func(match func(string) bool) string {
			if match(step) {
				return log
			}
			return ""
		},
		Steps: []builder.Step{{Name: step}},
	}
	res := f.restore(t).Save(context.Background(), build)
	ms := only(t, res)
	if ms.Ecosystem != "apt" || ms.Packages == nil || *ms.Packages != (PackageStats{Total: 4, Cached: 3}) {
		t.Errorf("apt mount: ecosystem %q, packages %+v", ms.Ecosystem, ms.Packages)
	}
	if res.PackagesTotal != 4 || res.PackagesCached != 3 {
		t.Errorf("totals: packages %d/%d", res.PackagesCached, res.PackagesTotal)
	}
	key := ms.Key
	if err := os.WriteFile(filepath.Join(f.req.ContextDir, "requirements.txt"), []byte("wb-core==2.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if k := only(t, f.restore(t).Save(context.Background(), okBuild)).Key; k != key {
		t.Errorf("apt key changed with requirements.txt: %s -> %s", key, k)
	}
	if err := os.WriteFile(f.req.Dockerfile, []byte(strings.Replace(aptDockerfile, " sl\n", " sl toilet\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if k := only(t, f.restore(t).Save(context.Background(), okBuild)).Key; k == key {
		t.Errorf("apt key %s unchanged although the command installs another package", k)
	}
}

// Where each tool keeps its cache follows the tool's own rules: its option, its variables
// (set by ENV or on the command line, relative paths from WORKDIR), then its defaults.
func TestNativeReasonsFollowTheToolsRules(t *testing.T) {
	for _, tc := range []struct{ dockerfile, eco, reason string }{
		{"WORKDIR /w\nRUN --mount=type=cache,target=/w/.ch/registry CARGO_HOME=.ch cargo build", "cargo", "target is Cargo's registry ($CARGO_HOME)"},
		{"RUN --mount=type=cache,target=/usr/local/cargo/registry/index cargo fetch", "cargo", "target is inside Cargo's registry /usr/local/cargo/registry (the rust image's CARGO_HOME)"},
		{"ENV CARGO_BUILD_TARGET_DIR=/t\nRUN --mount=type=cache,target=/t cargo build", "cargo-target", "target is Cargo's build directory ($CARGO_BUILD_TARGET_DIR)"},
		{"WORKDIR /app\nRUN --mount=type=cache,target=/app cargo build", "", ""},
		{"ENV MAVEN_ARGS=-Dmaven.repo.local=/r\nRUN --mount=type=cache,target=/r mvn package", "maven", "target is Maven's local repository (-Dmaven.repo.local in $MAVEN_ARGS)"},
		{"RUN --mount=type=cache,target=/r mvn package", "", ""},
		{"ENV GRADLE_OPTS=\"-Xmx2g -Dgradle.user.home=/g\"\nRUN --mount=type=cache,target=/g gradle build", "gradle", "target is Gradle's user home (-Dgradle.user.home in $GRADLE_OPTS)"},
		{"RUN --mount=type=cache,target=/g ./gradlew -g/g build", "gradle", "target is Gradle's user home (--gradle-user-home on the command line)"},
		{"RUN --mount=type=cache,target=/g ./gradlew --gradle-user-home=/g build", "gradle", "target is Gradle's user home (--gradle-user-home on the command line)"},
		{"USER 1001\nRUN --mount=type=cache,target=/root/.gradle gradle build", "", ""},
		{"ENV CONDA_PKGS_DIRS=\" /p1 ,/p2\"\nRUN --mount=type=cache,target=/p1 conda install -y numpy", "conda", "target is conda's package cache ($CONDA_PKGS_DIRS)"},
		{"ENV MAMBA_ROOT_PREFIX=/mm\nRUN --mount=type=cache,target=/mm/pkgs micromamba install -y numpy", "conda", "target is conda's package cache ($MAMBA_ROOT_PREFIX/pkgs)"},
		{"RUN --mount=type=cache,target=/root/.conda conda install -y numpy", "conda", "target contains conda's package cache /root/.conda/pkgs (default for user root), and the RUN runs conda"},
		{"RUN --mount=type=cache,target=/var/lib/apt/lists sudo apt-get update", "apt", "target is inside apt's package lists /var/lib/apt (Dir::State)"},
		{"RUN --mount=type=cache,target=/var/cache/apt echo apt-get install x", "", ""},
	} {
		ms, err := Discover([]byte("FROM scratch\n"+tc.dockerfile+"\n"), Options{Platform: "linux/amd64"})
		if err != nil || len(ms) != 1 {
			t.Fatalf("%q: %v %v", tc.dockerfile, ms, err)
		}
		if ms[0].Ecosystem != tc.eco || ms[0].Reason != tc.reason {
			t.Errorf("%q: ecosystem %q, reason %q; want %q, %q", tc.dockerfile, ms[0].Ecosystem, ms[0].Reason, tc.eco, tc.reason)
		}
	}
}
