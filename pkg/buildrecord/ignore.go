package buildrecord

import "github.com/moby/patternmatcher"

// ignoreMatcher wraps a .dockerignore's matcher; the zero value ignores nothing.
type ignoreMatcher struct {
	m *patternmatcher.PatternMatcher
}

// NewIgnore wraps m (nil for none).
func NewIgnore(m *patternmatcher.PatternMatcher) IgnoreMatcher { return ignoreMatcher{m} }

func (i ignoreMatcher) pm() *patternmatcher.PatternMatcher { return i.m }
