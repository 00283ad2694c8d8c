package mountcache

import (
	"os"
	"path/filepath"
	"testing"
)

func aptLog(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "aptlog", name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The logs in testdata/aptlog are apt-get 2.6.1's (Debian bookworm) own output, with a
// private Dir::Cache: `apt-get install -y --download-only cowsay figlet sl` cold (4
// archives fetched), warm (none), then with figlet's archive removed (1 fetched); and an
// apt-get update of one source (index files, not packages).
func TestAptStatsCountsArchivesFromItsCache(t *testing.T) {
	cold, warm, partial, update := aptLog(t, "cold"), aptLog(t, "warm"), aptLog(t, "partial"), aptLog(t, "update")
	// What dpkg prints after the downloads of a real install (not --download-only).
	dpkg := "debconf: delaying package configuration, since apt-utils is not installed\n" +
		"Selecting previously unselected package figlet.\n" +
		"(Reading database ... 6672 files and directories currently installed.)\n" +
		"Preparing to unpack .../figlet_2.2.5-3+b1_amd64.deb ...\n" +
		"Unpacking figlet (2.2.5-3+b1) ...\n" +
		"Setting up figlet (2.2.5-3+b1) ...\n"
	// apt 3's `apt install` summary, as apt-private/private-output.cc and
	// private-install.cc write it at APT::Output-Version 30.
	apt3 := "Summary:\n  Upgrading: 0, Installing: 2, Reinstalling: 1, Removing: 0, Not Upgrading: 5\n" +
		"  Download size: 50.0 kB / 80.0 kB\n  Space needed: 200 kB / 10.0 GB available\n\n" +
		"Get:1 http://deb.debian.org/debian trixie/main amd64 sl amd64 5.02-1+b2 [50.0 kB]\n" +
		"Fetched 50.0 kB in 0s (400 kB/s)\n"
	for _, tc := range []struct {
		name, log string
		want      PackageStats
	}{
		{"cold", cold, PackageStats{Total: 4, Cached: 0}},
		{"warm", warm, PackageStats{Total: 4, Cached: 4}},
		{"partial", partial, PackageStats{Total: 4, Cached: 3}},
		// apt-get update's Get lines fetch index files, not packages.
		{"update only", update, PackageStats{}},
		{"update then install", update + partial + dpkg, PackageStats{Total: 4, Cached: 3}},
		{"warm install, then an update", warm + dpkg + update, PackageStats{Total: 4, Cached: 4}},
		{"two installs", cold + dpkg + partial + dpkg, PackageStats{Total: 8, Cached: 3}},
		{"apt 3", apt3, PackageStats{Total: 3, Cached: 2}},
		// apt-get 2.6.1 against a flat repository (tools/aptrepo): no arch in the Get lines.
		{"flat repository", "0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.\nNeed to get 1138 B of archives.\n" +
			"Get:1 http://127.0.0.1:43343 ./ wb-a 1.0 [568 B]\nGet:2 http://127.0.0.1:43343 ./ wb-b 1.0 [570 B]\nFetched 1138 B in 0s (89.4 kB/s)\n", PackageStats{Total: 2, Cached: 0}},
		{"-qq prints nothing", "", PackageStats{}},
		{"ANSI and CRLF", "\x1b[0m0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.\r\nGet:1 http://x/debian bookworm/main amd64 a amd64 1 [1 B]\r\nGet:1 http://x/debian bookworm/main amd64 a amd64 1 [1 B]\r\n", PackageStats{Total: 2, Cached: 1}},
	} {
		if got := aptStats(tc.log, nil); got != tc.want {
			t.Errorf("%s: aptStats = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// apt's output is the build's, not ours: whatever it holds, the counts stay sane.
func FuzzAptStats(f *testing.F) {
	f.Add("0 upgraded, 4 newly installed, 0 to remove and 143 not upgraded.\nGet:1 http://deb.debian.org/debian bookworm/main amd64 sl amd64 5.02-1+b1 [13.2 kB]\n")
	f.Add("99999999999999999999 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n")
	f.Add("Upgrading: 1, Installing: 2, Downgrading: 3, Removing: 0, Not Upgrading: 0\nGet:7 x\nGet:8 y\nGet:9 z\n")
	f.Fuzz(func(t *testing.T, log string) {
		st := aptStats(log, nil)
		if st.Cached < 0 || st.Cached > st.Total || st.Total < 0 {
			t.Fatalf("aptStats = %+v", st)
		}
	})
}
