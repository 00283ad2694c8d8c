//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// manyLayers is a Dockerfile whose mode=max export writes one blob per RUN, plus the index.
func manyLayers(n int, salt string) string {
	var b strings.Builder
	b.WriteString("FROM python:3.11-slim\n")
	for i := range n {
		fmt.Fprintf(&b, "RUN head -c %d /dev/urandom > /layer-%d.bin && echo %s-%d\n", 200_000+i*1000, i, salt, i)
	}
	return b.String()
}

func ghaEnv(srv *cachetest.V2Server) map[string]string {
	env := map[string]string{"ACTIONS_RESULTS_URL": srv.URL(), "ACTIONS_RUNTIME_TOKEN": srv.Token(), "GITHUB_SERVER_URL": "https://github.com"}
	for k, v := range pushMain {
		env[k] = v
	}
	return env
}

// A mode=max export with more blobs than the upload limit allows in a window finishes,
// without a failed build, and the waits are said.
func TestAccelModeMaxExportUnderTheUploadLimitFinishesAndSaysItWaited(t *testing.T) {
	needStack(t)
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: cachetest.RuntimeToken("refs/heads/main"),
		UploadLimit: cachetest.UploadLimit{Uploads: 4, Window: 10 * time.Second}})
	dir := writeContext(t, map[string]string{"Dockerfile": manyLayers(7, t.Name())})
	r := runAction(t, Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: ghaEnv(srv),
		Inputs: map[string]string{"endpoint": freshBuilder(t).Endpoint, "cache-mode": "max"}})
	t.Logf("elapsed %s, 429 answers %d, entries %d", r.Elapsed, srv.RateLimited(), len(srv.Entries()))
	mustExit0(t, r)
	if r.Outputs["cache-saved"] != "true" {
		t.Fatalf("cache-saved=%q (%s)\n%s", r.Outputs["cache-saved"], r.Outputs["cache-save-reason"], tail(r.Log, 60))
	}
	if srv.RateLimited() == 0 {
		t.Fatalf("the server never limited: %d entries in one window of 4", len(srv.Entries()))
	}
	if !strings.Contains(r.Log, "layer cache: accelerated through") {
		t.Fatalf("the layer cache was not accelerated:\n%s", tail(r.Log, 60))
	}
	if !strings.Contains(r.Log, "limits uploads (429 on CreateCacheEntry); waiting") {
		t.Errorf("the log does not say the accelerator waited for the limit:\n%s", tail(r.Log, 60))
	}
	if !strings.Contains(r.Summary, "for the upload limit") || !strings.Contains(r.Summary, "Retry-After honoured") {
		t.Errorf("the summary does not report the waits:\n%s", r.Summary)
	}
	// Every blob of the export is in the cache, finalized: 7 RUN layers at least.
	finalized := 0
	for _, e := range srv.Entries() {
		if e.Finalized && strings.HasPrefix(e.Key, "buildkit-blob-") {
			finalized++
		}
	}
	if finalized < 7 {
		t.Errorf("%d blobs saved, want every one of the 7 RUN layers", finalized)
	}
}
