package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// pnpm 10's store links v10/projects/<hash> to each project that used it
// (../../../../app). Such a link is left out of the archive (named in Skipped), so the
// rest extracts; before, the archive held it and Extract refused the whole archive.
func TestWriteLeavesOutLinksOutsideTheDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "v10", "projects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "v10", "index"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"v10/projects/f53b": "../../../../app", "abs": "/etc/passwd", "ok": "v10/index"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	st, err := Write(context.Background(), &buf, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Skipped) != 2 || st.Symlinks != 1 {
		t.Errorf("skipped %+v, %d symlinks written; want the two escaping links skipped, one written", st.Skipped, st.Symlinks)
	}
	out := t.TempDir()
	if _, err := Extract(context.Background(), &buf, out, DefaultLimits()); err != nil {
		t.Fatalf("extract: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "ok")); err != nil || string(b) != "x" {
		t.Errorf("the link inside the directory: %q %v", b, err)
	}
}
