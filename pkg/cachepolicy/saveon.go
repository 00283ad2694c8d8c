package cachepolicy

import (
	"fmt"
	"path"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// saveRule is the parsed `cache-save-on` input.
type saveRule struct {
	always   bool
	never    bool
	patterns []string // empty with !always && !never: only the default branch saves
}

func (r saveRule) isDefault() bool { return !r.always && !r.never && len(r.patterns) == 0 }

// parseSaveOn validates `cache-save-on`. Patterns are path.Match globs in which `*` stays
// inside one path segment (release/* matches release/1.2, not release/1.2/hotfix) and
// `**` crosses segments (release/** matches both).
func parseSaveOn(items []string) (saveRule, error) {
	var r saveRule
	for _, raw := range items {
		item := strings.TrimSpace(raw)
		switch {
		case item == "":
			continue
		case strings.EqualFold(item, "always"):
			r.always = true
			continue
		case strings.EqualFold(item, "never"):
			r.never = true
			continue
		}
		// People copy refs from GITHUB_REF; a branch name is what is matched.
		item = strings.TrimPrefix(item, "refs/heads/")
		item = strings.TrimPrefix(item, "refs/tags/")
		for _, piece := range strings.Split(item, "**") {
			if _, err := path.Match(piece, ""); err != nil {
				return saveRule{}, &inputs.Error{Input: "cache-save-on", Problem: fmt.Sprintf("%q is not a valid branch glob: %v", raw, err)}
			}
		}
		r.patterns = append(r.patterns, item)
	}
	if r.always && r.never {
		return saveRule{}, &inputs.Error{Input: "cache-save-on", Problem: "always and never contradict each other; keep one"}
	}
	if (r.always || r.never) && len(r.patterns) > 0 {
		return saveRule{}, &inputs.Error{Input: "cache-save-on", Problem: "always and never stand alone; do not mix them with branch globs"}
	}
	return r, nil
}

// match returns the first pattern that matches name, or "".
func (r saveRule) match(name string) string {
	for _, p := range r.patterns {
		if globMatch(p, name) {
			return p
		}
	}
	return ""
}

// globMatch is path.Match extended with `**`, which matches any run of characters,
// slashes included. Patterns were validated by parseSaveOn.
func globMatch(pattern, name string) bool {
	before, after, found := strings.Cut(pattern, "**")
	if !found {
		ok, _ := path.Match(pattern, name)
		return ok
	}
	// The part before `**` must match a prefix of name and the rest of the pattern some
	// suffix that starts at or after that prefix. The shortest matching prefix leaves the
	// most suffixes to try, so it is the only one worth checking.
	for i := 0; i <= len(name); i++ {
		if ok, _ := path.Match(before, name[:i]); !ok {
			continue
		}
		for j := i; j <= len(name); j++ {
			if globMatch(after, name[j:]) {
				return true
			}
		}
		return false
	}
	return false
}
