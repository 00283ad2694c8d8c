// Package cachepolicy decides, from the event that started a workflow run, which branches'
// layer caches a build reads and whether (and where) it writes one, and says why in a
// sentence a user reads in the job summary.
//
// The rules follow what the GitHub Actions cache service allows (a run reads caches of its
// own ref, its base branch and the default branch) and what keeps the 10 GB quota useful:
//
//   - A run on a branch (push, schedule, workflow_dispatch, ...) reads its own branch and the
//     default branch. It writes its own branch when cache-save-on allows: by default only the
//     default branch writes; `always` writes every branch; `never` writes nothing; otherwise
//     the branch must match one of the globs.
//   - A tag reads the default branch only (a tag has no cache of its own). It writes, to a
//     scope named after the tag, only with `always` or a glob matching the tag name.
//   - pull_request (and pull_request_review*) reads the base and default branches and writes
//     nothing, except with `always` on a pull request from the same repository: then it
//     writes a scope of its own, pr-<N>, which later runs of the same pull request read
//     first. Globs never apply to pull requests.
//   - A pull request from a fork never writes: its code is untrusted and its token read-only.
//   - pull_request_target never writes, whatever cache-save-on says: it runs with the base
//     repository's permissions, so a save would put pull request code into the base
//     branch's cache.
//   - merge_group reads the base and default branches and never writes: merge queue branches
//     are temporary and nobody reads their caches.
//
// The default branch comes from the event payload (repository.default_branch), never from
// a guess such as "main"; Input.DefaultBranch is the fallback; a schedule run is on the
// default branch by definition. When none of these gives it, the Reason says so.
package cachepolicy

import (
	"fmt"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// Input is everything the policy looks at. The GITHUB_* fields are the runner's
// environment variables of the same name; InputFromEnv fills them.
type Input struct {
	EventName  string // GITHUB_EVENT_NAME
	Ref        string // GITHUB_REF, e.g. refs/heads/main, refs/tags/v1, refs/pull/12/merge
	RefName    string // GITHUB_REF_NAME
	RefType    string // GITHUB_REF_TYPE: branch or tag
	BaseRef    string // GITHUB_BASE_REF (pull requests)
	HeadRef    string // GITHUB_HEAD_REF (pull requests)
	Repository string // GITHUB_REPOSITORY, owner/name

	// Payload is the event file (GITHUB_EVENT_PATH); empty is allowed.
	Payload []byte
	// DefaultBranch is used when the payload does not name the default branch.
	DefaultBranch string

	SaveOn inputs.SaveOn    // input cache-save-on; zero: the default branch saves
	Mode   inputs.CacheMode // input cache-mode; zero: max

	// Access is ACTIONS_CACHE_MODE (InputFromEnv reads it); empty reads and writes.
	Access Access
	// AccessWarning is set when ACTIONS_CACHE_MODE had a value no runner sets.
	AccessWarning string
}

// Decision says what the build does with layer caches.
type Decision struct {
	// ReadBranches are the branch scopes to import, most specific first, without duplicates.
	// Pull request scopes are named pr-<N>; tags are named by the tag.
	ReadBranches []string
	// WriteBranch is the branch scope to export; empty when Save is false.
	WriteBranch string
	Save        bool
	// Reason is one sentence for the job summary, starting with "saved:" or "skipped:".
	Reason string
	// Mode is max or min, never empty.
	Mode  inputs.CacheMode
	Event EventInfo

	// Access is the cache mode (ACTIONS_CACHE_MODE) the decision obeys: without reads
	// ReadBranches is empty and ReadReason says why; without writes Save is false and
	// Reason names the mode. It governs the layer cache and every mount cache alike.
	// The zero value reads and writes.
	Access     Access
	ReadReason string
	// Warnings are problems with the environment the decision worked around.
	Warnings []string
}

// EventInfo describes the run for reports.
type EventInfo struct {
	Name        string // GITHUB_EVENT_NAME
	Kind        Kind
	RefName     string // branch or tag built; for pull requests the head branch
	PullRequest int    // pull request number; 0 when none
	Fork        bool   // the pull request comes from another repository
	BaseBranch  string // pull requests and merge queues: the branch merged into
	// DefaultBranch is the repository's default branch; empty when unknown.
	DefaultBranch string
	// DefaultBranchFrom says where DefaultBranch came from: "event payload",
	// "configuration" (Input.DefaultBranch), "schedule" or "" when unknown.
	DefaultBranchFrom string
	// Private is the payload's repository.private: build-push-action's default provenance
	// is mode=min on a private repository, mode=max otherwise.
	Private bool
}

// Kind is what a run builds.
type Kind string

const (
	KindBranch      Kind = "branch"
	KindTag         Kind = "tag"
	KindPullRequest Kind = "pull_request"
	KindMergeGroup  Kind = "merge_group"
	KindUnknown     Kind = "unknown" // no usable ref
)

// Decide applies the rules in the package documentation. Its only error is a wrapped JSON
// error for an unreadable payload: cache-save-on and cache-mode come parsed (pkg/inputs).
func Decide(in Input) (Decision, error) {
	rule := in.SaveOn
	p, err := parsePayload(in.Payload)
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Mode: inputs.CacheMode(in.Mode.String()), Event: EventInfo{Name: in.EventName}}
	d.Event.DefaultBranch, d.Event.DefaultBranchFrom = defaultBranch(in, p)
	d.Event.Private = p.Repository != nil && p.Repository.Private

	switch {
	case in.EventName == "pull_request_target":
		decidePullRequest(&d, in, p, rule, true)
	case strings.HasPrefix(in.EventName, "pull_request"):
		decidePullRequest(&d, in, p, rule, false)
	case in.EventName == "merge_group":
		decideMergeGroup(&d, in, p)
	default:
		decideRef(&d, in, p, rule)
	}
	d.ReadBranches = dedupe(d.ReadBranches)
	applyAccess(&d, in.Access)
	if in.AccessWarning != "" {
		d.Warnings = append(d.Warnings, in.AccessWarning)
	}
	return d, nil
}

