package report

import (
	"bytes"
	"strings"
	"testing"
)

// recordingWriter keeps each write apart, to see that writes are passed on as they came.
type recordingWriter struct{ writes []string }

func (r *recordingWriter) Write(p []byte) (int, error) {
	r.writes = append(r.writes, string(p))
	return len(p), nil
}

func TestAHeldBuildLogComesOutAfterTheRestoreInTheWritesItWasMadeOf(t *testing.T) {
	out := &recordingWriter{}
	held := Hold(out)
	held.Write([]byte("#1 [internal] load build definition"))
	held.Write([]byte("\n"))
	out.Write([]byte("Restore mount caches took 3.58s\n"))
	if len(out.writes) != 1 {
		t.Fatalf("the build's log was written before its release: %q", out.writes)
	}
	if err := held.Release(); err != nil {
		t.Fatal(err)
	}
	held.Write([]byte("#2 DONE 0.0s\n"))
	want := []string{"Restore mount caches took 3.58s\n", "#1 [internal] load build definition", "\n", "#2 DONE 0.0s\n"}
	if strings.Join(out.writes, "|") != strings.Join(want, "|") {
		t.Errorf("writes %q, want %q", out.writes, want)
	}
}

func TestAHeldLogTooBigToKeepIsWrittenOutInOrder(t *testing.T) {
	var out bytes.Buffer
	held := Hold(&out)
	line := bytes.Repeat([]byte("x"), 1023)
	line = append(line, '\n')
	for range maxHeld/len(line) + 2 {
		held.Write(line)
	}
	if out.Len() == 0 {
		t.Fatal("more than maxHeld bytes were kept")
	}
	if out.Len() != (maxHeld/len(line)+2)*len(line) {
		t.Errorf("wrote %d bytes, want every one of %d", out.Len(), (maxHeld/len(line)+2)*len(line))
	}
}
