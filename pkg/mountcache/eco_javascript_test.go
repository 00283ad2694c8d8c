package mountcache

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// The goldens pin everything; these spell out what matters about yarn's and pnpm's
// mounts, so a careless -update cannot bless a wrong answer.
func TestDiscoverYarnAndPnpmCaches(t *testing.T) {
	reason := func(ms []Mount, line int) string {
		t.Helper()
		m := find(t, ms, line, 0)
		if m.Reason != "" && m.Ecosystem == "" {
			t.Errorf("line %d: a reason without an ecosystem: %+v", line, m)
		}
		return m.Ecosystem + ": " + m.Reason
	}
	for _, tc := range []struct {
		file string
		line int
		want string // "" when no ecosystem claims the mount
	}{
		// yarn 1 as root: /usr/local/share/.cache/yarn (user-home-dir.js), not /root.
		{"yarn-classic", 5, "yarn: target is yarn's cache directory (yarn 1's default for root)"},
		{"yarn-classic", 7, ""},
		{"yarn-classic", 9, "--cache-folder on the command line"},
		{"yarn-classic", 11, "$YARN_CACHE_FOLDER"},
		{"yarn-classic", 13, "yarn: target is yarn's cache directory"},
		{"yarn-classic", 15, ""}, // npm ci
		{"yarn-classic", 17, ""}, // node_modules
		{"yarn-classic", 23, "$XDG_CACHE_HOME/yarn"},
		{"yarn-classic", 25, "target contains yarn's cache directory /var/cache/yarn"},
		{"yarn-classic", 31, "default for user node"},
		{"yarn-classic", 33, ""}, // root's default on a RUN as node
		{"yarn-berry", 6, "yarn: target is yarn's global cache"},
		{"yarn-berry", 8, "yarn: target is yarn's project cache"},
		{"yarn-berry", 10, "$YARN_GLOBAL_FOLDER/cache"},
		{"yarn-berry", 12, "$YARN_CACHE_FOLDER"},
		{"yarn-berry", 14, ""}, // corepack prepare
		// pnpm's documented Dockerfile: ENV PNPM_HOME=/pnpm, the store at /pnpm/store.
		{"pnpm-docs", 10, "pnpm: target is pnpm's store ($PNPM_HOME/store)"},
		{"pnpm-docs", 13, "pnpm: target is pnpm's store ($PNPM_HOME/store)"},
		{"pnpm-docs", 16, ""}, // npm ci
		{"pnpm-docs", 19, ""}, // PNPM_HOME itself: pnpm moves its store off the mount
		{"pnpm-store-dir", 5, "pnpm: target is pnpm's store (default for user root)"},
		{"pnpm-store-dir", 7, "pnpm: target is pnpm's store"},
		{"pnpm-store-dir", 9, "--store-dir on the command line"},
		{"pnpm-store-dir", 10, "target contains pnpm's store /cache/pnpm"},
		{"pnpm-store-dir", 12, "pnpm: "},
		{"pnpm-store-dir", 15, "pnpm 6's default"},
		{"pnpm-store-dir", 17, ""}, // ~/.cache: pnpm's metadata, not its store
		{"pnpm-store-dir", 21, "$npm_config_store_dir"},
		{"pnpm-store-dir", 23, "$npm_config_store_dir"}, // the setting beats XDG_DATA_HOME
		{"pnpm-store-dir", 29, "default for user node"},
		{"pnpm-store-dir", 31, ""},
	} {
		got := reason(discoverFile(t, tc.file), tc.line)
		if tc.want == "" && got != ": " || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s line %d: got %q, want %q", tc.file, tc.line, got, tc.want)
		}
	}
}

