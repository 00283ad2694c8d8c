package archive

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// makeAged writes files of the given sizes whose mtimes increase in list order.
func makeAged(t *testing.T, root string, files []string, size int) {
	t.Helper()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, rel := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
		mt := base.Add(time.Duration(i) * time.Hour)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
}

func TestPruneKeepsNewestFilesUnderTheCap(t *testing.T) {
	root := t.TempDir()
	// Oldest first. The old wheel sits alone in its directory, which should go with it.
	order := []string{"wheels/old/a.whl", "http/1", "http/2", "http/3", "wheels/new/b.whl", "http/4"}
	makeAged(t, root, order, 1000)
	if err := os.MkdirAll(filepath.Join(root, "was-empty"), 0o755); err != nil {
		t.Fatal(err)
	}

	st, err := Prune(context.Background(), root, 3500)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 6 || st.Bytes != 6000 || st.RemovedFiles != 3 || st.RemovedBytes != 3000 {
		t.Errorf("stats: %+v", st)
	}
	got := strings.Join(listTree(t, root), " ")
	want := "http http/3 http/4 was-empty wheels wheels/new wheels/new/b.whl"
	if got != want {
		t.Errorf("after prune:\n got %s\nwant %s", got, want)
	}
	if st.RemovedDirs != 1 {
		t.Errorf("removed %d directories, want wheels/old only", st.RemovedDirs)
	}
}

func TestPruneLeavesSmallCachesAlone(t *testing.T) {
	root := t.TempDir()
	makeAged(t, root, []string{"a", "b"}, 100)
	st, err := Prune(context.Background(), root, 200)
	if err != nil {
		t.Fatal(err)
	}
	if st.RemovedFiles != 0 || len(listTree(t, root)) != 2 {
		t.Errorf("pruned a cache already under the cap: %+v", st)
	}
}

func TestPruneByAccessTimeKeepsRecentlyReadFiles(t *testing.T) {
	root := t.TempDir()
	makeAged(t, root, []string{"read-lately", "written-lately"}, 100)
	// The older file was read after the newer one was written.
	read := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	old := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "read-lately"), read, old); err != nil {
		t.Fatal(err)
	}
	if _, err := Prune(context.Background(), root, 100, PruneByAccessTime()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(listTree(t, root), " "); got != "read-lately" {
		t.Errorf("by access time kept %q, want read-lately", got)
	}
}

func TestWriteDoesNotBumpAccessTimes(t *testing.T) {
	root := t.TempDir()
	makeAged(t, root, []string{"f"}, 10)
	p := filepath.Join(root, "f")
	before, _ := os.Stat(p)
	if _, err := Write(context.Background(), discard{}, root); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(p)
	if !statAtime(after).Equal(statAtime(before)) {
		t.Errorf("archiving changed the access time from %v to %v", statAtime(before), statAtime(after))
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
