package aptrepo

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"testing"
)

func get(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// apt reads the Release's hash of Packages and the Packages' hash of each archive, asking
// a flat repository "./" for /./Release and /./<Filename>: each must agree with what is
// served, and each request is counted by its clean path.
func TestRepoServesAConsistentFlatRepository(t *testing.T) {
	p := Package{Name: "wb-a", Version: "1.0"}
	r, err := Start(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	index := get(t, r.URL+"/./Packages")
	sum := sha256.Sum256(index)
	if rel := string(get(t, r.URL+"/./Release")); !strings.Contains(rel, hex.EncodeToString(sum[:])+" ") {
		t.Errorf("Release does not hold the Packages' hash:\n%s", rel)
	}
	if !strings.Contains(string(index), "Filename: wb-a_1.0_all.deb\n") {
		t.Fatalf("Packages:\n%s", index)
	}
	deb := get(t, r.URL+"/./wb-a_1.0_all.deb")
	dsum := sha256.Sum256(deb)
	if !strings.Contains(string(index), "SHA256: "+hex.EncodeToString(dsum[:])) || !strings.HasPrefix(string(deb), "!<arch>\ndebian-binary   ") {
		t.Errorf("archive of %d bytes does not match its index entry or is no ar archive", len(deb))
	}
	if r.DebRequests() != 1 || r.Requests()["/Release"] != 1 {
		t.Errorf("requests %v", r.Requests())
	}
}