// mount-caches: pnpm and yarn select those ecosystems' mounts (pnpm's docs Dockerfile:
// the store on both install steps, not the npm step's nor the PNPM_HOME mount).
func TestSelectYarnAndPnpmByName(t *testing.T) {
	lines := func(ms []Mount) string {
		var s []string
		for _, m := range ms {
			s = append(s, strconv.Itoa(m.Line))
		}
		return strings.Join(s, ",")
	}
	for _, tc := range []struct{ file, input, want, unmatched string }{
		{"pnpm-docs", "pnpm", "10,13", ""},
		{"pnpm-docs", "auto", "10,13", ""},
		{"pnpm-docs", "yarn", "", "yarn"},
		{"yarn-berry", "YARN", "6,8,10,12", ""},
		{"yarn-berry", "pnpm,npm", "", "npm,pnpm"},
	} {
		sel, unmatched := selectorOf(t, tc.input).Select(discoverFile(t, tc.file))
		if got := lines(sel); got != tc.want {
			t.Errorf("%s, mount-caches: %s selects lines %q, want %q", tc.file, tc.input, got, tc.want)
		}
		if got := strings.Join(unmatched, ","); got != tc.unmatched {
			t.Errorf("%s, mount-caches: %s leaves %q unmatched, want %q", tc.file, tc.input, got, tc.unmatched)
		}
	}
}

// Left at its default, mount-cache-hash-files keys a yarn cache on yarn.lock and a pnpm
// store on pnpm-lock.yaml (with package.json), not on each other's lockfile.
func TestKeyGlobsYarnAndPnpm(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"package.json": `{"name":"app"}`, "yarn.lock": "# yarn lockfile v1\n",
		"pnpm-lock.yaml": "lockfileVersion: '9.0'\n", "package-lock.json": "{}",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	def, err := inputs.ParseHashGlobs()
	if err != nil {
		t.Fatal(err)
	}
	for eco, want := range map[string]string{"yarn": "package.json,yarn.lock", "pnpm": "package.json,pnpm-lock.yaml"} {
		fh, err := HashFiles(context.Background(), dir, KeyGlobs(def, eco))
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(fh.Files, ","); got != want {
			t.Errorf("%s cache keyed on %q, want %q", eco, got, want)
		}
	}
	all := strings.Join(AllKeyGlobs(def), ",")
	if !strings.Contains(all, "yarn.lock") || !strings.Contains(all, "pnpm-lock.yaml") {
		t.Errorf("AllKeyGlobs(default) = %s, want yarn.lock and pnpm-lock.yaml among them", all)
	}
}

