package stackenv

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadTakesTheShellSyntaxUpShWrites(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WARMBUILD_STACK", dir)
	body := "# Written by scripts/stack/up.sh\nexport REGISTRY=127.0.0.1:5000\nPYPI_URL=\"http://127.0.0.1:3141/simple\"\n  export KEY='a=b'\n"
	if err := os.WriteFile(filepath.Join(dir, "env"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	env, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"REGISTRY": "127.0.0.1:5000", "PYPI_URL": "http://127.0.0.1:3141/simple", "KEY": "a=b"}
	if len(env) != len(want) {
		t.Errorf("read %v, want %v", env, want)
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	t.Setenv("WARMBUILD_STACK", filepath.Join(dir, "missing"))
	if _, err := Read(); err == nil {
		t.Errorf("a missing stack must be an error that says how to start it")
	}
}
