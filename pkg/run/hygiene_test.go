package run

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/ghapi/ghapitest"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/report"
)

func newTestRunner(t *testing.T, env map[string]string, token string) (*runner, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	getenv := func(k string) string { return env[k] }
	return &runner{
		env: Env{Getenv: getenv, Stdout: &log},
		rep: report.New(&log, getenv),
		in:  &inputs.Inputs{GitHubToken: token},
		out: report.Outputs{RepoCacheUsageBytes: -1},
	}, &log
}

func TestCacheUsageIsAnOutputAndWarnsNearTheLimit(t *testing.T) {
	srv := ghapitest.NewServer(ghapitest.Options{Repository: "octo-org/warm-app", Token: "tok", StorageLimitGB: 10})
	defer srv.Close()
	srv.AddCache(ghapitest.Cache{Ref: "refs/heads/main", Key: "big", SizeInBytes: 9_000_000_000})
	r, log := newTestRunner(t, map[string]string{"GITHUB_REPOSITORY": "octo-org/warm-app", "GITHUB_API_URL": srv.URL}, "tok")
	r.readCacheUsage(context.Background(), r.githubAPI())
	if r.out.RepoCacheUsageBytes != 9_000_000_000 {
		t.Errorf("repo-cache-usage-bytes = %d", r.out.RepoCacheUsageBytes)
	}
	if !strings.Contains(log.String(), "::warning title=Actions cache nearly full::") || len(r.out.CacheWarnings) != 1 {
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
	if r.out.RepoCacheUsageBytes != -1 || strings.Contains(log.String(), "tok\n") {
		t.Errorf("usage must stay unknown and the token unprinted: %d\n%s", r.out.RepoCacheUsageBytes, log.String())
	}
}

func TestCacheUsageWithoutTokenIsANotice(t *testing.T) {
	r, log := newTestRunner(t, map[string]string{"GITHUB_REPOSITORY": "octo-org/warm-app", "GITHUB_API_URL": "http://127.0.0.1:1"}, "")
	r.readCacheUsage(context.Background(), r.githubAPI())
	if !strings.Contains(log.String(), "::notice") || !strings.Contains(log.String(), "github-token") {
		t.Errorf("want a notice about github-token:\n%s", log.String())
	}
}
