package mountcache

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The logs in testdata/piplogs are pip 23's output from the fixture app's pip step on
// the local stack (scripts/stack), with BuildKit's "#N time" prefixes taken off, as
// builder.Result.Logs returns them.
func TestPipLogStatsFromRealPipRuns(t *testing.T) {
	cases := []struct {
		file              string
		total, cached     int
		downloaded, built []string
	}{
		// Cold: 7 wheels downloaded, 4 sdists downloaded and built, nothing cached.
		{"pip23-cold.txt", 11, 0,
			[]string{"wb-cli", "wb-config", "wb-core", "wb-crypt", "wb-fastmath", "wb-http", "wb-imaging", "wb-json", "wb-log", "wb-util", "wb-yamlish"},
			[]string{"wb-crypt", "wb-fastmath", "wb-imaging", "wb-yamlish"}},
		// One package added to a warm cache: the 11 old ones cached (HTTP cache and built
		// wheels), only the new one fetched.
		{"pip23-partial.txt", 12, 11, []string{"wb-extra"}, nil},
		// Everything cached, then a second pip run whose package is already installed:
		// that one does not count twice, nor as a miss.
		{"pip23-warm-then-already-satisfied.txt", 12, 12, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "piplogs", c.file))
			if err != nil {
				t.Fatal(err)
			}
			st := ParsePipLog(string(b))
			if st.Total != c.total || st.Cached != c.cached || !slices.Equal(st.Downloaded, c.downloaded) || !slices.Equal(st.Built, c.built) {
				t.Errorf("got %+v\nwant total %d cached %d downloaded %v built %v", st, c.total, c.cached, c.downloaded, c.built)
			}
		})
	}
}

// Lines of other pip versions, written after their documented formats (pip 24 fetches
// metadata first; pip 20 names cached wheels by path), and names in other spellings.
func TestPipLogOtherFormats(t *testing.T) {
	log := "Collecting Requests[socks]>=2.0 (from -r requirements.txt (line 1))\n" +
		"  Downloading requests-2.32.0-py3-none-any.whl.metadata (4.6 kB)\n" +
		"  Using cached requests-2.32.0-py3-none-any.whl (64 kB)\n" +
		"Collecting zope.interface\n" +
		"  Processing /root/.cache/pip/wheels/ab/cd/zope.interface-6.0-cp311-linux_x86_64.whl\n" +
		"Collecting numpy==1.26.4\n" +
		"  Downloading numpy-1.26.4.tar.gz.metadata (2 kB)\n" +
		"  Downloading numpy-1.26.4.tar.gz (15.8 MB)\n" +
		"\x1b[2K  Building wheel for numpy (pyproject.toml): started\n"
	st := ParsePipLog(log)
	if st.Total != 3 || st.Cached != 2 || !slices.Equal(st.Downloaded, []string{"numpy"}) || !slices.Equal(st.Built, []string{"numpy"}) {
		t.Errorf("got %+v", st)
	}
}

func TestPipLogWithoutPipCountsNothing(t *testing.T) {
	if st := ParsePipLog("Reading package lists...\nSetting up curl (7.88.1-10)\n"); st.Total != 0 || st.Cached != 0 {
		t.Errorf("got %+v", st)
	}
}
