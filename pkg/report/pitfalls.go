package report

import (
	"fmt"
	"strings"
)

// pitfalls (issue 17)

// Pitfall is one cache pitfall of the Dockerfile (the report's copy of pitfalls.Finding,
// which this package does not import).
type Pitfall struct {
	ID      string // the pitfall id, as cache-pitfalls-ignore names it
	File    string // the Dockerfile, relative to the workspace
	Line    int
	Message string
	Fix     string
}

// pitfallsSection lists the cache pitfalls under the summary; empty without any.
func (r Result) pitfallsSection() string {
	if len(r.Pitfalls) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("\n#### Cache pitfalls\n\n| Where | Pitfall | Fix |\n|---|---|---|\n")
	for _, p := range r.Pitfalls {
		where := p.File
		if p.Line > 0 {
			where = fmt.Sprintf("%s:%d", p.File, p.Line)
		}
		fmt.Fprintf(&b, "| %s | %s: %s | %s |\n", TableCode(where), TableCode(p.ID), TableText(p.Message), TableText(p.Fix))
	}
	b.WriteString("\nSilence one with `cache-pitfalls-ignore: <id>`.\n")
	return b.String()
}
