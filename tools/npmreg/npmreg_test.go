package npmreg

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServesWhatTheLockfileNamesAndCounts(t *testing.T) {
	a, b := Package{"wb-a", "1.0.0"}, Package{"wb-b", "2.0.0"}
	r, err := Start(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, lock := r.Lockfile(a, b)
	var lf struct {
		Packages map[string]struct{ Resolved, Integrity string }
	}
	if err := json.Unmarshal(lock, &lf); err != nil {
		t.Fatal(err)
	}
	entry := lf.Packages["node_modules/wb-b"]
	res, err := http.Get(entry.Resolved)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	sum := sha512.Sum512(body)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); res.StatusCode != 200 || got != entry.Integrity {
		t.Fatalf("GET %s: %d, integrity %s, lockfile says %s", entry.Resolved, res.StatusCode, got, entry.Integrity)
	}
	res, err = http.Get(r.URL + "/wb-a")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		DistTags map[string]string `json:"dist-tags"`
	}
	json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if doc.DistTags["latest"] != "1.0.0" {
		t.Errorf("packument of wb-a: %+v", doc)
	}
	if n := r.TarballRequests(); n != 1 || r.Requests()[TarballPath(b)] != 1 {
		t.Errorf("tarball requests %d, %v", n, r.Requests())
	}
	// Same package, same bytes: a lockfile made on another run stays valid.
	again, _ := tarball(b)
	if string(again) != string(body) {
		t.Error("tarball not reproducible")
	}
}

// pnpm and npm ask for the abbreviated metadata; the stand-in answers with it, as the
// real registry does (its media type, name, modified, dist-tags, versions with dist),
// and with the full document to anyone else.
func TestServesAbbreviatedMetadataWhenAsked(t *testing.T) {
	a1, a2 := Package{"wb-a", "1.0.0"}, Package{"wb-a", "2.0.0"}
	r, err := Start(a1, a2)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	get := func(accept string) (string, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, r.URL+"/wb-a", nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(res.Body).Decode(&doc); err != nil || res.StatusCode != 200 {
			t.Fatalf("GET /wb-a (Accept %q): %d %v", accept, res.StatusCode, err)
		}
		return res.Header.Get("Content-Type"), doc
	}
	// What pnpm 10 sends (pnpm/pnpm network/fetch/src/fetchFromRegistry.ts).
	ct, doc := get("application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*")
	if ct != "application/vnd.npm.install-v1+json" || doc["modified"] == nil || doc["time"] != nil || doc["name"] != "wb-a" {
		t.Errorf("abbreviated: content type %q, %v", ct, doc)
	}
	v2, _ := doc["versions"].(map[string]any)["2.0.0"].(map[string]any)
	dist, _ := v2["dist"].(map[string]any)
	if dist["tarball"] != r.Tarball(a2) || dist["integrity"] != r.Integrity(a2) || doc["dist-tags"].(map[string]any)["latest"] != "2.0.0" {
		t.Errorf("abbreviated version 2.0.0: %v, dist-tags %v", v2, doc["dist-tags"])
	}
	ct, doc = get("")
	if ct != "application/json" || doc["time"] == nil || doc["_id"] != "wb-a" {
		t.Errorf("full packument: content type %q, %v", ct, doc)
	}
}

// pnpm-lock.yaml and yarn.lock name each package once with its integrity (pnpm) or its
// tarball on this registry (yarn), in a stable order.
func TestPnpmAndYarnLockfiles(t *testing.T) {
	a, b := Package{"wb-b", "1.0.0"}, Package{"wb-a", "2.0.0"}
	r, err := Start(a, b)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pj, lock := r.PnpmLockfile(a, b)
	want := "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\n" +
		"importers:\n\n  .:\n    dependencies:\n" +
		"      wb-a:\n        specifier: 2.0.0\n        version: 2.0.0\n" +
		"      wb-b:\n        specifier: 1.0.0\n        version: 1.0.0\n\n" +
		"packages:\n\n  wb-a@2.0.0:\n    resolution: {integrity: " + r.Integrity(b) + "}\n\n" +
		"  wb-b@1.0.0:\n    resolution: {integrity: " + r.Integrity(a) + "}\n\n" +
		"snapshots:\n\n  wb-a@2.0.0: {}\n\n  wb-b@1.0.0: {}\n"
	if string(lock) != want {
		t.Errorf("pnpm-lock.yaml:\n%s\nwant\n%s", lock, want)
	}
	var m struct{ Dependencies map[string]string }
	if err := json.Unmarshal(pj, &m); err != nil || m.Dependencies["wb-a"] != "2.0.0" || m.Dependencies["wb-b"] != "1.0.0" {
		t.Errorf("package.json %s: %v", pj, err)
	}
	_, ylock := r.YarnLockfile(a, b)
	if !strings.Contains(string(ylock), "# yarn lockfile v1\n") ||
		!strings.Contains(string(ylock), "\nwb-a@2.0.0:\n  version \"2.0.0\"\n  resolved \""+r.Tarball(b)+"#") ||
		!strings.Contains(string(ylock), "  integrity "+r.Integrity(a)+"\n") {
		t.Errorf("yarn.lock:\n%s", ylock)
	}
}