func defaultBranch(in Input, p payload) (branch, from string) {
	if p.Repository != nil && p.Repository.DefaultBranch != "" {
		return p.Repository.DefaultBranch, "event payload"
	}
	if in.DefaultBranch != "" {
		return in.DefaultBranch, "configuration"
	}
	// Scheduled workflows always run on the latest commit of the default branch.
	if in.EventName == "schedule" {
		if b, ok := strings.CutPrefix(in.Ref, "refs/heads/"); ok && b != "" {
			return b, "schedule"
		}
	}
	return "", ""
}

func decidePullRequest(d *Decision, in Input, p payload, rule inputs.SaveOn, target bool) {
	ev := &d.Event
	ev.Kind = KindPullRequest
	ev.RefName = in.HeadRef
	ev.BaseBranch = in.BaseRef
	ev.PullRequest = p.Number
	if p.PR != nil {
		ev.PullRequest = p.PR.Number
		ev.RefName = firstNonEmpty(p.PR.Head.Ref, ev.RefName)
		ev.BaseBranch = firstNonEmpty(p.PR.Base.Ref, ev.BaseBranch)
		ev.Fork = isFork(in, p)
	}
	if ev.PullRequest == 0 {
		ev.PullRequest = pullNumberFromRef(in.Ref)
	}
	d.ReadBranches = []string{ev.BaseBranch, ev.DefaultBranch}

	what := in.EventName + pullNumber(ev.PullRequest)
	switch {
	case target:
		d.Reason = fmt.Sprintf("skipped: %s never writes: it runs with the base repository's permissions, so a save would put pull request code into the base branch's cache", what)
	case ev.Fork:
		d.Reason = fmt.Sprintf("skipped: fork pull request%s never writes", pullNumber(ev.PullRequest))
	case rule.Always() && ev.PullRequest == 0:
		d.Reason = fmt.Sprintf("skipped: %s — the pull request number is unknown, so there is no scope of its own to save to", what)
	case rule.Always():
		scope := fmt.Sprintf("pr-%d", ev.PullRequest)
		d.ReadBranches = append([]string{scope}, d.ReadBranches...)
		d.WriteBranch, d.Save = scope, true
		d.Reason = fmt.Sprintf("saved: %s to its own scope %s (cache-save-on: always); later runs of this pull request read it", what, scope)
	case rule.Never():
		d.Reason = fmt.Sprintf("skipped: %s — cache-save-on is never", what)
	case rule.Default():
		d.Reason = fmt.Sprintf("skipped: %s — only the default branch%s saves", what, parenthesized(ev.DefaultBranch))
	default:
		d.Reason = fmt.Sprintf("skipped: %s — branch globs in cache-save-on apply to pushed branches; pull requests save only with cache-save-on: always", what)
	}
	if ev.DefaultBranch == "" {
		d.Reason += unknownDefaultNote
	}
}

// isFork tells whether a pull request comes from another repository. The head repository's
// own `fork` flag is not enough: a pull request between two branches of a forked repository
// has fork: true on both sides.
func isFork(in Input, p payload) bool {
	head := p.PR.Head.Repo
	if head == nil {
		return true // the head repository was deleted: it cannot have been this one
	}
	base := firstNonEmpty(repoName(p.PR.Base.Repo), repoName(p.Repository), in.Repository)
	if head.FullName != "" && base != "" {
		return !strings.EqualFold(head.FullName, base)
	}
	return head.Fork
}

func repoName(r *repoInfo) string {
	if r == nil {
		return ""
	}
	return r.FullName
}

