package cachepolicy

import (
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// FuzzDecide feeds arbitrary event payloads (the file at GITHUB_EVENT_PATH, which a fork's
// pull request partly controls) to Decide under each event kind. It must not panic, and
// the rules that keep untrusted code out of trusted caches hold whatever the payload says:
// pull_request_target and merge_group never write, a fork's pull request never writes,
// and a decision always says why.
//
//	go test ./pkg/cachepolicy -run '^$' -fuzz '^FuzzDecide$' -fuzztime 60s
func FuzzDecide(f *testing.F) {
	f.Add([]byte(`{}`), "refs/heads/main", "always")
	f.Add([]byte(`{"repository":{"full_name":"o/r","default_branch":"main"}}`), "refs/heads/main", "")
	f.Add([]byte(`{"number":12,"pull_request":{"number":12,"head":{"ref":"f","repo":{"full_name":"x/r","fork":true}},"base":{"ref":"main","repo":{"full_name":"o/r"}}},"repository":{"full_name":"o/r","default_branch":"main"}}`), "refs/pull/12/merge", "always")
	f.Add([]byte(`{"pull_request":{"number":-3,"head":{"repo":null}}}`), "refs/pull/-3/merge", "always")
	f.Add([]byte(`{"merge_group":{"base_ref":"refs/heads/main","head_ref":"refs/heads/gh-readonly-queue/main/pr-9-abc"}}`), "refs/heads/gh-readonly-queue/main/pr-9-abc", "always")
	f.Add([]byte(`{"ref":"refs/tags/v1"}`), "refs/tags/v1", "v*")
	f.Add([]byte(`{"repository":`), "refs/heads/x", "never")
	f.Add([]byte("\x00"), "", "[")
	events := []string{"push", "pull_request", "pull_request_target", "merge_group", "schedule", "workflow_dispatch"}
	f.Fuzz(func(t *testing.T, payload []byte, ref, saveOnText string) {
		saveOn, err := inputs.ParseSaveOn(saveOnText)
		if err != nil {
			return
		}
		for _, event := range events {
			in := Input{
				EventName:  event,
				Ref:        ref,
				RefName:    strings.TrimPrefix(strings.TrimPrefix(ref, "refs/heads/"), "refs/tags/"),
				Repository: "o/r",
				Payload:    payload,
				SaveOn:     saveOn,
			}
			d, err := Decide(in)
			if err != nil {
				continue
			}
			if d.Save != (d.WriteBranch != "") {
				t.Fatalf("%s: Save=%v with write branch %q", event, d.Save, d.WriteBranch)
			}
			if !strings.HasPrefix(d.Reason, "saved:") && !strings.HasPrefix(d.Reason, "skipped:") {
				t.Fatalf("%s: reason %q says neither saved nor skipped", event, d.Reason)
			}
			if d.Save && (event == "pull_request_target" || event == "merge_group") {
				t.Fatalf("%s writes %q", event, d.WriteBranch)
			}
			if d.Save && d.Event.Fork {
				t.Fatalf("%s from a fork writes %q", event, d.WriteBranch)
			}
			for _, b := range d.ReadBranches {
				if b == "" {
					t.Fatalf("%s: empty read branch in %q", event, d.ReadBranches)
				}
			}
		}
	})
}
