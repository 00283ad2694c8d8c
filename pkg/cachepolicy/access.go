package cachepolicy

import (
	"fmt"
	"strings"
)

// Access is what the job may do with caches, as ACTIONS_CACHE_MODE says. The runner exports
// the job's effective cache mode to node and container actions alike (actions/runner
// src/Runner.Worker/Handlers/ContainerActionHandler.cs: "actions_cache_mode" →
// ACTIONS_CACHE_MODE, #4538), and a workflow can set the variable itself in a job's or a
// step's env. @actions/cache skips restores on none and write-only and saves on none and
// read (actions/toolkit #2447 and its 5.x backport #2451: getCacheMode, isCacheReadable and
// isCacheWritable in packages/cache src/internal/config.ts; adopted by actions/cache #1781;
// the stored toolkit snapshot, 4b9afa4 of 2026-06-08, predates it, so this follows the
// pull requests' text).
//
// The zero value, like an unset variable, allows both.
type Access string

// Cache modes, spelled as in ACTIONS_CACHE_MODE.
const (
	AccessWrite     Access = "write" // read and write: what runs did before cache modes
	AccessRead      Access = "read"
	AccessWriteOnly Access = "write-only"
	AccessNone      Access = "none"
)

// CacheModeEnv is the variable the runner (or the workflow) sets.
const CacheModeEnv = "ACTIONS_CACHE_MODE"

// ParseAccess reads ACTIONS_CACHE_MODE; "" (unset) gives "", which reads and writes. An
// unknown value is an error naming the variable: the caller decides what to do without one
// (see AccessFromEnv).
func ParseAccess(s string) (Access, error) {
	switch a := Access(strings.ToLower(strings.TrimSpace(s))); a {
	case "", AccessWrite, AccessRead, AccessWriteOnly, AccessNone:
		return a, nil
	default:
		return AccessNone, fmt.Errorf("%s=%q is not a cache mode (none, read, write or write-only)", CacheModeEnv, s)
	}
}

// AccessFromEnv reads ACTIONS_CACHE_MODE through getenv. An unknown value gives AccessNone
// and a warning: a misspelt read-only setting must not let an untrusted job write caches,
// nor read them. (@actions/cache ignores unknown values and reads and writes as before;
// warmbuild errs on the side the variable exists for, and says so.)
func AccessFromEnv(getenv func(string) string) (a Access, warning string) {
	a, err := ParseAccess(getenv(CacheModeEnv))
	if err != nil {
		return AccessNone, err.Error() + "; caches are neither read nor written"
	}
	return a, ""
}

// Reads tells whether caches may be restored.
func (a Access) Reads() bool { return a == "" || a == AccessWrite || a == AccessRead }

// Writes tells whether caches may be saved.
func (a Access) Writes() bool { return a == "" || a == AccessWrite || a == AccessWriteOnly }

// Restricted tells whether the mode forbids anything.
func (a Access) Restricted() bool { return !a.Reads() || !a.Writes() }

// Describe says what the mode allows, e.g. "read-only cache access".
func (a Access) Describe() string {
	switch a {
	case AccessRead:
		return "read-only cache access"
	case AccessWriteOnly:
		return "write-only cache access: caches are saved, never restored"
	case AccessNone:
		return "no cache access"
	default:
		return "read and write cache access"
	}
}

// Sentence is "ACTIONS_CACHE_MODE=read (read-only cache access)".
func (a Access) Sentence() string {
	return fmt.Sprintf("%s=%s (%s)", CacheModeEnv, string(a), a.Describe())
}

// applyAccess narrows a decision made from the event to what the cache mode allows.
func applyAccess(d *Decision, a Access) {
	d.Access = a // "" stays "": it reads and writes like AccessWrite
	if !a.Reads() {
		d.ReadReason = "not restored: " + a.Sentence()
		d.ReadBranches = nil
	}
	if !a.Writes() {
		if d.Save {
			// The event's own sentence stays, so a user sees what the mode overrode.
			d.Reason = fmt.Sprintf("skipped: %s — otherwise %s", a.Sentence(), strings.TrimPrefix(d.Reason, "saved: "))
		} else {
			d.Reason += fmt.Sprintf("; %s forbids saves anyway", a.Sentence())
		}
		d.Save, d.WriteBranch = false, ""
	}
}
