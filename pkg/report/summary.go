package report

import (
	"fmt"
	"strings"
	"time"
)

// Summary is one build's section of the job summary.
type Summary struct {
	Image    string   // first tag, or the Dockerfile when untagged
	Tags     []string //
	Digest   string
	Failed   string // non-empty: why the build failed
	Duration time.Duration

	StepsCached, StepsTotal int

	CacheBackend    string
	CacheReads      []string
	CacheWrite      string
	CacheSaved      bool
	CacheSaveReason string
	// CacheMode says what ACTIONS_CACHE_MODE allows, when it forbids reads or writes.
	CacheMode string

	Mounts []MountSummary
	Phases []Phase
	Hints  []string // short sentences where something went wrong or slow
}

// MountSummary is one carried cache mount.
type MountSummary struct {
	ID, Key, Hit              string
	RestoredBytes, SavedBytes int64
	PipCached, PipTotal       int
	Saved                     bool
	Note                      string
}

// Phase is a timed part of the run.
type Phase struct {
	Name     string
	Duration time.Duration
	// During names the phase this one ran alongside ("export"); it is not part of the
	// run's wall time on top of that phase.
	During string
}

// Markdown renders the summary to fit on one screen: a headline table, then the cache
// details, then where the time went.
func (s Summary) Markdown() string {
	var b strings.Builder
	status := "✅ built"
	if s.Failed != "" {
		status = "❌ failed"
	}
	fmt.Fprintf(&b, "### warmbuild: %s %s\n\n", Code(s.Image), status)
	b.WriteString("| | |\n|---|---|\n")
	if len(s.Tags) > 0 {
		fmt.Fprintf(&b, "| Tags | %s |\n", codeList(s.Tags))
	}
	if s.Digest != "" {
		fmt.Fprintf(&b, "| Digest | %s |\n", TableCode(s.Digest))
	}
	fmt.Fprintf(&b, "| Duration | %s |\n", seconds(s.Duration))
	fmt.Fprintf(&b, "| Layer cache | %d/%d steps cached (%s) %s |\n", s.StepsCached, s.StepsTotal, Ratio(s.StepsCached, s.StepsTotal), bar(s.StepsCached, s.StepsTotal, 10))
	if s.CacheBackend != "" {
		fmt.Fprintf(&b, "| Cache backend | %s |\n", TableText(s.CacheBackend))
	}
	if s.CacheMode != "" {
		fmt.Fprintf(&b, "| Cache mode | %s |\n", TableText(s.CacheMode))
	}
	if len(s.CacheReads) > 0 {
		fmt.Fprintf(&b, "| Read from | %s |\n", codeList(s.CacheReads))
	}
	if s.CacheWrite != "" {
		fmt.Fprintf(&b, "| Written to | %s |\n", TableCode(s.CacheWrite))
	}
	if s.CacheSaveReason != "" {
		fmt.Fprintf(&b, "| Save | %s |\n", TableText(s.CacheSaveReason))
	}
	if s.Failed != "" {
		fmt.Fprintf(&b, "| Error | %s |\n", TableText(s.Failed))
	}
	if len(s.Mounts) > 0 {
		b.WriteString("\n| Mount cache | Hit | Restored | Saved | pip cached |\n|---|---|---|---|---|\n")
		for _, m := range s.Mounts {
			saved := "–"
			if m.Saved {
				saved = Bytes(m.SavedBytes)
			} else if m.Note != "" {
				saved = TableText(m.Note)
			}
			pip := "–"
			if m.PipTotal > 0 {
				pip = fmt.Sprintf("%d/%d", m.PipCached, m.PipTotal)
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", TableCode(m.ID), TableText(m.Hit), Bytes(m.RestoredBytes), saved, pip)
		}
	}
	if len(s.Phases) > 0 {
		var total time.Duration
		for _, p := range s.Phases {
			if p.During == "" {
				total += p.Duration
			}
		}
		b.WriteString("\n```text\n")
		for _, p := range s.Phases {
			line := fmt.Sprintf("%-8s %7s %s", p.Name, seconds(p.Duration), bar(int(p.Duration), int(total), 30))
			if p.During != "" {
				line += " (during " + p.During + ")"
			}
			b.WriteString(line + "\n")
		}
		b.WriteString("```\n")
	}
	for _, h := range s.Hints {
		fmt.Fprintf(&b, "\n> %s\n", TableText(h))
	}
	return b.String()
}

func codeList(items []string) string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = TableCode(it)
	}
	return strings.Join(out, ", ")
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// bar draws part/total as a row of block characters.
func bar(part, total, width int) string {
	if total <= 0 {
		return strings.Repeat("░", width)
	}
	n := part * width / total
	if part > 0 && n == 0 {
		n = 1
	}
	// A phase that ran alongside another (During) is not in total and can be longer
	// than all of it: a save during a 0.4 s export of a cached build.
	n = min(max(n, 0), width)
	return strings.Repeat("█", n) + strings.Repeat("░", width-n)
}

// Bytes formats a byte count for people.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
