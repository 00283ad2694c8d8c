package run

import (
	"bytes"
	"context"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/ghapi/ghapitest"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/report"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
)

func newTestRunner(t *testing.T, env map[string]string, token string) (*runner, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	getenv := func(k string) string { return env[k] }
	rep := report.New(&log, getenv)
	return &runner{
		env:  Env{Getenv: getenv, Stdout: &log},
		renv: runnerenv.Read(getenv),
		rep:  rep,
		warn: report.NewWarnings(rep),
		in:   &inputs.Inputs{GitHubToken: token},
	}, &log
}

// output is the value of one step output of res.
func output(res report.Result, name string) string {
	for _, o := range res.Outputs() {
		if o.Name == name {
			return o.Value
		}
	}
	return "<no output " + name + ">"
}

func TestCacheUsageIsAnOutputAndWarnsNearTheLimit(t *testing.T) {
	srv := ghapitest.NewServer(ghapitest.Options{Repository: "octo-org/warm-app", Token: "tok", StorageLimitGB: 10})
	defer srv.Close()
	srv.AddCache(ghapitest.Cache{Ref: "refs/heads/main", Key: "big", SizeInBytes: 9_000_000_000})
	r, log := newTestRunner(t, map[string]string{"GITHUB_REPOSITORY": "octo-org/warm-app", "GITHUB_API_URL": srv.URL}, "tok")
	r.readCacheUsage(context.Background(), r.githubAPI())
	if got := output(r.res, "repo-cache-usage-bytes"); got != "9000000000" {
		t.Errorf("repo-cache-usage-bytes = %q", got)
	}
	if !strings.Contains(log.String(), "::warning title=Actions cache nearly full::") || len(r.warn.Entries()) != 1 {
		t.Errorf("want a warning at 90%% of the limit:\n%s", log.String())
	}
}

func TestCacheUsageWithoutPermissionIsANoticeNamingIt(t *testing.T) {
	srv := ghapitest.NewServer(ghapitest.Options{Repository: "octo-org/warm-app", Token: "tok"})
	defer srv.Close()
	srv.Fail(ghapitest.Forbidden(ghapitest.GetCacheUsage))
	r, log := newTestRunner(t, map[string]string{"GITHUB_REPOSITORY": "octo-org/warm-app", "GITHUB_API_URL": srv.URL}, "tok")
	r.readCacheUsage(context.Background(), r.githubAPI())
	if !strings.Contains(log.String(), "::notice") || !strings.Contains(log.String(), "actions: read") {
		t.Errorf("want a notice naming the permission:\n%s", log.String())
	}
	if got := output(r.res, "repo-cache-usage-bytes"); got != "" || strings.Contains(log.String(), "tok\n") {
		t.Errorf("usage must stay unknown and the token unprinted: %q\n%s", got, log.String())
	}
}

func TestCacheUsageWithoutTokenIsANotice(t *testing.T) {
	r, log := newTestRunner(t, map[string]string{"GITHUB_REPOSITORY": "octo-org/warm-app", "GITHUB_API_URL": "http://127.0.0.1:1"}, "")
	r.readCacheUsage(context.Background(), r.githubAPI())
	if !strings.Contains(log.String(), "::notice") || !strings.Contains(log.String(), "github-token") {
		t.Errorf("want a notice about github-token:\n%s", log.String())
	}
}

// After a save, older entries of the same mount on the same ref go; other mounts, other
// refs and the newest entries stay.
func TestSupersededMountCachesAreDeletedAfterASave(t *testing.T) {
	srv := ghapitest.NewServer(ghapitest.Options{Repository: "octo-org/warm-app", Token: "tok"})
	defer srv.Close()
	base := time.Now().Add(-time.Hour)
	add := func(key, ref string, age time.Duration) {
		srv.AddCache(ghapitest.Cache{Key: key, Ref: ref, SizeInBytes: 1000, CreatedAt: base.Add(-age), LastAccessedAt: base.Add(-age)})
	}
	add("warmbuild-mount-root-.cache-pip-linux-amd64-aaa", "refs/heads/main", 3*time.Minute)
	add("warmbuild-mount-root-.cache-pip-linux-amd64-bbb", "refs/heads/main", 2*time.Minute)
	add("warmbuild-mount-root-.cache-pip-linux-amd64-ccc", "refs/heads/main", time.Minute) // just saved
	add("warmbuild-mount-root-.cache-pip-linux-amd64-ddd", "refs/heads/feature", 4*time.Minute)
	add("warmbuild-mount-var-cache-apt-linux-amd64-eee", "refs/heads/main", 5*time.Minute)
	env := map[string]string{"GITHUB_REPOSITORY": "octo-org/warm-app", "GITHUB_API_URL": srv.URL, "GITHUB_REF": "refs/heads/main"}
	r, log := newTestRunner(t, env, "tok")
	r.in.MountCache.Keep = 1
	r.pruneMountCaches(context.Background(), r.githubAPI(), []string{"warmbuild-mount-root-.cache-pip-linux-amd64-ccc"})
	var left []string
	for _, c := range srv.Caches() {
		left = append(left, c.Key)
	}
	sort.Strings(left)
	want := []string{"warmbuild-mount-root-.cache-pip-linux-amd64-ccc", "warmbuild-mount-root-.cache-pip-linux-amd64-ddd", "warmbuild-mount-var-cache-apt-linux-amd64-eee"}
	if !reflect.DeepEqual(left, want) {
		t.Errorf("left %q, want %q\n%s", left, want, log.String())
	}
}
