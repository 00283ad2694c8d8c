package builder

import (
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"
)

func vertex(name string, cached bool, errText string) *client.Vertex {
	now := time.Now()
	return &client.Vertex{Digest: digest.FromString(name), Name: name, Cached: cached, Completed: &now, Error: errText}
}

// Only RUN/COPY/ADD instructions count; internal loads, FROM, WORKDIR and exports do not.
func TestHitRatioCountsOnlyRunCopyAdd(t *testing.T) {
	r := newStepRecorder()
	r.record(&client.SolveStatus{Vertexes: []*client.Vertex{
		vertex("[internal] load build definition from Dockerfile", false, ""),
		vertex("[internal] load metadata for docker.io/library/python:3.11-slim", false, ""),
		vertex("[1/5] FROM docker.io/library/python:3.11-slim@sha256:abc", true, ""),
		vertex("[2/5] WORKDIR /app", true, ""),
		vertex("[3/5] COPY requirements.txt .", true, ""),
		vertex("[stage-0 4/5] RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt", true, ""),
		vertex("[linux/arm64 builder 5/5] ADD app.tar.gz /app", false, ""),
		vertex("exporting to image", false, ""),
		vertex("exporting cache to registry", false, "failed to push: 403"),
	}})
	// A later update of the same vertex wins.
	r.record(&client.SolveStatus{Vertexes: []*client.Vertex{vertex("[linux/arm64 builder 5/5] ADD app.tar.gz /app", true, "")}})
	st := r.stats()
	if st.Total != 3 || st.Cached != 3 {
		t.Errorf("counted %d cached of %d, want 3 of 3: %+v", st.Cached, st.Total, st.Steps)
	}
	if len(st.CacheExportErrors) != 1 {
		t.Errorf("cache export errors = %v", st.CacheExportErrors)
	}
	if st.HitRatio() != 1 {
		t.Errorf("ratio %v", st.HitRatio())
	}
}

// BuildKit's gha backend names the signed URL an upload failed on; the error becomes a
// warning, an output (cache-warnings) and a summary line, so its signature is cut.
func TestCacheExportErrorsDoNotQuoteSignedURLs(t *testing.T) {
	r := newStepRecorder()
	r.record(&client.SolveStatus{Vertexes: []*client.Vertex{
		vertex("exporting cache to GitHub Actions Cache", false, `failed to upload: Put "http://127.0.0.1:10000/devstoreaccount1/c/b?sv=2024-11-04&sig=Zm9vYmFy%2B": dial tcp 127.0.0.1:10000: connect: connection refused`),
	}})
	st := r.stats()
	if len(st.CacheExportErrors) != 1 || strings.Contains(st.CacheExportErrors[0], "Zm9vYmFy") || !strings.Contains(st.CacheExportErrors[0], "connection refused") {
		t.Errorf("cache export errors = %q", st.CacheExportErrors)
	}
}

// A step read from a remote layer cache is reported CACHED, then once more without the flag
// while BuildKit pulls its layers from the cache: it still counts as cached.
func TestStepFromRemoteCacheStaysCachedWhileItsLayersLoad(t *testing.T) {
	r := newStepRecorder()
	const run = "[stage-0 3/6] RUN python -c 'import sys; print(sys.version)' > /python-version"
	r.record(&client.SolveStatus{Vertexes: []*client.Vertex{vertex(run, true, "")}})
	r.record(&client.SolveStatus{Vertexes: []*client.Vertex{vertex(run, false, "")}})
	if st := r.stats(); st.Total != 1 || st.Cached != 1 {
		t.Errorf("counted %d cached of %d, want 1 of 1: %+v", st.Cached, st.Total, st.Steps)
	}
}

func TestColdBuildRatioIsZero(t *testing.T) {
	r := newStepRecorder()
	r.record(&client.SolveStatus{Vertexes: []*client.Vertex{vertex("[2/2] RUN make", false, "")}})
	if st := r.stats(); st.Total != 1 || st.Cached != 0 || st.HitRatio() != 0 {
		t.Errorf("%+v", st)
	}
	if (StepStats{}).HitRatio() != 0 {
		t.Error("empty stats must have ratio 0")
	}
}

func TestDecodeExporterResponseLikeBuildx(t *testing.T) {
	m := decodeExporterResponse(map[string]string{
		"containerimage.digest":     "sha256:abc",
		"containerimage.descriptor": "eyJtZWRpYVR5cGUiOiJhcHBsaWNhdGlvbi92bmQub2NpLmltYWdlLm1hbmlmZXN0LnYxK2pzb24ifQ==",
		"image.name":                "r/a:1",
	})
	if m["containerimage.digest"] != "sha256:abc" || m["image.name"] != "r/a:1" {
		t.Errorf("plain values must stay strings: %v", m)
	}
	if _, ok := m["containerimage.descriptor"].(string); ok {
		t.Errorf("base64 JSON must be decoded: %v", m["containerimage.descriptor"])
	}
}

// The per-stage summary groups steps by the stage BuildKit names, and the slowest steps
// are those that ran: a step knows its stage, its place in the stage and how long it ran.
func TestStepsKnowTheirStageIndexAndDuration(t *testing.T) {
	r := newStepRecorder()
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	done := start.Add(2500 * time.Millisecond)
	ran := &client.Vertex{Digest: digest.FromString("a"), Name: "[linux/arm64->linux/amd64 builder  3/12] RUN pip install -r requirements.txt", Started: &start, Completed: &done}
	hit := &client.Vertex{Digest: digest.FromString("b"), Name: "[ 2/10] COPY requirements.txt .", Cached: true, Started: &start, Completed: &done}
	staged := &client.Vertex{Digest: digest.FromString("c"), Name: "[stage-1 4/5] ADD app.tar.gz /app", Started: &start, Completed: &done}
	r.record(&client.SolveStatus{Vertexes: []*client.Vertex{ran, hit, staged}})
	st := r.stats()
	want := []struct {
		stage    string
		index    int
		duration time.Duration
	}{{"builder", 3, 2500 * time.Millisecond}, {"", 2, 0}, {"stage-1", 4, 2500 * time.Millisecond}}
	if len(st.Steps) != len(want) {
		t.Fatalf("steps %+v", st.Steps)
	}
	for i, w := range want {
		s := st.Steps[i]
		if s.Stage != w.stage || s.Index != w.index || s.Duration != w.duration || s.Order != i || s.Digest == "" {
			t.Errorf("step %d = %+v, want stage %q index %d duration %v", i, s, w.stage, w.index, w.duration)
		}
	}
}

// A failed cache import explains a cold build; its error is kept, without signed URLs.
func TestCacheImportErrorsAreKept(t *testing.T) {
	r := newStepRecorder()
	r.record(&client.SolveStatus{Vertexes: []*client.Vertex{
		vertex("importing cache manifest from 127.0.0.1:5000/app:buildcache", false, "127.0.0.1:5000/app:buildcache: not found"),
		vertex("importing cache manifest from gha:123", false, ""),
	}})
	if st := r.stats(); len(st.CacheImportErrors) != 1 || !strings.Contains(st.CacheImportErrors[0], "not found") {
		t.Errorf("import errors = %q", st.CacheImportErrors)
	}
}
