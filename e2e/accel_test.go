//go:build e2e

package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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

// buildctl runs BuildKit's own client against a builder: the plain BuildKit gha path,
// build-push-action's way (buildx passes these attributes: url_v2, token, scope, version).
func buildctl(t *testing.T, b *Builder, dir string, args ...string) string {
	t.Helper()
	all := append([]string{"--addr", b.Endpoint, "build", "--frontend", "dockerfile.v0",
		"--local", "context=" + dir, "--local", "dockerfile=" + dir, "--progress", "plain"}, args...)
	cmd := exec.Command(filepath.Join(stackEnv["BUILDKIT_BIN_DIR"], "buildctl"), all...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("buildctl %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 40))
	}
	return string(out)
}

var vertexLine = regexp.MustCompile(`^#(\d+) (\[[^\]]+\] RUN .*|CACHED)$`)

// runStepsCached counts the RUN steps of a plain build log and those BuildKit took from
// the cache ("#N CACHED").
func runStepsCached(log string) (cached, total int) {
	runs := map[string]bool{}
	hit := map[string]bool{}
	for _, line := range strings.Split(log, "\n") {
		m := vertexLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		if m[2] == "CACHED" {
			hit[m[1]] = true
		} else {
			runs[m[1]] = true
		}
	}
	for id := range runs {
		if hit[id] {
			cached++
		}
	}
	return cached, len(runs)
}

func ghaAttrs(srv *cachetest.V2Server, scope string) string {
	return "type=gha,url_v2=" + srv.URL() + ",token=" + srv.Token() + ",scope=" + scope + ",version=2"
}

// A layer cache warmbuild writes through its accelerator is BuildKit's own: a plain
// BuildKit gha import on a fresh builder takes every step from it. And the other way: a
// cache BuildKit wrote on its own is read by warmbuild through the accelerator.
func TestAccelLayerCacheIsReadByPlainBuildKitAndTheOtherWay(t *testing.T) {
	needStack(t)
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: cachetest.RuntimeToken("refs/heads/main")})

	t.Run("warmbuild writes, BuildKit reads", func(t *testing.T) {
		dir := writeContext(t, map[string]string{"Dockerfile": manyLayers(3, t.Name())})
		w := runAction(t, Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: ghaEnv(srv),
			Inputs: map[string]string{"endpoint": freshBuilder(t).Endpoint, "cache-scope": "interop-a"}})
		mustExit0(t, w)
		if !strings.Contains(w.Log, "layer cache: accelerated through") || w.Outputs["cache-saved"] != "true" {
			t.Fatalf("not saved through the accelerator: cache-saved=%q\n%s", w.Outputs["cache-saved"], tail(w.Log, 40))
		}
		// Bytes: what the accelerator counted is what the storage holds for the layer
		// cache entries this run created (every blob and the index; not warmbuild's build
		// record, which it saves beside them on its own).
		var stored int64
		for _, e := range srv.Entries() {
			if strings.HasPrefix(e.Key, "buildkit-blob-") || strings.HasPrefix(e.Key, "index-") {
				stored += e.Size
			}
		}
		up, err := strconv.ParseInt(w.Outputs["layer-cache-uploaded-bytes"], 10, 64)
		if err != nil || up != stored || up == 0 {
			t.Errorf("layer-cache-uploaded-bytes=%q, want the %d bytes the storage holds", w.Outputs["layer-cache-uploaded-bytes"], stored)
		}
		log := buildctl(t, freshBuilder(t), dir, "--import-cache", ghaAttrs(srv, "interop-a-main"))
		if cached, total := runStepsCached(log); total != 3 || cached != total {
			t.Fatalf("plain BuildKit import: %d/%d RUN steps cached, want 3/3\n%s", cached, total, tail(log, 40))
		}
	})

	t.Run("BuildKit writes, warmbuild reads", func(t *testing.T) {
		dir := writeContext(t, map[string]string{"Dockerfile": manyLayers(3, t.Name())})
		buildctl(t, freshBuilder(t), dir, "--export-cache", ghaAttrs(srv, "interop-b-main")+",mode=max")
		r := runAction(t, Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: ghaEnv(srv),
			Inputs: map[string]string{"endpoint": freshBuilder(t).Endpoint, "cache-scope": "interop-b"}})
		mustExit0(t, r)
		if !strings.Contains(r.Log, "layer cache: accelerated through") {
			t.Fatalf("not read through the accelerator:\n%s", tail(r.Log, 40))
		}
		if r.Outputs["layer-cache-steps-total"] == "0" || r.Outputs["layer-cache-steps-cached"] != r.Outputs["layer-cache-steps-total"] {
			t.Fatalf("warmbuild read %s/%s steps from BuildKit's cache, want all\n%s", r.Outputs["layer-cache-steps-cached"], r.Outputs["layer-cache-steps-total"], tail(r.Log, 40))
		}
		down, err := strconv.ParseInt(r.Outputs["layer-cache-downloaded-bytes"], 10, 64)
		var stored int64
		for _, e := range srv.Entries() {
			stored += e.Size
		}
		if err != nil || down <= 0 || down > stored {
			t.Errorf("layer-cache-downloaded-bytes=%q, want > 0 and at most the %d bytes stored", r.Outputs["layer-cache-downloaded-bytes"], stored)
		}
	})
}
