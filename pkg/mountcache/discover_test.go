package mountcache

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/dockerfiles")

// discoverCase is one Dockerfile in testdata/dockerfiles with the build options to
// discover it under; its expected output is testdata/dockerfiles/<name>.json.
type discoverCase struct {
	name string
	file string // defaults to name
	opts Options
	// imageEnv is the base image's ENV, for BuildKit's own conversion of the file
	// (TestDiscoverAgreesWithBuildKitConversion); Discover never sees it.
	imageEnv []string
}

func discoverCases() []discoverCase {
	amd64 := "linux/amd64"
	return []discoverCase{
		{name: "pip-standard", opts: Options{Platform: amd64}},
		{name: "custom-id", opts: Options{Platform: amd64}},
		{name: "nonroot-user", opts: Options{Platform: amd64}},
		{name: "pip-and-apt", opts: Options{Platform: amd64}},
		{name: "multi-stage", opts: Options{Platform: amd64}},
		{name: "multi-stage-target-test", file: "multi-stage", opts: Options{Platform: amd64, Target: "test"}},
		{name: "build-arg-target", opts: Options{Platform: "linux/arm64", BuildArgs: map[string]string{"PYTHON_VERSION": "3.12", "CACHE_FLAVOUR": "ci"}}},
		{name: "env-pip-cache-dir", opts: Options{Platform: amd64}},
		{name: "parent-cache", opts: Options{Platform: amd64}},
		{name: "uv", opts: Options{Platform: amd64}},
		{name: "no-cache-mounts", opts: Options{Platform: amd64}},
		{name: "heredoc", opts: Options{Platform: amd64}},
		{name: "go-build-cache", opts: Options{Platform: amd64}},
		{name: "uv-parent-cache", opts: Options{Platform: amd64}},
		{name: "other-user-pip", opts: Options{Platform: amd64}},
		{name: "from-mount", opts: Options{Platform: amd64}},
		{name: "env-from-base-image", opts: Options{Platform: amd64}, imageEnv: []string{"APP_UID=1000", "APP_HOME=/home/app"}},
		{name: "packages-in-command", opts: Options{Platform: amd64}},
		{name: "packages-in-command-arg", file: "packages-in-command", opts: Options{Platform: amd64, BuildArgs: map[string]string{"EXTRA": "wb-extra==2.0.0"}}},
		{name: "requirement-files", opts: Options{Platform: amd64}},
		{name: "variable-targets", opts: Options{Platform: amd64, BuildArgs: map[string]string{"GIVEN": "/srv/pip"}}},
		{name: "npm", opts: Options{Platform: amd64}},
		{name: "yarn-classic", opts: Options{Platform: amd64}},
		{name: "yarn-berry", opts: Options{Platform: amd64}},
		{name: "pnpm-docs", opts: Options{Platform: amd64}},
		{name: "pnpm-store-dir", opts: Options{Platform: amd64}},
		{name: "escape-and-ns", opts: Options{Platform: amd64, BuildArgs: map[string]string{CacheNamespaceArg: "shop"}}},
		{name: "cargo-registry-target", opts: Options{Platform: amd64}},
		{name: "maven-m2", opts: Options{Platform: amd64}},
		{name: "gradle-user-home", opts: Options{Platform: amd64}},
		{name: "apt-locked", opts: Options{Platform: amd64}},
		{name: "conda-pkgs", opts: Options{Platform: amd64}},
	}
}

