package npmreg

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
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