func decideMergeGroup(d *Decision, in Input, p payload) {
	ev := &d.Event
	ev.Kind = KindMergeGroup
	ev.RefName = strings.TrimPrefix(in.Ref, "refs/heads/")
	if p.MergeGroup != nil {
		ev.BaseBranch = strings.TrimPrefix(p.MergeGroup.BaseRef, "refs/heads/")
		ev.RefName = firstNonEmpty(strings.TrimPrefix(p.MergeGroup.HeadRef, "refs/heads/"), ev.RefName)
	}
	ev.PullRequest = pullNumberFromQueueBranch(ev.RefName)
	d.ReadBranches = []string{ev.BaseBranch, ev.DefaultBranch}
	d.Reason = "skipped: merge_group"
	if ev.BaseBranch != "" {
		d.Reason += " for " + ev.BaseBranch
	}
	d.Reason += " never writes: merge queue branches are temporary, so nothing would read the cache"
	if ev.DefaultBranch == "" {
		d.Reason += unknownDefaultNote
	}
}

// decideRef handles every run that builds a branch or a tag: push, schedule,
// workflow_dispatch, release, workflow_run, ...
func decideRef(d *Decision, in Input, p payload, rule inputs.SaveOn) {
	ev := &d.Event
	ref := firstNonEmpty(in.Ref, p.Ref)
	if ref == "" && in.RefName != "" {
		// Some runners set only GITHUB_REF_NAME and GITHUB_REF_TYPE.
		if in.RefType == "tag" {
			ref = "refs/tags/" + in.RefName
		} else {
			ref = "refs/heads/" + in.RefName
		}
	}
	def := ev.DefaultBranch
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok && b != "" {
		ev.Kind, ev.RefName = KindBranch, b
		decideBranch(d, in.EventName, rule)
		return
	}
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok && t != "" {
		ev.Kind, ev.RefName = KindTag, t
		decideTag(d, in.EventName, rule)
		return
	}
	ev.Kind = KindUnknown
	d.ReadBranches = []string{def}
	what := in.EventName
	if ref != "" {
		what += " on " + ref
	}
	d.Reason = fmt.Sprintf("skipped: %s — not a branch or a tag, so there is no cache scope to write", what)
	if def == "" {
		d.Reason += unknownDefaultNote
	}
}

func decideBranch(d *Decision, event string, rule inputs.SaveOn) {
	ev := &d.Event
	branch, def := ev.RefName, ev.DefaultBranch
	d.ReadBranches = []string{branch, def}
	what := event + " on " + branch
	if event == "push" {
		what = "push to " + branch
	}
	isDefault := def != "" && branch == def

	switch {
	case rule.Never():
		d.Reason = fmt.Sprintf("skipped: %s — cache-save-on is never", what)
	case rule.Always():
		d.Save = true
		d.Reason = fmt.Sprintf("saved: %s (cache-save-on: always)", what)
	case rule.Default() && isDefault:
		d.Save = true
		d.Reason = fmt.Sprintf("saved: %s (the default branch)", what)
	case rule.Default() && def == "":
		d.Reason = fmt.Sprintf("skipped: %s — only the default branch saves by default, and the default branch is unknown (the event payload has no repository.default_branch); name the branches to save in cache-save-on", what)
	case rule.Default():
		d.Reason = fmt.Sprintf("skipped: %s — only the default branch (%s) saves", what, def)
	default:
		if p := rule.Match(branch); p != "" {
			d.Save = true
			d.Reason = fmt.Sprintf("saved: %s (matches cache-save-on %s)", what, p)
		} else {
			d.Reason = fmt.Sprintf("skipped: %s — it matches none of cache-save-on (%s)", what, strings.Join(rule.Globs(), ", "))
		}
	}
	if d.Save {
		d.WriteBranch = branch
	}
	if def == "" && !rule.Default() {
		d.Reason += unknownDefaultNote
	}
}

func decideTag(d *Decision, event string, rule inputs.SaveOn) {
	ev := &d.Event
	tag, def := ev.RefName, ev.DefaultBranch
	what := event + " on tag " + tag
	if event == "push" {
		what = "push of tag " + tag
	}
	switch {
	case rule.Always():
		d.Save = true
		d.Reason = fmt.Sprintf("saved: %s (cache-save-on: always)", what)
	case rule.Never():
		d.Reason = fmt.Sprintf("skipped: %s — cache-save-on is never", what)
	default:
		if p := rule.Match(tag); p != "" {
			d.Save = true
			d.Reason = fmt.Sprintf("saved: %s (matches cache-save-on %s)", what, p)
		} else {
			d.Reason = fmt.Sprintf("skipped: %s — tags read the default branch's cache and save only when cache-save-on names them", what)
		}
	}
	if d.Save {
		// Only a tag that writes has a scope worth reading back (a re-run of the same tag).
		d.WriteBranch = tag
		d.ReadBranches = []string{tag, def}
	} else {
		d.ReadBranches = []string{def}
	}
	if def == "" {
		d.Reason += unknownDefaultNote
	}
}

const unknownDefaultNote = " (default branch unknown: the event payload has no repository.default_branch, so its cache is not read)"

func pullNumber(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf(" #%d", n)
}

func parenthesized(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// dedupe drops empty and repeated names, keeping the first occurrence.
func dedupe(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
