package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func generatedIndex(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	spec := writeSpec(t, dir, "s.json", `{"packages": [
		{"name": "wb-core", "version": "1.0.0"},
		{"name": "wb-slow", "version": "0.1.0", "kind": "sdist", "buildSeconds": 1}
	]}`)
	pkgs, err := loadSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "index")
	if _, err := generate(context.Background(), pkgs, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func get(t *testing.T, client *http.Client, method, url string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestServerSendsCacheableFilesAndShortLivedPages(t *testing.T) {
	dir := generatedIndex(t)
	srv := httptest.NewServer(indexHandler(dir, nil))
	defer srv.Close()
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, page := range []string{"/simple/", "/simple/wb-core/"} {
		resp, body := get(t, srv.Client(), http.MethodGet, srv.URL+page)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", page, resp.Status)
		}
		if got := resp.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q, want text/html", page, got)
		}
		if got := resp.Header.Get("Cache-Control"); got != "max-age=600" {
			t.Errorf("GET %s: Cache-Control %q, want max-age=600", page, got)
		}
		if page == "/simple/wb-core/" && !strings.Contains(string(body), "wb_core-1.0.0-py3-none-any.whl#sha256=") {
			t.Errorf("project page does not link the wheel:\n%s", body)
		}
	}

	files := map[string]string{"wb_core-1.0.0-py3-none-any.whl": "application/zip", "wb_slow-0.1.0.tar.gz": "application/x-tar"}
	for name, ctype := range files {
		resp, body := get(t, srv.Client(), http.MethodGet, srv.URL+"/files/"+name)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s", name, resp.Status)
		}
		if got := resp.Header.Get("Cache-Control"); got != "max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q: pip would not cache it", name, got)
		}
		if got := resp.Header.Get("Content-Type"); got != ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", name, got, ctype)
		}
		if got := resp.Header.Get("Content-Encoding"); got != "" {
			t.Errorf("GET %s: Content-Encoding %q would make pip decode the archive", name, got)
		}
		sum := sha256.Sum256(body)
		if got, want := hex.EncodeToString(sum[:]), fileSHA256(t, filepath.Join(dir, "files", name)); got != want {
			t.Errorf("GET %s: served bytes hash to %s, file is %s", name, got, want)
		}
	}

	// pip asks for /simple/<name>/; without the slash it must be sent there.
	resp, _ := get(t, noRedirect, http.MethodGet, srv.URL+"/simple/wb-core")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "wb-core/" {
		t.Errorf("GET /simple/wb-core: %s to %q, want a redirect to wb-core/", resp.Status, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, srv.Client(), http.MethodGet, srv.URL+"/simple/wb-missing/"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown project: %s, want 404", resp.Status)
	}
	if resp, _ := get(t, srv.Client(), http.MethodPost, srv.URL+"/simple/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s, want 405", resp.Status)
	}
}

func TestServeAnswersUntilContextIsCancelled(t *testing.T) {
	dir := generatedIndex(t)
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, dir, "127.0.0.1:0", nil, func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("serve failed to start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not start listening within 10s")
	}
	resp, _ := get(t, http.DefaultClient, http.MethodGet, "http://"+addr.String()+"/simple/")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /simple/: %s", resp.Status)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve returned %v after cancel, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop within 10s of cancel")
	}
}
