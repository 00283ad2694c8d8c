package report

import "sync"

// Annotator shows an annotation in the log; *Reporter is one.
type Annotator interface {
	Warning(title, msg string)
	Notice(title, msg string)
}

// Warnings collects the cache-warnings output: a cache problem that does not fail the
// build is annotated and recorded in one call, so the log and the output cannot tell it
// differently. The views Via returns share one record, which is safe to feed from several
// goroutines (the mount caches' early save warns from its own); Entries keeps the order
// of the calls.
type Warnings struct {
	to  Annotator
	rec *warningRecord
}

type warningRecord struct {
	mu      sync.Mutex
	entries []string
}

// NewWarnings returns an empty collector annotating through to.
func NewWarnings(to Annotator) *Warnings {
	return &Warnings{to: to, rec: &warningRecord{}}
}

// Via returns a view of w that annotates through to instead (a buffered log) and records
// into the same cache-warnings.
func (w *Warnings) Via(to Annotator) *Warnings {
	return &Warnings{to: to, rec: w.rec}
}

// Warn annotates a warning and records msg as it is ("exporting cache to gha: ...").
func (w *Warnings) Warn(title, msg string) {
	w.to.Warning(title, msg)
	w.Add(msg)
}

// WarnTitled annotates a warning and records "title: msg", for a message that does not
// say on its own what it is about ("Actions cache usage: 502 Bad Gateway").
func (w *Warnings) WarnTitled(title, msg string) {
	w.to.Warning(title, msg)
	w.Add(title + ": " + msg)
}

// Mount annotates a mount cache problem (title "Mount cache") and records
// "mount cache: msg".
func (w *Warnings) Mount(msg string) {
	w.to.Warning("Mount cache", msg)
	w.Add("mount cache: " + msg)
}

// Notice annotates a notice and records msg: something that cost this run its cache
// without anything failing.
func (w *Warnings) Notice(title, msg string) {
	w.to.Notice(title, msg)
	w.Add(msg)
}

// Add records entries annotated elsewhere (by the mount cache engine through its logger).
func (w *Warnings) Add(entries ...string) {
	w.rec.mu.Lock()
	defer w.rec.mu.Unlock()
	w.rec.entries = append(w.rec.entries, entries...)
}

// Entries are the recorded entries, in order: Result.Warnings.
func (w *Warnings) Entries() []string {
	w.rec.mu.Lock()
	defer w.rec.mu.Unlock()
	return append([]string(nil), w.rec.entries...)
}
