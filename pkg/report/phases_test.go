package report

import (
	"strings"
	"testing"
	"time"
)

// A save that ran during an export longer than every sequential phase together (a
// cached build, a slow upload) panicked the action after a successful build.
func TestSummaryDrawsAPhaseLongerThanTheRunItRanAlongside(t *testing.T) {
	s := Result{Phases: []Phase{
		{Name: "build", Duration: 430 * time.Millisecond},
		{Name: "save", Duration: 960 * time.Millisecond, During: "export"},
	}}
	md := s.Summary()
	if !strings.Contains(md, "save") || !strings.Contains(md, "(during export)") {
		t.Errorf("summary lacks the save phase:\n%s", md)
	}
}
