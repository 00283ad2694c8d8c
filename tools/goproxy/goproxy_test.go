package goproxy

import (
	"archive/zip"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestServesModulesAndCounts(t *testing.T) {
	m := Module{Path: "wb.test/left", Version: "v1.0.0"}
	p, err := Start(m)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	get := func(path string) (int, []byte) {
		res, err := http.Get(p.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	if code, b := get("/wb.test/left/@v/list"); code != 200 || strings.TrimSpace(string(b)) != "v1.0.0" {
		t.Errorf("list: %d %q", code, b)
	}
	code, b := get(ZipPath(m))
	if code != 200 {
		t.Fatalf("zip: %d", code)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if !strings.HasPrefix(f.Name, "wb.test/left@v1.0.0/") {
			t.Errorf("zip member %s outside the module's prefix", f.Name)
		}
	}
	if code, _ := get("/wb.test/other/@v/list"); code != 404 {
		t.Errorf("unknown module: %d", code)
	}
	if p.ZipRequests() != 1 || p.Requests()["/wb.test/left/@v/list"] != 1 {
		t.Errorf("counts %v", p.Requests())
	}
}
