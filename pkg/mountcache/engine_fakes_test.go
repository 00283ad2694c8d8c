package mountcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
)

// Fakes of the engine's dependencies: a cache service holding entries in memory, a
// helper that records what it was asked, a logger that records what it was told.

type fakeEntry struct {
	key         string
	exact       bool
	data        []byte
	unreachable error
	// cutAfter, when > 0, breaks Open's stream after that many bytes with cutErr.
	cutAfter int
	cutErr   error
}

func (e *fakeEntry) Key() string        { return e.key }
func (e *fakeEntry) Exact() bool        { return e.exact }
func (e *fakeEntry) Unreachable() error { return e.unreachable }
func (e *fakeEntry) Source() cacheservice.Source {
	return cacheservice.Source{Key: e.key, URL: "https://storage.invalid/" + e.key, Size: int64(len(e.data))}
}
func (e *fakeEntry) FreshSource(context.Context) (cacheservice.Source, error) {
	return e.Source(), nil
}

func (e *fakeEntry) Open(context.Context) io.ReadCloser {
	if e.cutAfter > 0 {
		return io.NopCloser(io.MultiReader(bytes.NewReader(e.data[:e.cutAfter]), errReader{e.cutErr}))
	}
	return io.NopCloser(bytes.NewReader(e.data))
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// fakeStore answers lookups as the Actions cache does: the key itself, then the newest
// entry whose key starts with the key or one of the restore keys, in order.
type fakeStore struct {
	mu         sync.Mutex
	entries    []*fakeEntry // oldest first
	restoreErr error
	saveErr    error
	// saveErrs, when set, answers the saves in turn (nil: stored).
	saveErrs []error
	exists   bool
	asked    []string // primary keys looked up
	saved    map[string][]byte
}

func (s *fakeStore) Restore(_ context.Context, key string, restoreKeys []string, version string) (StoreEntry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, key)
	if s.restoreErr != nil {
		return nil, s.restoreErr
	}
	if version == "" {
		return nil, errors.New("empty version")
	}
	for _, e := range s.entries {
		if e.key == key {
			return &fakeEntry{key: e.key, exact: true, data: e.data, unreachable: e.unreachable, cutAfter: e.cutAfter, cutErr: e.cutErr}, nil
		}
	}
	for _, prefix := range append([]string{key}, restoreKeys...) {
		for i := len(s.entries) - 1; i >= 0; i-- {
			if e := s.entries[i]; strings.HasPrefix(e.key, prefix) {
				return &fakeEntry{key: e.key, data: e.data, unreachable: e.unreachable, cutAfter: e.cutAfter, cutErr: e.cutErr}, nil
			}
		}
	}
	return nil, nil
}

func (s *fakeStore) Save(_ context.Context, key, version string, r io.Reader) (cacheservice.SaveResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.saveErr
	if len(s.saveErrs) > 0 {
		err, s.saveErrs = s.saveErrs[0], s.saveErrs[1:]
	}
	if err != nil {
		return cacheservice.SaveResult{}, err
	}
	if s.exists {
		return cacheservice.SaveResult{AlreadyExists: true}, nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return cacheservice.SaveResult{}, err
	}
	if s.saved == nil {
		s.saved = map[string][]byte{}
	}
	s.saved[key] = b
	return cacheservice.SaveResult{Size: int64(len(b))}, nil
}

type extractCall struct {
	restoredDigest string
	base           *archive.Manifest
	maxBytes       int64
}

// fakeHelper stands in for the helper builds.
type fakeHelper struct {
	mu sync.Mutex

	sourcesRes InjectResult
	sourcesErr error
	manifest   *archive.Manifest
	streamRes  InjectResult
	streamErr  error
	extract    mounthelper.ExtractResult
	extractErr error
	archive    []byte // the archive Extract leaves

	sources  [][]cacheservice.Source
	streamed [][]byte
	extracts []extractCall
	progress []io.Writer

	warms          int // Warm calls
	warmCtx        context.Context
	warmWaited     bool // the last Warm's wait returned
	waitedStopped  bool // a Warm's wait was called after its context ended
	injectedUnwarm bool // an injection ran after a Warm before its wait returned
}

func (h *fakeHelper) Warm(ctx context.Context) (wait func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.warms++
	h.warmCtx = ctx
	h.warmWaited = false
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		// BuildKit's client returns a cancelled solve only 5 s later.
		h.waitedStopped = h.waitedStopped || ctx.Err() != nil
		h.warmWaited = true
	}
}

func (h *fakeHelper) InjectSources(ctx context.Context, c Cache, srcs []cacheservice.Source, fresh func(ctx context.Context, i int) (string, error), _ map[string]string) (InjectResult, *archive.Manifest, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.injectedUnwarm = h.injectedUnwarm || h.warms > 0 && !h.warmWaited
	h.sources = append(h.sources, srcs)
	for i := range srcs {
		if _, err := fresh(ctx, i); err != nil {
			return InjectResult{}, nil, err
		}
	}
	return h.sourcesRes, h.manifest, h.sourcesErr
}

func (h *fakeHelper) InjectStream(_ context.Context, c Cache, r io.Reader, _ map[string]string) (InjectResult, error) {
	b, err := io.ReadAll(r)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.streamed = append(h.streamed, b)
	if err != nil {
		// The helper refuses a cut stream.
		return InjectResult{Refused: true}, errors.New("the helper refused the archive")
	}
	return h.streamRes, h.streamErr
}

func (h *fakeHelper) Extract(_ context.Context, c Cache, restoredDigest string, base *archive.Manifest, maxBytes int64, _ map[string]string, outDir string) (mounthelper.ExtractResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.extracts = append(h.extracts, extractCall{restoredDigest, base, maxBytes})
	if n := len(h.progress); n > 0 {
		fmt.Fprintf(h.progress[n-1], "#1 extract %s\n", c.CacheID)
	}
	if h.extractErr != nil {
		return mounthelper.ExtractResult{}, h.extractErr
	}
	if err := os.MkdirAll(filepath.Dir(ExtractedArchive(outDir)), 0o755); err != nil {
		return mounthelper.ExtractResult{}, err
	}
	if err := os.WriteFile(ExtractedArchive(outDir), h.archive, 0o644); err != nil {
		return mounthelper.ExtractResult{}, err
	}
	return h.extract, nil
}

// fakeLog records the engine's log, one line per call.
type fakeLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *fakeLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *fakeLog) Infof(f string, a ...any)  { l.add("info: " + fmt.Sprintf(f, a...)) }
func (l *fakeLog) Notice(title, msg string)  { l.add("notice: " + title + ": " + msg) }
func (l *fakeLog) Warning(title, msg string) { l.add("warning: " + title + ": " + msg) }
func (l *fakeLog) Group(name string) func() {
	l.add("group: " + name)
	return func() { l.add("endgroup") }
}
func (l *fakeLog) GroupTook(name string) func(time.Duration) {
	l.add("group: " + name)
	return func(took time.Duration) { l.add(fmt.Sprintf("endgroup took %s", took.Round(10*time.Millisecond))) }
}
func (l *fakeLog) Writer() io.Writer { return logWriter{l} }

type logWriter struct{ l *fakeLog }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.add("progress: " + string(p))
	return len(p), nil
}

func (l *fakeLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// index is the position of the first line containing s, or -1.
func (l *fakeLog) index(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, line := range l.lines {
		if strings.Contains(line, s) {
			return i
		}
	}
	return -1
}