func (c discoverCase) dockerfile(t testing.TB) []byte {
	t.Helper()
	file := c.file
	if file == "" {
		file = c.name
	}
	dt, err := os.ReadFile(filepath.Join("testdata", "dockerfiles", file+".Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return dt
}

// goldenDiscovery is what a golden file holds: the discovered mounts and which of them
// mount-caches: auto picks.
type goldenDiscovery struct {
	Options Options  `json:"options"`
	Mounts  []Mount  `json:"mounts"`
	Auto    []string `json:"auto"` // "line <n>: <cache id> -> <path>"
}

// TestDiscoverMatchesGolden compares Discover (and the auto selection) for each
// Dockerfile in testdata/dockerfiles with the reviewed output next to it. After an
// intended change: go test ./pkg/mountcache -run TestDiscoverMatchesGolden -update,
// then review the diff.
func TestDiscoverMatchesGolden(t *testing.T) {
	for _, c := range discoverCases() {
		t.Run(c.name, func(t *testing.T) {
			mounts, err := Discover(c.dockerfile(t), c.opts)
			if err != nil {
				t.Fatal(err)
			}
			got := goldenDiscovery{Options: c.opts, Mounts: mounts, Auto: autoSummary(mounts)}
			if got.Mounts == nil {
				got.Mounts = []Mount{}
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(got); err != nil {
				t.Fatal(err)
			}
			js := buf.Bytes()
			path := filepath.Join("testdata", "dockerfiles", c.name+".json")
			if *update {
				if err := os.WriteFile(path, js, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(js, want) {
				t.Errorf("discovery of %s differs from %s:\n%s", c.name, path, lineDiff(string(want), string(js)))
			}
		})
	}
}

func autoSummary(mounts []Mount) []string {
	sel, _ := Selector{}.Select(mounts)
	out := []string{}
	for _, m := range sel {
		out = append(out, fmt.Sprintf("line %d: %s -> %s", m.Line, m.CacheID, m.Path))
	}
	return out
}

// lineDiff shows the first differing lines, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n want %s\n  got %s", i+1, wl, gl)
		}
	}
	return "(no difference)"
}

// find returns the mount declared on a Dockerfile line (its only or first mount).
func find(t *testing.T, mounts []Mount, line, index int) Mount {
	t.Helper()
	for _, m := range mounts {
		if m.Line == line && m.Index == index {
			return m
		}
	}
	t.Fatalf("no cache mount at line %d index %d in %+v", line, index, mounts)
	return Mount{}
}

// The golden files pin everything; these spell out the facts that matter most, so a
// careless -update cannot bless a wrong answer.
func TestDiscoverResolvesIDsTargetsAndUsers(t *testing.T) {
	discover := func(name string, opts Options) []Mount {
		t.Helper()
		dt, err := os.ReadFile(filepath.Join("testdata", "dockerfiles", name+".Dockerfile"))
		if err != nil {
			t.Fatal(err)
		}
		m, err := Discover(dt, opts)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	amd64 := Options{Platform: "linux/amd64"}

	t.Run("standard pip mount defaults its id to the target", func(t *testing.T) {
		m := find(t, discover("pip-standard", amd64), 5, 0)
		if m.ID != "/root/.cache/pip" || m.CacheID != "//root/.cache/pip" || m.ExplicitID || m.Sharing != "shared" || m.Python == "" {
			t.Errorf("%+v", m)
		}
		if !strings.Contains(m.Command, "pip install -r requirements.txt") {
			t.Errorf("command %q", m.Command)
		}
	})
	t.Run("custom id", func(t *testing.T) {
		m := find(t, discover("custom-id", amd64), 4, 0)
		if m.ID != "shop-pip" || m.CacheID != "/shop-pip" || !m.ExplicitID || m.Path != "/root/.cache/pip" {
			t.Errorf("%+v", m)
		}
	})
	t.Run("non-root user with uid and gid", func(t *testing.T) {
		m := find(t, discover("nonroot-user", amd64), 6, 0)
		if m.User != "app" || m.UID == nil || *m.UID != 1000 || m.GID == nil || *m.GID != 1000 || m.Mode == nil || *m.Mode != 0o755 {
			t.Errorf("%+v", m)
		}
		if !strings.Contains(m.Python, "user app") {
			t.Errorf("not recognised as app's pip cache: %q", m.Python)
		}
	})
	t.Run("pip and a locked apt cache on one RUN: auto takes pip only", func(t *testing.T) {
		ms := discover("pip-and-apt", amd64)
		apt, pip := find(t, ms, 4, 0), find(t, ms, 4, 1)
		if apt.Sharing != "locked" || apt.Python != "" || pip.Python == "" {
			t.Errorf("apt %+v\npip %+v", apt, pip)
		}
	})
	t.Run("build args, stage ARGs and the platform expand; undeclared globals do not", func(t *testing.T) {
		ms := discover("build-arg-target", Options{Platform: "linux/arm64", BuildArgs: map[string]string{"PYTHON_VERSION": "3.12", "CACHE_FLAVOUR": "ci"}})
		// PIP_CACHE is redeclared in the stage, PYTHON_VERSION is not: BuildKit expands
		// it to nothing there even though FROM saw 3.12, unless the base image's ENV sets
		// it (python images do), so the mount is listed with the variable as written and
		// named, to be skipped.
		if m := find(t, ms, 8, 0); m.Path != "/root/.cache/pip" || m.ID != "pip-${PYTHON_VERSION}-ci" || strings.Join(m.Unresolved, ",") != "PYTHON_VERSION" {
			t.Errorf("redeclared global and build args: %+v", m)
		}
		// TARGETARCH is a global: invisible in the stage until "ARG TARGETARCH".
		if m := find(t, ms, 9, 0); m.Path != "/root/.cache/wheels-$TARGETARCH" || strings.Join(m.Unresolved, ",") != "TARGETARCH" {
			t.Errorf("before ARG TARGETARCH: %+v", m)
		}
		if m := find(t, ms, 11, 0); m.Path != "/root/.cache/wheels-arm64" || len(m.Unresolved) != 0 {
			t.Errorf("after ARG TARGETARCH: %+v", m)
		}
		if m := find(t, ms, 12, 0); m.Path != "/opt/cache$NOT_REDECLARED" || strings.Join(m.Unresolved, ",") != "NOT_REDECLARED" {
			t.Errorf("global never redeclared: %+v", m)
		}
	})
	t.Run("ENV in scope expands and PIP_CACHE_DIR marks pip's cache", func(t *testing.T) {
		ms := discover("env-pip-cache-dir", amd64)
		if m := find(t, ms, 4, 0); m.Path != "/var/cache/pip" || !strings.Contains(m.Python, "$PIP_CACHE_DIR") {
			t.Errorf("%+v", m)
		}
		if m := find(t, ms, 5, 0); m.Path != "/app/cache" || m.ID != "relative" {
			t.Errorf("relative target: %+v", m)
		}
	})
	t.Run("a parent of the pip cache holds it only when the RUN runs pip", func(t *testing.T) {
		ms := discover("parent-cache", amd64)
		if m := find(t, ms, 2, 0); !strings.Contains(m.Python, "contains pip's cache directory /root/.cache/pip") {
			t.Errorf("root: %+v", m)
		}
		if m := find(t, ms, 6, 0); m.User != "worker:worker" || m.Python != "" {
			t.Errorf("worker's ~/.cache on a RUN running no Python tool: %+v", m)
		}
	})
	t.Run("Go's build cache at ~/.cache is not pip's", func(t *testing.T) {
		for _, m := range discover("go-build-cache", amd64) {
			if m.Python != "" {
				t.Errorf("line %d %s: %q", m.Line, m.Path, m.Python)
			}
		}
	})
	t.Run("a parent cache on a uv RUN names uv", func(t *testing.T) {
		m := find(t, discover("uv-parent-cache", amd64), 4, 0)
		if !strings.Contains(m.Python, "uv's cache directory /root/.cache/uv") || strings.Contains(m.Python, "pip") {
			t.Errorf("%+v", m)
		}
	})
	t.Run("root's pip cache on a RUN as another user is not carried", func(t *testing.T) {
		ms := discover("other-user-pip", amd64)
		if m := find(t, ms, 6, 0); m.Python != "" {
			t.Errorf("USER app, /root/.cache/pip: %q", m.Python)
		}
		if m := find(t, ms, 7, 0); !strings.Contains(m.Python, "default for user app") {
			t.Errorf("USER app, its own cache: %q", m.Python)
		}
		if m := find(t, ms, 8, 0); !strings.Contains(m.Python, "--cache-dir") {
			t.Errorf("--cache-dir names it: %q", m.Python)
		}
	})
	t.Run("a variable from the base image's ENV skips and names that mount only", func(t *testing.T) {
		ms := discover("env-from-base-image", amd64)
		if m := find(t, ms, 4, 0); m.CarryProblem() != "" || m.Python == "" {
			t.Errorf("plain pip mount: %+v", m)
		}
		uid := find(t, ms, 6, 0)
		if p := uid.CarryProblem(); !strings.Contains(p, "$APP_UID") || strings.Contains(p, `""`) {
			t.Errorf("uid=${APP_UID}: %q", p)
		}
		if apt := find(t, ms, 6, 1); apt.CarryProblem() != "" || apt.Sharing != "locked" {
			t.Errorf("the other mount of that RUN: %+v", apt)
		}
		if m := find(t, ms, 9, 0); !strings.Contains(m.CarryProblem(), "$APP_HOME") || m.Target != "${APP_HOME}/.cache/pip" {
			t.Errorf("target=${APP_HOME}/...: %+v", m)
		}
		ok, why := Flaggable(Caches([]Mount{uid})[0])
		if ok || !strings.Contains(why, "$APP_UID") {
			t.Errorf("Flaggable: %v %q", ok, why)
		}
	})
	t.Run("from= mounts are not picked by auto", func(t *testing.T) {
		ms := discover("from-mount", amd64)
		if got := autoSummary(ms); len(got) != 1 || !strings.HasPrefix(got[0], "line 9:") {
			t.Errorf("auto picked %v", got)
		}
	})
	t.Run("uv caches", func(t *testing.T) {
		ms := discover("uv", amd64)
		if m := find(t, ms, 5, 0); !strings.Contains(m.Python, "uv's cache directory") {
			t.Errorf("%+v", m)
		}
		if m := find(t, ms, 9, 0); m.Python != "target is uv's cache directory ($UV_CACHE_DIR)" {
			t.Errorf("%+v", m)
		}
	})
	t.Run("multi-stage: every stage listed, only the target's built", func(t *testing.T) {
		ms := discover("multi-stage", amd64)
		if len(ms) != 4 {
			t.Fatalf("want 4 cache mounts, got %d", len(ms))
		}
		builder, dev, pytest, runtime := find(t, ms, 7, 0), find(t, ms, 12, 0), find(t, ms, 13, 0), find(t, ms, 16, 1)
		if builder.Stage != "builder" || !builder.Reachable || dev.Reachable || pytest.Reachable || !runtime.Reachable || runtime.StageIndex != 3 {
			t.Errorf("reachability: builder %v dev %v pytest %v runtime %v", builder.Reachable, dev.Reachable, pytest.Reachable, runtime.Reachable)
		}
		if builder.Workdir != "/build" {
			t.Errorf("builder inherits WORKDIR from base: %q", builder.Workdir)
		}
		for _, m := range discover("multi-stage", Options{Platform: "linux/amd64", Target: "test"}) {
			if m.Reachable != (m.Stage == "test") {
				t.Errorf("target test: %s reachable=%v", m.Stage, m.Reachable)
			}
		}
	})
	t.Run("no cache mounts", func(t *testing.T) {
		if ms := discover("no-cache-mounts", amd64); len(ms) != 0 {
			t.Errorf("found %+v", ms)
		}
	})
	t.Run("heredoc RUN", func(t *testing.T) {
		ms := discover("heredoc", amd64)
		if m := find(t, ms, 5, 0); !strings.Contains(m.Command, "pip install -r requirements.txt") || m.Python == "" {
			t.Errorf("%+v", m)
		}
		if m := find(t, ms, 10, 0); m.Python != "" {
			t.Errorf("echo mentioning pip counted as pip: %q", m.Python)
		}
	})
	t.Run("escape directive, namespace and inherited scope", func(t *testing.T) {
		ms := discover("escape-and-ns", Options{Platform: "linux/amd64", BuildArgs: map[string]string{CacheNamespaceArg: "shop"}})
		if m := find(t, ms, 3, 0); m.CacheID != "shop//root/.cache/pip" || m.Python == "" {
			t.Errorf("%+v", m)
		}
		if m := find(t, ms, 7, 0); m.User != "1001" || m.Sharing != "private" || !strings.Contains(m.Python, "~/.cache/pip") {
			t.Errorf("%+v", m)
		}
	})
}

func TestDiscoverErrors(t *testing.T) {
	for _, tc := range []struct {
		name, dockerfile string
		opts             Options
		says             string
	}{
		{"empty", "", Options{}, "no instructions"},
		{"no FROM", "# just a comment\nARG X=1\n", Options{}, "no FROM"},
		{"syntax", "FROM alpine\nRUN --mount=type=cache,target=/x,sharing=sometimes true\n", Options{}, "sharing"},
		{"unknown target", "FROM alpine AS a\nRUN true\n", Options{Target: "nope"}, `"nope" not found`},
		{"root target", "FROM alpine\nRUN --mount=type=cache,target=/ true\n", Options{}, "invalid mount target"},
		{"bad platform", "FROM alpine\n", Options{Platform: "not/a/real/platform"}, "platform"},
		{"unknown instruction", "FROM alpine\nFROBNICATE x\n", Options{}, "unknown instruction"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Discover([]byte(tc.dockerfile), tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("want an error saying %q, got %v", tc.says, err)
			}
		})
	}
	// Broken mounts in stages the target does not build are ignored, as BuildKit does.
	ms, err := Discover([]byte("FROM alpine AS broken\nRUN --mount=type=cache,target=/ true\nFROM alpine\nRUN --mount=type=cache,target=/c true\n"), Options{})
	if err != nil || len(ms) != 1 || ms[0].Path != "/c" {
		t.Errorf("unreachable broken stage: %v %+v", err, ms)
	}
}

// FuzzDiscover: no Dockerfile makes Discover panic, and whenever both Discover and
// BuildKit's own conversion accept a Dockerfile, they agree on its cache mounts.
// (ONBUILD triggers are left out: Discover does not replay them.)
//
//	go test ./pkg/mountcache -run '^$' -fuzz FuzzDiscover -fuzztime 60s
func FuzzDiscover(f *testing.F) {
	for _, c := range discoverCases() {
		f.Add(string(c.dockerfile(f)), c.opts.Target)
	}
	f.Add("FROM a\nRUN --mount=type=cache,target=$X${Y:-/z},id=${Z:?boom} pip install\n", "")
	f.Add("ARG A=b\nFROM $A AS $A\nFROM b\nRUN --mount=from=b,type=cache,target=c x\n", "b")
	f.Add("FROM a\nRUN --mount=type=cache,target=/root/ true\n", "")
	f.Add("FROM a\nWORKDIR /w/\nRUN --mount=type=cache,target=//root/./x/ true\n", "")
	f.Fuzz(func(t *testing.T, dockerfile, target string) {
		opts := Options{Target: target, Platform: "linux/amd64"}
		mounts, err := Discover([]byte(dockerfile), opts)
		if err != nil {
			return
		}
		for _, m := range mounts {
			if m.Path == "" || m.Path[0] != '/' || m.CacheID == "" {
				t.Errorf("mount without an absolute path or id: %+v", m)
			}
			if k := Key(m, "linux/amd64", NoFilesHash); len(k) > 512 || strings.Contains(k, ",") {
				t.Errorf("bad key %q", k)
			}
		}
		if strings.Contains(strings.ToLower(dockerfile), "onbuild") {
			return
		}
		if bk, err := buildkitCacheMounts([]byte(dockerfile), opts); err == nil {
			if diff := compareMounts(bk, mounts); diff != "" {
				t.Errorf("Discover disagrees with BuildKit on\n%s\n%s", dockerfile, diff)
			}
		}
	})
}
