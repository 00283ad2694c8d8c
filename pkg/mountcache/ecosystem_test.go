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

func discoverFile(t *testing.T, name string) []Mount {
	t.Helper()
	dt, err := os.ReadFile(filepath.Join("testdata", "dockerfiles", name+".Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	mounts, err := Discover(dt, Options{Platform: "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	return mounts
}

// mount-caches takes ecosystem names: npm selects npm's mounts (found from the command
// and environment, not node_modules, not an apt RUN's /root/.npm), pip pip's.
func TestSelectByEcosystemName(t *testing.T) {
	mounts := discoverFile(t, "npm")
	summary := func(ms []Mount) string {
		var s []string
		for _, m := range ms {
			s = append(s, strings.TrimPrefix(m.CacheID, "/")+"@"+strconv.Itoa(m.Line))
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct{ input, want, unmatched string }{
		{"npm", "/root/.npm@4 /tmp/npmc@6 /root/.npm@10 /var/cache/npm@18 /home/node/.npm@25", ""},
		{"NPM", "/root/.npm@4 /tmp/npmc@6 /root/.npm@10 /var/cache/npm@18 /home/node/.npm@25", ""},
		{"pip", "/root/.cache/pip@10", ""},
		{"pip,npm", "/root/.npm@4 /tmp/npmc@6 /root/.npm@10 /root/.cache/pip@10 /var/cache/npm@18 /home/node/.npm@25", ""},
		{"uv", "", "uv"},
		// An id still selects by id, including the mounts no ecosystem claims.
		{"/app/node_modules", "/app/node_modules@8", ""},
	} {
		sel, unmatched := selectorOf(t, tc.input).Select(mounts)
		if got := summary(sel); got != tc.want {
			t.Errorf("mount-caches: %s selects %q, want %q", tc.input, got, tc.want)
		}
		if got := strings.Join(unmatched, ","); got != tc.unmatched {
			t.Errorf("mount-caches: %s leaves %q unmatched, want %q", tc.input, got, tc.unmatched)
		}
	}
}

// With mount-cache-hash-files at its default, an npm cache is keyed on package-lock.json,
// and a pip cache on the requirement files, as before; a given input keys every cache.
func TestKeyGlobsPerEcosystem(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("requirements.txt", "wb-core==1.0.0\n")
	write("package-lock.json", `{"lockfileVersion":3}`)
	write("package.json", `{"name":"app"}`)
	def, err := inputs.ParseHashGlobs()
	if err != nil {
		t.Fatal(err)
	}
	given, err := inputs.ParseHashGlobs("requirements.txt")
	if err != nil {
		t.Fatal(err)
	}
	files := func(h inputs.HashGlobs, eco string) string {
		fh, err := HashFiles(context.Background(), dir, KeyGlobs(h, eco))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(fh.Files, ",")
	}
	for _, tc := range []struct {
		h         inputs.HashGlobs
		eco, want string
	}{
		{def, "npm", "package-lock.json,package.json"},
		{def, "pip", "requirements.txt"},
		{def, "uv", "requirements.txt"},
		{def, "", "requirements.txt"},
		{given, "npm", "requirements.txt"},
	} {
		if got := files(tc.h, tc.eco); got != tc.want {
			t.Errorf("%s cache, mount-cache-hash-files %q: keyed on %q, want %q", tc.eco, tc.h, got, tc.want)
		}
	}
	// action.yml passes the default list as written: still the default.
	asWritten, err := inputs.ParseHashGlobs(inputs.DefaultHashFiles...)
	if err != nil {
		t.Fatal(err)
	}
	if got := files(asWritten, "npm"); got != "package-lock.json,package.json" {
		t.Errorf("npm cache with action.yml's default list: keyed on %q", got)
	}
	all := strings.Join(AllKeyGlobs(def), ",")
	if !strings.Contains(all, "package-lock.json") || !strings.Contains(all, "requirements/*.txt") {
		t.Errorf("AllKeyGlobs(default) = %s, want every ecosystem's key files", all)
	}
}

// What npm 9.2.0 (Debian bookworm) prints, seen on the stack's node image: a fetch line
// per tarball asked of the registry, nothing for one taken from the cache by integrity.
func TestNpmStatsCountsTarballsFromItsCache(t *testing.T) {
	cmd := []string{"npm ci --loglevel=http --no-audit"}
	cold := "npm http fetch GET 200 http://127.0.0.1:39551/wb-c/-/wb-c-1.0.0.tgz 74ms (cache miss)\n" +
		"npm http fetch GET 200 http://127.0.0.1:39551/wb-a/-/wb-a-1.0.0.tgz 67ms (cache miss)\n" +
		"npm http fetch GET 200 http://127.0.0.1:39551/wb-b/-/wb-b-1.0.0.tgz 66ms (cache miss)\n\n" +
		"added 3 packages in 207ms\n"
	warm := "\nadded 3 packages in 126ms\n"
	partial := "\x1b[37;40mnpm\x1b[0m \x1b[0m\x1b[35mhttp fetch\x1b[0m GET 200 http://127.0.0.1:39551/wb-d/-/wb-d-1.0.0.tgz 9ms (cache miss)\n" +
		"npm http fetch GET 200 http://127.0.0.1:39551/wb-d/-/wb-d-1.0.0.tgz 9ms attempt #2 (cache miss)\n" +
		"npm http fetch GET 200 http://127.0.0.1:39551/wb-a 3ms (cache revalidated)\n" +
		"added 4 packages, and audited 5 packages in 1s\n"
	for _, tc := range []struct {
		name, log string
		cmds      []string
		want      PackageStats
	}{
		{"cold", cold, cmd, PackageStats{Total: 3, Cached: 0}},
		{"warm", warm, cmd, PackageStats{Total: 3, Cached: 3}},
		{"partial", partial, cmd, PackageStats{Total: 4, Cached: 3}},
		{"partial, level seen in the log only", partial, []string{"npm ci"}, PackageStats{Total: 4, Cached: 3}},
		{"changed", "added 1 package, changed 2 packages, and audited 4 packages in 1s\n", []string{"npm_config_loglevel=http npm i"}, PackageStats{Total: 3, Cached: 3}},
		// At npm's default log level a warm install looks like a cold one: no count.
		{"default level", warm, []string{"npm ci"}, PackageStats{}},
		{"nothing added", "up to date in 80ms\n", cmd, PackageStats{}},
	} {
		if got := npmStats(tc.log, tc.cmds); got != tc.want {
			t.Errorf("%s: npmStats = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

const npmDockerfile = "FROM node:20-bookworm\nWORKDIR /app\nCOPY package.json package-lock.json ./\nRUN --mount=type=cache,target=/root/.npm npm ci --loglevel=http\n"

// An npm mount found by auto is keyed on package-lock.json (the default key files), and
// its outcome names npm and counts its tarballs from npm's own log.
func TestEngineNpmMount(t *testing.T) {
	f := newFixture(t, npmDockerfile, "auto")
	def, err := inputs.ParseHashGlobs()
	if err != nil {
		t.Fatal(err)
	}
	f.req.HashFiles = def
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(f.req.ContextDir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("package.json", `{"name":"app"}`)
	write("package-lock.json", `{"lockfileVersion":3,"v":1}`)
	step := "[4/4] RUN --mount=type=cache,target=/root/.npm npm ci --loglevel=http"
	log := "npm http fetch GET 200 http://127.0.0.1:4873/b/-/b-1.0.0.tgz 3ms (cache miss)\n" +
		"added 3 packages in 90ms\n"
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
	if ms.Ecosystem != "npm" || ms.Packages == nil || *ms.Packages != (PackageStats{Total: 3, Cached: 2}) {
		t.Errorf("npm mount: ecosystem %q, packages %+v", ms.Ecosystem, ms.Packages)
	}
	if res.PackagesTotal != 3 || res.PackagesCached != 2 || res.PipTotal != 0 {
		t.Errorf("totals: packages %d/%d, pip %d", res.PackagesCached, res.PackagesTotal, res.PipTotal)
	}
	key := ms.Key

	keyNow := func() string {
		t.Helper()
		return only(t, f.restore(t).Save(context.Background(), okBuild)).Key
	}
	write("requirements.txt", "wb-core==2.0\n") // a Python file: not npm's key
	if k := keyNow(); k != key {
		t.Errorf("npm key changed with requirements.txt: %s -> %s", key, k)
	}
	write("package-lock.json", `{"lockfileVersion":3,"v":2}`)
	if k := keyNow(); k == key {
		t.Errorf("npm key %s unchanged although package-lock.json changed", k)
	}
}

// Go's caches are found (build cache, module cache, /root/.cache on go build) and named,
// but auto leaves them out (build caches grow with every commit); mount-caches: go
// carries them, keyed on go.sum.
func TestGoMountsSelectedByNameOnly(t *testing.T) {
	mounts := discoverFile(t, "go-build-cache")
	if sel, _ := (Selector{}).Select(mounts); len(sel) != 0 {
		t.Errorf("auto selects %d Go mounts, want none", len(sel))
	}
	sel, unmatched := selectorOf(t, "go").Select(mounts)
	var got []string
	for _, m := range sel {
		got = append(got, m.Path+"@"+strconv.Itoa(m.Line))
	}
	if want := "/go/pkg/mod@4 /root/.cache@7 /go/pkg/mod@7 /root/.cache/go-build@10"; strings.Join(got, " ") != want || len(unmatched) != 0 {
		t.Errorf("mount-caches: go selects %q (unmatched %q), want %q", got, unmatched, want)
	}
	def, err := inputs.ParseHashGlobs()
	if err != nil {
		t.Fatal(err)
	}
	if g := KeyGlobs(def, "go").Globs(); len(g) == 0 || g[0] != "go.sum" {
		t.Errorf("Go's key files %v, want go.sum first", g)
	}
}

// npm's output is the build's, not ours: whatever it holds, the counts stay sane.
func FuzzNpmStats(f *testing.F) {
	f.Add("npm http fetch GET 200 http://127.0.0.1:1/a/-/a-1.0.0.tgz 3ms (cache miss)\nadded 1 package in 1s\n", "npm ci --loglevel=http")
	f.Add("added 99999999999999999999 packages\n", "npm ci -d")
	f.Fuzz(func(t *testing.T, log, cmd string) {
		st := npmStats(log, []string{cmd})
		if st.Cached < 0 || st.Cached > st.Total || st.Total < 0 {
			t.Fatalf("npmStats = %+v", st)
		}
	})
}
