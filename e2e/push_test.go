//go:build e2e

package e2e

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// A push whose manifest the registry refuses because a layer it names is not in the
// repository — what the registry answered in a CI run where the image and its registry
// layer cache uploaded the base layer to one repository at once — is exported again, with
// a warning, and the image lands. The refusal is injected in front of the real registry,
// with the registry's own error body, on the first manifest PUT only.
func TestAPushRefusedForAMissingLayerIsExportedAgain(t *testing.T) {
	b := freshBuilder(t)
	registry, err := url.Parse("http://" + stackEnv["REGISTRY"])
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(registry)
	var manifestPuts atomic.Int32
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") && manifestPuts.Add(1) == 1 {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"},` +
				`{"code":"BLOB_UNKNOWN","message":"blob unknown to registry","detail":"sha256:827e365ea312db0d40db6c3e046885bb79d9d2f59dd79d6602b60108d00ad617"}]}` + "\n"))
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	repo := uniqueRepo(t, "push-race")
	host := strings.TrimPrefix(front.URL, "http://")
	res := runAction(t, Run{Inputs: map[string]string{
		"endpoint":      b.Endpoint,
		"tags":          host + "/" + repo + ":1.0",
		"push":          "true",
		"cache-backend": "none",
	}, Event: "push", Payload: "push-default-branch.json"})
	mustExit0(t, res)
	if n := manifestPuts.Load(); n < 2 {
		t.Fatalf("%d manifest PUTs reached the registry's front, want the refused one and a second", n)
	}
	if d := manifestDigest(t, repo, "1.0"); res.Outputs["digest"] != d {
		t.Errorf("digest output %q, registry says %q", res.Outputs["digest"], d)
	}
	var warned bool
	for _, l := range strings.Split(res.Log, "\n") {
		if strings.HasPrefix(l, "::warning ") && strings.Contains(l, "Push retried") && strings.Contains(l, "blob unknown to registry") {
			warned = true
		}
	}
	if !warned {
		t.Errorf("no ::warning annotation says the push was retried and why:\n%s", tail(res.Log, 40))
	}
	if got := res.Outputs["layer-cache-steps-total"]; got == "0" || got == "" {
		t.Errorf("layer-cache-steps-total = %q: the statistics must be the build's, not the export-only retry's", got)
	}
	if res.Outputs["layer-cache-hit-ratio"] != "0.00" {
		t.Errorf("hit ratio %q on a fresh builder with no cache: the retry's cached steps were counted", res.Outputs["layer-cache-hit-ratio"])
	}
}
