package cachepolicy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// The environment the runner sets next to each event file in testdata/events.
var runnerEnv = map[string]map[string]string{
	"push-default-branch.json": {
		"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
		"GITHUB_REF_TYPE": "branch", "GITHUB_REPOSITORY": "octo-org/warm-app",
	},
	"push-feature-branch.json": {
		"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/feature/login-form",
		"GITHUB_REF_NAME": "feature/login-form", "GITHUB_REF_TYPE": "branch", "GITHUB_REPOSITORY": "octo-org/warm-app",
	},
	"push-tag.json": {
		"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/tags/v1.4.0", "GITHUB_REF_NAME": "v1.4.0",
		"GITHUB_REF_TYPE": "tag", "GITHUB_REPOSITORY": "octo-org/warm-app",
	},
	"push-trunk-default-branch.json": {
		"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/trunk", "GITHUB_REF_NAME": "trunk",
		"GITHUB_REF_TYPE": "branch", "GITHUB_REPOSITORY": "octo-org/legacy-api",
	},
	"push-main-in-trunk-repo.json": {
		"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
		"GITHUB_REF_TYPE": "branch", "GITHUB_REPOSITORY": "octo-org/legacy-api",
	},
	"pull_request.json": {
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/12/merge", "GITHUB_REF_NAME": "12/merge",
		"GITHUB_REF_TYPE": "branch", "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature/login-form",
		"GITHUB_REPOSITORY": "octo-org/warm-app",
	},
	"pull_request-fork.json": {
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/7/merge", "GITHUB_REF_NAME": "7/merge",
		"GITHUB_REF_TYPE": "branch", "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "main",
		"GITHUB_REPOSITORY": "octo-org/warm-app",
	},
	"pull_request_target-fork.json": {
		"GITHUB_EVENT_NAME": "pull_request_target", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
		"GITHUB_REF_TYPE": "branch", "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "patch-1",
		"GITHUB_REPOSITORY": "octo-org/warm-app",
	},
	"pull_request-develop-base.json": {
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/31/merge", "GITHUB_REF_NAME": "31/merge",
		"GITHUB_REF_TYPE": "branch", "GITHUB_BASE_REF": "release/1.9", "GITHUB_HEAD_REF": "release/2.0",
		"GITHUB_REPOSITORY": "octo-org/shop",
	},
	"pull_request-in-forked-repo.json": {
		"GITHUB_EVENT_NAME": "pull_request", "GITHUB_REF": "refs/pull/3/merge", "GITHUB_REF_NAME": "3/merge",
		"GITHUB_REF_TYPE": "branch", "GITHUB_BASE_REF": "main", "GITHUB_HEAD_REF": "feature/login-form",
		"GITHUB_REPOSITORY": "mona/warm-app",
	},
	"merge_group.json": {
		"GITHUB_EVENT_NAME": "merge_group",
		"GITHUB_REF":        "refs/heads/gh-readonly-queue/main/pr-12-0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
		"GITHUB_REF_NAME":   "gh-readonly-queue/main/pr-12-0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
		"GITHUB_REF_TYPE":   "branch", "GITHUB_REPOSITORY": "octo-org/warm-app",
	},
	"schedule.json": {
		"GITHUB_EVENT_NAME": "schedule", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main",
		"GITHUB_REF_TYPE": "branch", "GITHUB_REPOSITORY": "octo-org/warm-app",
	},
	"workflow_dispatch.json": {
		"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_REF": "refs/heads/release/2.0", "GITHUB_REF_NAME": "release/2.0",
		"GITHUB_REF_TYPE": "branch", "GITHUB_REPOSITORY": "octo-org/warm-app",
	},
}