// pnpm's progress lines, as real installs print them (non-TTY, the append-only reporter).
func TestPnpmStats(t *testing.T) {
	for _, tc := range []struct {
		name, log     string
		total, cached int
	}{
		{
			// pnpm 10.34.9 (what the stack's node image has), against tools/npmreg: the
			// lockfile bumped one of three packages, the store held the other two.
			name: "pnpm 10, partial hit",
			log: "Lockfile is up to date, resolution step is skipped\n" +
				"Progress: resolved 1, reused 0, downloaded 0, added 0\n" +
				"Packages: +3\n+++\n" +
				"Progress: resolved 3, reused 2, downloaded 1, added 3, done\n\n" +
				"dependencies:\n+ wb-left 1.0.0\n+ wb-pad 2.0.0\n+ wb-right 1.0.0\n\n" +
				"Done in 1.4s using pnpm v10.34.9\n",
			total: 3, cached: 2,
		},
		{
			// pnpm 10 in a CI log, a warm store (pnpm/pnpm#9286), cut short of ", done".
			name: "warm store, no done line",
			log: "Lockfile is up to date, resolution step is skipped\n" +
				"Progress: resolved 1, reused 0, downloaded 0, added 0\n" +
				"Packages: +3417\n++++++++++++++++++++++++++++++\n" +
				"Progress: resolved 3417, reused 703, downloaded 0, added 0\n" +
				"Progress: resolved 3417, reused 2974, downloaded 0, added 0\n" +
				"Progress: resolved 3417, reused 3412, downloaded 0, added 172\n",
			total: 3412, cached: 3412,
		},
		{
			// pnpm 6 (pnpm/pnpm#4397): the final line of an install.
			name: "done line",
			log: "Progress: resolved 6939, reused 6522, downloaded 1, added 6000\n" +
				"Progress: resolved 6939, reused 6628, downloaded 311, added 6939, done\n" +
				"\ndependencies:\n+ wb-left 1.0.0\n\nDone in 2.1s\n",
			total: 6939, cached: 6628,
		},
		{
			// A workspace project's lines carry its directory (aws-amplify/amplify-hosting#3788),
			// here with BuildKit's step prefix before it; two projects add up.
			name: "workspace projects",
			log: "#12 4.1 ../..                                    | Progress: resolved 0, reused 0, downloaded 579, added 736\n" +
				"#12 5.0 packages/web                             | Progress: resolved 10, reused 8, downloaded 2, added 10, done\n" +
				"#12 6.0 ../..                                    | Progress: resolved 0, reused 10, downloaded 882, added 1250, done\n",
			total: 8 + 2 + 10 + 882, cached: 8 + 10,
		},
		{
			name:  "coloured, without added",
			log:   "Progress: resolved \x1b[96m3\x1b[39m, reused \x1b[96m2\x1b[39m, downloaded \x1b[96m1\x1b[39m, done\n",
			total: 3, cached: 2,
		},
		{
			// pnpm fetch, then an install from the same store in another RUN step: each
			// install's own counts add up.
			name: "two installs",
			log: "Progress: resolved 3, reused 0, downloaded 3, added 0, done\n" +
				"Progress: resolved 3, reused 3, downloaded 0, added 3, done\n",
			total: 6, cached: 3,
		},
		{name: "npm output", log: "added 3 packages in 207ms\n", total: 0, cached: 0},
		{name: "absurd numbers", log: "Progress: resolved 1, reused 99999999999999999999, downloaded 1, added 1, done\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := pnpmStats(tc.log, nil)
			if st.Total != tc.total || st.Cached != tc.cached {
				t.Errorf("got %d cached of %d, want %d of %d", st.Cached, st.Total, tc.cached, tc.total)
			}
		})
	}
	// Through the table: the pnpm ecosystem counts, yarn gives no count.
	if st := ecosystemStats("pnpm", "Progress: resolved 2, reused 1, downloaded 1, added 2, done\n", nil); st == nil || st.Total != 2 || st.Cached != 1 {
		t.Errorf("ecosystemStats(pnpm) = %+v", st)
	}
	// yarn 1.22.22's whole output, cold or warm alike: no count to read.
	if st := ecosystemStats("yarn", "yarn install v1.22.22\n[1/4] Resolving packages...\n[2/4] Fetching packages...\n[3/4] Linking dependencies...\n[4/4] Building fresh packages...\nDone in 0.29s.\n", nil); st != nil {
		t.Errorf("ecosystemStats(yarn) = %+v, want no count", st)
	}
}

// FuzzPnpmStats: no output makes the parser panic or give counts that make no sense.
//
//	go test ./pkg/mountcache -run '^$' -fuzz FuzzPnpmStats -fuzztime 60s
func FuzzPnpmStats(f *testing.F) {
	f.Add("Progress: resolved 3, reused 2, downloaded 1, added 3, done\n")
	f.Add("a | Progress: resolved 0, reused 5, downloaded 5, added 1\nb|Progress: resolved 1, reused 1, downloaded 0, done\n")
	f.Add("| Progress: resolved 1, reused 1048575, downloaded 1048575, added 0, done\n")
	f.Fuzz(func(t *testing.T, log string) {
		st := pnpmStats(log, nil)
		if st.Total < 0 || st.Cached < 0 || st.Cached > st.Total || st.Total > 1<<31 {
			t.Errorf("pnpmStats = %+v", st)
		}
	})
}
