package report

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Each kind of cache warning is annotated once and recorded in cache-warnings with the
// text the action has always given it.
func TestWarningsAnnotateAndRecordInOneCall(t *testing.T) {
	var log bytes.Buffer
	w := NewWarnings(New(&log, func(string) string { return "" }))
	w.Warn("Layer cache", "cache-from is ignored: cache-backend is none")
	w.WarnTitled("Actions cache usage", "502 Bad Gateway")
	w.Mount("/root/.cache/pip: restore failed: EOF")
	w.Notice("Mount cache", "mount cache /root/.cache/pip: the requirements did not change")
	w.Add("mount cache: raised by the engine")
	want := []string{
		"cache-from is ignored: cache-backend is none",
		"Actions cache usage: 502 Bad Gateway",
		"mount cache: /root/.cache/pip: restore failed: EOF",
		"mount cache /root/.cache/pip: the requirements did not change",
		"mount cache: raised by the engine",
	}
	if got := w.Entries(); !slices.Equal(got, want) {
		t.Errorf("entries %q\nwant    %q", got, want)
	}
	for _, line := range []string{
		"::warning title=Layer cache::cache-from is ignored: cache-backend is none",
		"::warning title=Actions cache usage::502 Bad Gateway",
		"::warning title=Mount cache::/root/.cache/pip: restore failed: EOF",
		"::notice title=Mount cache::mount cache /root/.cache/pip: the requirements did not change",
	} {
		if !strings.Contains(log.String(), line+"\n") {
			t.Errorf("log lacks %q:\n%s", line, log.String())
		}
	}
	if strings.Contains(log.String(), "raised by the engine") {
		t.Errorf("Add must not annotate again (the engine's logger did):\n%s", log.String())
	}
}

// The early save warns into its own buffered log from its own goroutine while the main
// goroutine may record too: every entry lands once, each annotation in the log it was
// meant for.
func TestWarningsFromAnotherGoroutineLandInTheSameRecord(t *testing.T) {
	var mainLog, earlyLog bytes.Buffer
	w := NewWarnings(New(&mainLog, func(string) string { return "" }))
	early := w.Via(New(&earlyLog, func(string) string { return "" }))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range 100 {
			early.Mount(fmt.Sprintf("early %d", i))
		}
	}()
	go func() {
		defer wg.Done()
		for i := range 100 {
			w.Add(fmt.Sprintf("main %d", i))
		}
	}()
	wg.Wait()
	got := w.Entries()
	if len(got) != 200 || !slices.Equal(got, early.Entries()) {
		t.Fatalf("%d entries (the view has %d), want 200", len(got), len(early.Entries()))
	}
	if strings.Contains(mainLog.String(), "early") || strings.Count(earlyLog.String(), "::warning title=Mount cache::early") != 100 {
		t.Errorf("the early save's annotations belong in its own log:\nmain:\n%s\nearly: %d", mainLog.String(), strings.Count(earlyLog.String(), "\n"))
	}
	// Entries is a copy: a caller appending to it changes nothing recorded.
	_ = append(got[:1], "changed")
	if w.Entries()[1] == "changed" {
		t.Error("Entries shares its backing array with the record")
	}
}
