package report

import (
	"strings"
	"testing"
	"time"
)

// A run whose Dockerfile has cache pitfalls lists them under the summary, each with its
// line and fix; the rest of the summary is the same as without them.
func TestGoldenSummaryPitfalls(t *testing.T) {
	res := Result{
		Image: image, Tags: []string{image}, Digest: digest, ImageID: imageID,
		StepsCached: 3, StepsTotal: 6, Duration: 21 * time.Second,
		Backend: "gha", BackendReason: ghaWhy, ReadScopes: []string{"warmbuild-main"}, WriteScope: "warmbuild-main",
		CacheSaved: true, SaveReason: policy,
		Phases: []Phase{{Name: "connect", Duration: time.Second}, {Name: "build", Duration: 21 * time.Second}},
	}
	without := res.Summary()
	res.Pitfalls = []Pitfall{
		{ID: "copy-before-install", File: "app/Dockerfile", Line: 3,
			Message: "this COPY of the whole context comes before the pip install at line 4, so every code change reinstalls the dependencies.",
			Fix:     "Copy only the dependency files first (e.g. COPY requirements.txt .), run the install, and copy the rest of the code after it."},
		{ID: "pip-no-cache-dir", File: "app/Dockerfile", Line: 4,
			Message: "--no-cache-dir turns pip's cache off, so the pip cache mount at /root/.cache/pip stays empty and every build downloads again.",
			Fix:     "Drop --no-cache-dir and PIP_NO_CACHE_DIR where the RUN mounts pip's cache: the mount is not in the image, so it does not make it bigger."},
	}
	got := res.Summary()
	if !strings.HasPrefix(got, without) {
		t.Errorf("the pitfalls changed the summary above them:\n%s", got)
	}
	golden(t, "pitfalls.summary.md", got)
}
