package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
	"testing"
)

func readZipFile(t *testing.T, f *zip.File) []byte {
	t.Helper()
	rc, err := f.Open()
	if err != nil {
		t.Fatalf("open %s: %v", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", f.Name, err)
	}
	return b
}

func TestWheelRecordListsEveryFileWithMatchingHash(t *testing.T) {
	p := Package{Name: "WB_Demo.Pkg", Version: "1.2.3", Kind: kindWheel, Summary: "demo",
		Requires: []string{"wb-util>=1.0", "wb-core==2.0.0"}, PaddingBytes: 4096}
	var buf bytes.Buffer
	if err := writeWheel(&buf, p); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("wheel is not a valid zip: %v", err)
	}
	const distInfo = "wb_demo_pkg-1.2.3.dist-info"
	contents := map[string][]byte{}
	for _, f := range zr.File {
		contents[f.Name] = readZipFile(t, f)
	}
	record, ok := contents[distInfo+"/RECORD"]
	if !ok {
		t.Fatalf("no %s/RECORD in %v", distInfo, keys(contents))
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(record)), "\n") {
		fields := strings.Split(line, ",")
		if len(fields) != 3 {
			t.Fatalf("RECORD line %q: want path,hash,size", line)
		}
		name := fields[0]
		listed[name] = true
		if name == distInfo+"/RECORD" {
			if fields[1] != "" || fields[2] != "" {
				t.Errorf("RECORD lists itself with a hash: %q", line)
			}
			continue
		}
		body, ok := contents[name]
		if !ok {
			t.Errorf("RECORD lists %s, which is not in the wheel", name)
			continue
		}
		sum := sha256.Sum256(body)
		if want := recordHash(sum[:]); fields[1] != want {
			t.Errorf("RECORD hash of %s = %s, content hashes to %s", name, fields[1], want)
		}
		if want := fmt.Sprint(len(body)); fields[2] != want {
			t.Errorf("RECORD size of %s = %s, content is %s bytes", name, fields[2], want)
		}
	}
	for name := range contents {
		if !listed[name] {
			t.Errorf("%s is in the wheel but not in RECORD", name)
		}
	}

	for _, want := range []string{"wb_demo_pkg/__init__.py", "wb_demo_pkg/_payload.bin", distInfo + "/METADATA", distInfo + "/WHEEL"} {
		if _, ok := contents[want]; !ok {
			t.Errorf("wheel lacks %s (has %v)", want, keys(contents))
		}
	}
	meta := string(contents[distInfo+"/METADATA"])
	for _, want := range []string{"Name: WB_Demo.Pkg\n", "Version: 1.2.3\n", "Requires-Dist: wb-util>=1.0\n", "Requires-Dist: wb-core==2.0.0\n"} {
		if !strings.Contains(meta, want) {
			t.Errorf("METADATA lacks %q:\n%s", want, meta)
		}
	}
	if w := string(contents[distInfo+"/WHEEL"]); !strings.Contains(w, "Tag: py3-none-any\n") || !strings.Contains(w, "Root-Is-Purelib: true\n") {
		t.Errorf("WHEEL does not declare a pure py3 wheel:\n%s", w)
	}
	if init := string(contents["wb_demo_pkg/__init__.py"]); !strings.Contains(init, "import wb_util") || !strings.Contains(init, "import wb_core") {
		t.Errorf("__init__.py does not import its dependencies:\n%s", init)
	}
	if got := len(contents["wb_demo_pkg/_payload.bin"]); got != 4096 {
		t.Errorf("padding payload is %d bytes, spec asked for 4096", got)
	}
}

func TestWheelPaddingIsIncompressibleAndDeterministic(t *testing.T) {
	p := Package{Name: "wb-heavy", Version: "1.0.0", Kind: kindWheel, PaddingBytes: 1 << 20}
	var a, b bytes.Buffer
	if err := writeWheel(&a, p); err != nil {
		t.Fatal(err)
	}
	if err := writeWheel(&b, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two wheels generated from the same package differ")
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := io.Copy(zw, p.paddingReader()); err != nil {
		t.Fatal(err)
	}
	zw.Close()
	if int64(gz.Len()) < p.PaddingBytes*99/100 {
		t.Errorf("padding of %d bytes gzips to %d: it should not compress", p.PaddingBytes, gz.Len())
	}
	other := p
	other.Version = "1.0.1"
	x, _ := io.ReadAll(io.LimitReader(p.paddingReader(), 64))
	y, _ := io.ReadAll(io.LimitReader(other.paddingReader(), 64))
	if bytes.Equal(x, y) {
		t.Error("two versions got the same padding: their wheels would deduplicate in a cache")
	}
}

func TestSdistHasPKGINFOAndSetupPyThatSleepsWhileBuilding(t *testing.T) {
	p := Package{Name: "wb-fastmath", Version: "1.4.0", Kind: kindSdist, BuildSeconds: 2.5,
		Summary: "slow", Requires: []string{"wb-util>=1.0"}}
	var buf bytes.Buffer
	if err := writeSdist(&buf, p); err != nil {
		t.Fatal(err)
	}
	gz, err := gzip.NewReader(&buf)
	if err != nil {
		t.Fatalf("sdist is not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("sdist is not a valid tar: %v", err)
		}
		if !strings.HasPrefix(hdr.Name, "wb_fastmath-1.4.0/") {
			t.Errorf("%s is outside the wb_fastmath-1.4.0/ directory", hdr.Name)
		}
		b, _ := io.ReadAll(tr)
		files[hdr.Name] = string(b)
	}
	for _, want := range []string{"wb_fastmath-1.4.0/PKG-INFO", "wb_fastmath-1.4.0/setup.py", "wb_fastmath-1.4.0/wb_fastmath/__init__.py"} {
		if _, ok := files[want]; !ok {
			t.Errorf("sdist lacks %s (has %v)", want, keys(files))
		}
	}
	if _, ok := files["wb_fastmath-1.4.0/pyproject.toml"]; ok {
		t.Error("sdist has a pyproject.toml: pip would need setuptools from the index for an isolated build")
	}
	info := files["wb_fastmath-1.4.0/PKG-INFO"]
	for _, want := range []string{"Name: wb-fastmath\n", "Version: 1.4.0\n", "Requires-Dist: wb-util>=1.0\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("PKG-INFO lacks %q:\n%s", want, info)
		}
	}
	setup := files["wb_fastmath-1.4.0/setup.py"]
	for _, want := range []string{"from setuptools import setup", "time.sleep(2.5)", `"bdist_wheel"`,
		`name="wb-fastmath"`, `version="1.4.0"`, `install_requires=["wb-util>=1.0"]`, `packages=["wb_fastmath"]`} {
		if !strings.Contains(setup, want) {
			t.Errorf("setup.py lacks %q:\n%s", want, setup)
		}
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
