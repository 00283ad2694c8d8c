//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

var (
	pushMain = map[string]string{"GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch"}
	pr12     = map[string]string{"GITHUB_REF": "refs/pull/12/merge", "GITHUB_REF_NAME": "12/merge", "GITHUB_REF_TYPE": "branch", "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature/login-form"}
)

// layerCacheCase is one backend's way of pointing the action at a cache and of checking
// afterwards whether a run wrote to it.
type layerCacheCase struct {
	name   string
	inputs map[string]string
	env    func(pr bool) map[string]string
	// state fingerprints what the cache holds (entries created, tags and their digests,
	// exported index files): a write changes it.
	state func(t *testing.T) string
}

func TestLayerCachePullRequestsReadWhatTheDefaultBranchSavedAndWriteNothing(t *testing.T) {
	needStack(t)
	for _, tc := range []func(t *testing.T) layerCacheCase{ghaCase, registryCase, localCase} {
		c := tc(t)
		t.Run(c.name, func(t *testing.T) {
			tag := func(name string) string { return stackEnv["REGISTRY"] + "/" + uniqueRepo(t, name) + ":1" }
			appA, appB := tag("img-a"), tag("img-b")
			withInputs := func(extra map[string]string) map[string]string {
				m := map[string]string{}
				for k, v := range c.inputs {
					m[k] = v
				}
				for k, v := range extra {
					m[k] = v
				}
				return m
			}
			merge := func(a, b map[string]string) map[string]string {
				m := map[string]string{}
				for k, v := range a {
					m[k] = v
				}
				for k, v := range b {
					m[k] = v
				}
				return m
			}

			// The default branch builds image A, then image B, each saving its cache.
			a := runAction(t, Run{Event: "push", Payload: "push-default-branch.json", Env: merge(pushMain, c.env(false)),
				Inputs: withInputs(map[string]string{"endpoint": freshBuilder(t).Endpoint, "tags": appA})})
			mustExit0(t, a)
			if a.Outputs["cache-saved"] != "true" || a.Outputs["cache-backend"] != c.name {
				t.Fatalf("push to main: cache-saved=%q backend=%q (%s)", a.Outputs["cache-saved"], a.Outputs["cache-backend"], a.Outputs["cache-save-reason"])
			}
			otherDir := writeContext(t, map[string]string{
				"Dockerfile": "FROM python:3.11-slim\nRUN echo image-b > /b.txt\nCOPY data.txt /data.txt\n",
				"data.txt":   "b",
			})
			b := runAction(t, Run{Dir: otherDir, Event: "push", Payload: "push-default-branch.json", Env: merge(pushMain, c.env(false)),
				Inputs: withInputs(map[string]string{"endpoint": freshBuilder(t).Endpoint, "tags": appB})})
			mustExit0(t, b)

			// A pull request on a new runner reads image A's cache, untouched by image B,
			// and writes nothing.
			before := c.state(t)
			pr := runAction(t, Run{Event: "pull_request", Payload: "pull_request.json", Env: merge(pr12, c.env(true)),
				Inputs: withInputs(map[string]string{"endpoint": freshBuilder(t).Endpoint, "tags": appA})})
			mustExit0(t, pr)
			ratio, _ := strconv.ParseFloat(pr.Outputs["layer-cache-hit-ratio"], 64)
			if ratio < 0.8 {
				t.Errorf("pull request hit ratio %s, want >= 0.8 from main's cache\n%s", pr.Outputs["layer-cache-hit-ratio"], tail(pr.Log, 40))
			}
			if pr.Outputs["cache-saved"] != "false" || !strings.Contains(pr.Outputs["cache-save-reason"], "pull_request #12") {
				t.Errorf("pull request: cache-saved=%q reason=%q", pr.Outputs["cache-saved"], pr.Outputs["cache-save-reason"])
			}
			if after := c.state(t); after != before {
				t.Errorf("the pull request wrote to the cache:\nbefore: %s\nafter:  %s", before, after)
			}
		})
	}
}

func ghaCase(t *testing.T) layerCacheCase {
	token := cachetest.RuntimeToken("refs/heads/main")
	srv := cachetest.StartV2(t, cachetest.V2Options{Token: token, Scopes: []string{"refs/heads/main"}})
	return layerCacheCase{
		name:   "gha",
		inputs: map[string]string{},
		env: func(pr bool) map[string]string {
			if pr {
				srv.SetScopes("refs/pull/12/merge", "refs/heads/main")
			} else {
				srv.SetScopes("refs/heads/main")
			}
			return map[string]string{"ACTIONS_RESULTS_URL": srv.URL(), "ACTIONS_RUNTIME_TOKEN": token, "GITHUB_SERVER_URL": "https://github.com"}
		},
		state: func(t *testing.T) string {
			return fmt.Sprintf("%d entries created", len(srv.CallsTo(cachetest.CreateCacheEntry)))
		},
	}
}

func registryCase(t *testing.T) layerCacheCase {
	repo := uniqueRepo(t, "layercache")
	return layerCacheCase{
		name:   "registry",
		inputs: map[string]string{"cache-backend": "registry", "cache-ref": stackEnv["REGISTRY"] + "/" + repo + ":buildcache"},
		env:    func(bool) map[string]string { return nil },
		state: func(t *testing.T) string {
			// Every tag with its manifest digest: a write adds a tag or moves one.
			resp, err := http.Get("http://" + stackEnv["REGISTRY"] + "/v2/" + repo + "/tags/list")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var list struct{ Tags []string }
			if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, tg := range list.Tags {
				out = append(out, tg+"@"+manifestDigest(t, repo, tg))
			}
			return strings.Join(out, " ")
		},
	}
}

func localCase(t *testing.T) layerCacheCase {
	dir := t.TempDir()
	return layerCacheCase{
		name:   "local",
		inputs: map[string]string{"cache-backend": "local", "cache-dir": dir},
		env:    func(bool) map[string]string { return nil },
		state: func(t *testing.T) string {
			// An export rewrites index.json.
			var out []string
			filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
				if err == nil && fi.Name() == "index.json" {
					data, _ := os.ReadFile(p)
					out = append(out, fmt.Sprintf("%s:%x@%d", p, data, fi.ModTime().UnixNano()))
				}
				return nil
			})
			return strings.Join(out, " ")
		},
	}
}