func eventInput(t *testing.T, file string) Input {
	t.Helper()
	env, ok := runnerEnv[file]
	if !ok {
		t.Fatalf("no runner environment for %s", file)
	}
	f, err := os.Open(filepath.Join("..", "..", "testdata", "events", file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, err := InputFromEnv(func(k string) string { return env[k] }, f)
	if err != nil {
		t.Fatalf("InputFromEnv(%s): %v", file, err)
	}
	return in
}

// Every event file has a runner environment in the table, and every one is used below.
func TestEveryEventFileHasItsRunnerEnvironment(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "events", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(runnerEnv) {
		t.Errorf("%d event files, %d runner environments", len(files), len(runnerEnv))
	}
	for _, f := range files {
		if _, ok := runnerEnv[filepath.Base(f)]; !ok {
			t.Errorf("%s has no runner environment", filepath.Base(f))
		}
	}
}

func TestDecideOnRealEvents(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		saveOn []string
		want   Decision
	}{
		{
			name: "push to the default branch saves it",
			file: "push-default-branch.json",
			want: Decision{
				ReadBranches: []string{"main"}, WriteBranch: "main", Save: true,
				Reason: "saved: push to main (the default branch)",
				Event:  EventInfo{Name: "push", Kind: KindBranch, RefName: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "push to the default branch with never saves nothing",
			file:   "push-default-branch.json",
			saveOn: []string{"never"},
			want: Decision{
				ReadBranches: []string{"main"},
				Reason:       "skipped: push to main — cache-save-on is never",
				Event:        EventInfo{Name: "push", Kind: KindBranch, RefName: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name: "push to a feature branch reads it and the default branch, saves nothing",
			file: "push-feature-branch.json",
			want: Decision{
				ReadBranches: []string{"feature/login-form", "main"},
				Reason:       "skipped: push to feature/login-form — only the default branch (main) saves",
				Event:        EventInfo{Name: "push", Kind: KindBranch, RefName: "feature/login-form", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "push to a feature branch matching a glob saves it",
			file:   "push-feature-branch.json",
			saveOn: []string{"main", "feature/*"},
			want: Decision{
				ReadBranches: []string{"feature/login-form", "main"}, WriteBranch: "feature/login-form", Save: true,
				Reason: "saved: push to feature/login-form (matches cache-save-on feature/*)",
				Event:  EventInfo{Name: "push", Kind: KindBranch, RefName: "feature/login-form", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "push to a feature branch matching no glob saves nothing",
			file:   "push-feature-branch.json",
			saveOn: []string{"release/*", "main"},
			want: Decision{
				ReadBranches: []string{"feature/login-form", "main"},
				Reason:       "skipped: push to feature/login-form — it matches none of cache-save-on (release/*, main)",
				Event:        EventInfo{Name: "push", Kind: KindBranch, RefName: "feature/login-form", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "push to a feature branch with always saves it",
			file:   "push-feature-branch.json",
			saveOn: []string{"always"},
			want: Decision{
				ReadBranches: []string{"feature/login-form", "main"}, WriteBranch: "feature/login-form", Save: true,
				Reason: "saved: push to feature/login-form (cache-save-on: always)",
				Event:  EventInfo{Name: "push", Kind: KindBranch, RefName: "feature/login-form", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name: "a tag reads the default branch and saves nothing",
			file: "push-tag.json",
			want: Decision{
				ReadBranches: []string{"main"},
				Reason:       "skipped: push of tag v1.4.0 — tags read the default branch's cache and save only when cache-save-on names them",
				Event:        EventInfo{Name: "push", Kind: KindTag, RefName: "v1.4.0", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "a tag matching cache-save-on saves to its own scope",
			file:   "push-tag.json",
			saveOn: []string{"main", "v*"},
			want: Decision{
				ReadBranches: []string{"v1.4.0", "main"}, WriteBranch: "v1.4.0", Save: true,
				Reason: "saved: push of tag v1.4.0 (matches cache-save-on v*)",
				Event:  EventInfo{Name: "push", Kind: KindTag, RefName: "v1.4.0", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name: "trunk is the default branch when the repository says so",
			file: "push-trunk-default-branch.json",
			want: Decision{
				ReadBranches: []string{"trunk"}, WriteBranch: "trunk", Save: true,
				Reason: "saved: push to trunk (the default branch)",
				Event:  EventInfo{Name: "push", Kind: KindBranch, RefName: "trunk", DefaultBranch: "trunk", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name: "main is an ordinary branch in a repository whose default is trunk",
			file: "push-main-in-trunk-repo.json",
			want: Decision{
				ReadBranches: []string{"main", "trunk"},
				Reason:       "skipped: push to main — only the default branch (trunk) saves",
				Event:        EventInfo{Name: "push", Kind: KindBranch, RefName: "main", DefaultBranch: "trunk", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name: "a pull request reads its base and saves nothing",
			file: "pull_request.json",
			want: Decision{
				ReadBranches: []string{"main"},
				Reason:       "skipped: pull_request #12 — only the default branch (main) saves",
				Event: EventInfo{Name: "pull_request", Kind: KindPullRequest, RefName: "feature/login-form", PullRequest: 12,
					BaseBranch: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "a pull request with always saves to its own scope and reads it first",
			file:   "pull_request.json",
			saveOn: []string{"always"},
			want: Decision{
				ReadBranches: []string{"pr-12", "main"}, WriteBranch: "pr-12", Save: true,
				Reason: "saved: pull_request #12 to its own scope pr-12 (cache-save-on: always); later runs of this pull request read it",
				Event: EventInfo{Name: "pull_request", Kind: KindPullRequest, RefName: "feature/login-form", PullRequest: 12,
					BaseBranch: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "branch globs do not make a pull request save, even when its head branch matches",
			file:   "pull_request.json",
			saveOn: []string{"feature/*"},
			want: Decision{
				ReadBranches: []string{"main"},
				Reason:       "skipped: pull_request #12 — branch globs in cache-save-on apply to pushed branches; pull requests save only with cache-save-on: always",
				Event: EventInfo{Name: "pull_request", Kind: KindPullRequest, RefName: "feature/login-form", PullRequest: 12,
					BaseBranch: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "a fork pull request never writes, even with always",
			file:   "pull_request-fork.json",
			saveOn: []string{"always"},
			want: Decision{
				ReadBranches: []string{"main"},
				Reason:       "skipped: fork pull request #7 never writes",
				Event: EventInfo{Name: "pull_request", Kind: KindPullRequest, RefName: "main", PullRequest: 7, Fork: true,
					BaseBranch: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "pull_request_target never writes, even with always",
			file:   "pull_request_target-fork.json",
			saveOn: []string{"always"},
			want: Decision{
				ReadBranches: []string{"main"},
				Reason:       "skipped: pull_request_target #9 never writes: it runs with the base repository's permissions, so a save would put pull request code into the base branch's cache",
				Event: EventInfo{Name: "pull_request_target", Kind: KindPullRequest, RefName: "patch-1", PullRequest: 9, Fork: true,
					BaseBranch: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name: "a pull request into a release branch reads it, then the default branch develop",
			file: "pull_request-develop-base.json",
			want: Decision{
				ReadBranches: []string{"release/1.9", "develop"},
				Reason:       "skipped: pull_request #31 — only the default branch (develop) saves",
				Event: EventInfo{Name: "pull_request", Kind: KindPullRequest, RefName: "release/2.0", PullRequest: 31,
					BaseBranch: "release/1.9", DefaultBranch: "develop", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "a pull request inside a forked repository is not a fork pull request",
			file:   "pull_request-in-forked-repo.json",
			saveOn: []string{"always"},
			want: Decision{
				ReadBranches: []string{"pr-3", "main"}, WriteBranch: "pr-3", Save: true,
				Reason: "saved: pull_request #3 to its own scope pr-3 (cache-save-on: always); later runs of this pull request read it",
				Event: EventInfo{Name: "pull_request", Kind: KindPullRequest, RefName: "feature/login-form", PullRequest: 3,
					BaseBranch: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "a merge queue run reads its base and never writes",
			file:   "merge_group.json",
			saveOn: []string{"always"},
			want: Decision{
				ReadBranches: []string{"main"},
				Reason:       "skipped: merge_group for main never writes: merge queue branches are temporary, so nothing would read the cache",
				Event: EventInfo{Name: "merge_group", Kind: KindMergeGroup, RefName: "gh-readonly-queue/main/pr-12-0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
					PullRequest: 12, BaseBranch: "main", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name: "a scheduled run is on the default branch even though its payload has no repository",
			file: "schedule.json",
			want: Decision{
				ReadBranches: []string{"main"}, WriteBranch: "main", Save: true,
				Reason: "saved: schedule on main (the default branch)",
				Event:  EventInfo{Name: "schedule", Kind: KindBranch, RefName: "main", DefaultBranch: "main", DefaultBranchFrom: "schedule"},
			},
		},
		{
			name: "a manual run on a release branch reads it and the default branch",
			file: "workflow_dispatch.json",
			want: Decision{
				ReadBranches: []string{"release/2.0", "main"},
				Reason:       "skipped: workflow_dispatch on release/2.0 — only the default branch (main) saves",
				Event:        EventInfo{Name: "workflow_dispatch", Kind: KindBranch, RefName: "release/2.0", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
		{
			name:   "a manual run on a release branch matching release/* saves it",
			file:   "workflow_dispatch.json",
			saveOn: []string{"release/*"},
			want: Decision{
				ReadBranches: []string{"release/2.0", "main"}, WriteBranch: "release/2.0", Save: true,
				Reason: "saved: workflow_dispatch on release/2.0 (matches cache-save-on release/*)",
				Event:  EventInfo{Name: "workflow_dispatch", Kind: KindBranch, RefName: "release/2.0", DefaultBranch: "main", DefaultBranchFrom: "event payload"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := eventInput(t, tt.file)
			in.SaveOn = saveOn(t, tt.saveOn...)
			got, err := Decide(in)
			if err != nil {
				t.Fatal(err)
			}
			tt.want.Mode = "max"
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide(%s, cache-save-on %q)\n got  %+v\n want %+v", tt.file, tt.saveOn, got, tt.want)
			}
			if got.Save != (got.WriteBranch != "") {
				t.Errorf("Save %v but WriteBranch %q", got.Save, got.WriteBranch)
			}
			if prefix := map[bool]string{true: "saved: ", false: "skipped: "}[got.Save]; !strings.HasPrefix(got.Reason, prefix) {
				t.Errorf("Reason %q does not start with %q", got.Reason, prefix)
			}
		})
	}
}

// act and hand-made runs give `{}` as the event: the default branch is unknown, and the
// policy says so instead of guessing "main".
func TestDecideWithoutDefaultBranch(t *testing.T) {
	base := Input{EventName: "push", Ref: "refs/heads/main", Payload: []byte("{}")}

	got, err := Decide(base)
	if err != nil {
		t.Fatal(err)
	}
	want := Decision{
		ReadBranches: []string{"main"}, Mode: "max",
		Reason: "skipped: push to main — only the default branch saves by default, and the default branch is unknown (the event payload has no repository.default_branch); name the branches to save in cache-save-on",
		Event:  EventInfo{Name: "push", Kind: KindBranch, RefName: "main"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("unknown default branch\n got  %+v\n want %+v", got, want)
	}

	named := base
	named.SaveOn = saveOn(t, "main")
	got, err = Decide(named)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Save || got.WriteBranch != "main" || !strings.Contains(got.Reason, "default branch unknown") {
		t.Errorf("cache-save-on main with unknown default branch: got %+v, want a save of main whose reason mentions the unknown default branch", got)
	}

	given := base
	given.DefaultBranch = "main"
	got, err = Decide(given)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Save || got.Event.DefaultBranchFrom != "configuration" || got.Reason != "saved: push to main (the default branch)" {
		t.Errorf("default branch from configuration: got %+v", got)
	}

	tag := Input{EventName: "push", Ref: "refs/tags/v2"}
	got, err = Decide(tag)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ReadBranches) != 0 || got.Save || !strings.Contains(got.Reason, "default branch unknown") {
		t.Errorf("tag with unknown default branch: got %+v, want nothing read, nothing saved, and the reason saying why", got)
	}
}

func TestDecidePullRequestFromDeletedFork(t *testing.T) {
	payload := `{"action":"synchronize","number":44,"pull_request":{"number":44,
		"head":{"ref":"patch-2","repo":null},"base":{"ref":"main","repo":{"full_name":"octo-org/warm-app"}}},
		"repository":{"full_name":"octo-org/warm-app","default_branch":"main"}}`
	got, err := Decide(Input{EventName: "pull_request", Ref: "refs/pull/44/merge", Payload: []byte(payload), SaveOn: saveOn(t, "always")})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Event.Fork || got.Save || got.Reason != "skipped: fork pull request #44 never writes" {
		t.Errorf("deleted head repository: got %+v, want a fork that does not save", got)
	}
}

// Without a payload the pull request facts come from GITHUB_BASE_REF, GITHUB_HEAD_REF and
// the number in GITHUB_REF.
func TestDecidePullRequestFromEnvironmentOnly(t *testing.T) {
	got, err := Decide(Input{EventName: "pull_request", Ref: "refs/pull/5/merge", BaseRef: "develop", HeadRef: "fix", DefaultBranch: "develop"})
	if err != nil {
		t.Fatal(err)
	}
	if got.Event.PullRequest != 5 || got.Event.BaseBranch != "develop" || got.Event.RefName != "fix" ||
		!reflect.DeepEqual(got.ReadBranches, []string{"develop"}) || got.Save {
		t.Errorf("got %+v", got)
	}
}

// cache-mode comes parsed; a zero mode is max, the default.
func TestDecideModes(t *testing.T) {
	for in, want := range map[inputs.CacheMode]inputs.CacheMode{"": "max", inputs.CacheModeMax: "max", inputs.CacheModeMin: "min"} {
		got, err := Decide(Input{EventName: "push", Ref: "refs/heads/main", Mode: in})
		if err != nil {
			t.Fatalf("mode %q: %v", in, err)
		}
		if got.Mode != want {
			t.Errorf("mode %q: got %q, want %q", in, got.Mode, want)
		}
	}
}

func TestDecideRejectsBrokenPayload(t *testing.T) {
	_, err := Decide(Input{EventName: "push", Ref: "refs/heads/main", Payload: []byte(`{"repository":`)})
	if err == nil || !strings.Contains(err.Error(), "event payload") {
		t.Errorf("got %v, want an error about the event payload", err)
	}
}

func TestReadPayloadRefusesHugeFiles(t *testing.T) {
	huge := strings.NewReader(strings.Repeat(" ", maxPayloadBytes+1))
	if _, err := ReadPayload(huge); err == nil {
		t.Error("a payload over the limit was accepted")
	}
}

// saveOn parses cache-save-on entries as pkg/inputs does for the workflow.
func saveOn(t *testing.T, entries ...string) inputs.SaveOn {
	t.Helper()
	s, err := inputs.ParseSaveOn(strings.Join(entries, "\n"))
	if err != nil {
		t.Fatalf("cache-save-on %q: %v", entries, err)
	}
	return s
}
