package cachepolicy

import (
	"strings"
	"testing"
)

func decideWithMode(t *testing.T, file, mode string) Decision {
	t.Helper()
	in := eventInput(t, file)
	env := map[string]string{"ACTIONS_CACHE_MODE": mode}
	for k, v := range runnerEnv[file] {
		env[k] = v
	}
	fromEnv, err := InputFromEnv(func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	in.Access, in.AccessWarning = fromEnv.Access, fromEnv.AccessWarning
	d, err := Decide(in)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The runner's ACTIONS_CACHE_MODE (or the workflow's own env) decides over the event: a push
// to the default branch saves only where the mode allows writes, and reads only where it
// allows reads; the reason names the variable and its value.
func TestCacheModeDecidesReadsAndSavesOfADefaultBranchPush(t *testing.T) {
	for _, tc := range []struct {
		mode       string
		want       Access
		read, save bool
	}{
		{"", "", true, true},
		{"write", AccessWrite, true, true},
		{"read", AccessRead, true, false},
		{"write-only", AccessWriteOnly, false, true},
		{"none", AccessNone, false, false},
		{" Read ", AccessRead, true, false},
	} {
		t.Run("mode "+tc.mode, func(t *testing.T) {
			d := decideWithMode(t, "push-default-branch.json", tc.mode)
			if d.Access != tc.want {
				t.Errorf("access %q, want %q", d.Access, tc.want)
			}
			if d.Save != tc.save {
				t.Errorf("save %v, want %v (%s)", d.Save, tc.save, d.Reason)
			}
			if got := len(d.ReadBranches) > 0; got != tc.read {
				t.Errorf("read branches %q, want reads: %v", d.ReadBranches, tc.read)
			}
			if !tc.save {
				if d.WriteBranch != "" {
					t.Errorf("write branch %q without a save", d.WriteBranch)
				}
				if !strings.HasPrefix(d.Reason, "skipped: ACTIONS_CACHE_MODE="+string(tc.want)+" (") {
					t.Errorf("reason %q must say the cache mode decided", d.Reason)
				}
				if !strings.Contains(d.Reason, "push to main") {
					t.Errorf("reason %q must still say what the event would have done", d.Reason)
				}
			}
			if !tc.read && !strings.Contains(d.ReadReason, "ACTIONS_CACHE_MODE="+string(tc.want)) {
				t.Errorf("read reason %q must name the cache mode", d.ReadReason)
			}
			if tc.read && d.ReadReason != "" {
				t.Errorf("read reason %q on a run that reads", d.ReadReason)
			}
		})
	}
}

func TestReadOnlyCacheModeReasonSaysItIsReadOnly(t *testing.T) {
	d := decideWithMode(t, "push-default-branch.json", "read")
	want := "skipped: ACTIONS_CACHE_MODE=read (read-only cache access) — otherwise push to main (the default branch)"
	if d.Reason != want {
		t.Errorf("reason\n got  %q\n want %q", d.Reason, want)
	}
}

// A run the event already keeps from saving says so first, and the mode after it.
func TestCacheModeOnARunThatDoesNotSaveKeepsTheEventsReason(t *testing.T) {
	d := decideWithMode(t, "pull_request.json", "read")
	if d.Save || !strings.HasPrefix(d.Reason, "skipped: pull_request #12") || !strings.Contains(d.Reason, "ACTIONS_CACHE_MODE=read") {
		t.Errorf("save %v, reason %q", d.Save, d.Reason)
	}
	if len(d.ReadBranches) == 0 {
		t.Errorf("read mode must still read: %q", d.ReadBranches)
	}
}

// A value no runner sets is a warning naming the variable, and caches are neither read nor
// written: a misspelt read-only setting must not let an untrusted job write.
func TestUnknownCacheModeWarnsAndNeitherReadsNorWrites(t *testing.T) {
	d := decideWithMode(t, "push-default-branch.json", "readonly")
	if len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], `ACTIONS_CACHE_MODE="readonly"`) || !strings.Contains(d.Warnings[0], "none, read, write or write-only") {
		t.Errorf("warnings %q", d.Warnings)
	}
	if d.Save || len(d.ReadBranches) != 0 || d.Access != AccessNone {
		t.Errorf("save %v, reads %q, access %q", d.Save, d.ReadBranches, d.Access)
	}
}

func TestParseAccess(t *testing.T) {
	for in, want := range map[string]Access{"": "", "write": AccessWrite, "READ": AccessRead, "write-only": AccessWriteOnly, "none": AccessNone} {
		got, err := ParseAccess(in)
		if err != nil || got != want {
			t.Errorf("ParseAccess(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseAccess("write_only"); err == nil || !strings.Contains(err.Error(), "ACTIONS_CACHE_MODE") {
		t.Errorf("ParseAccess(write_only) error %v", err)
	}
	var zero Access
	if !zero.Reads() || !zero.Writes() || zero.Restricted() {
		t.Error("the zero Access must read and write")
	}
}
