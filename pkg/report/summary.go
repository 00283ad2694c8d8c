package report

import (
	"fmt"
	"strings"
	"time"
)

// Phase is a timed part of the run.
type Phase struct {
	Name     string
	Duration time.Duration
	// During names the phase this one ran alongside ("export"); it is not part of the
	// run's wall time on top of that phase.
	During string
}

// Summary is r's section of the job summary, in Markdown, made to fit on one screen: a
// headline table, then the cache details, then where the time went.
func (r Result) Summary() string {
	var b strings.Builder
	status := "✅ built"
	if r.Failed != "" {
		status = "❌ failed"
	}
	fmt.Fprintf(&b, "### warmbuild: %s %s\n\n", Code(r.Image), status)
	b.WriteString("| | |\n|---|---|\n")
	if len(r.Tags) > 0 {
		fmt.Fprintf(&b, "| Tags | %s |\n", codeList(r.Tags))
	}
	if r.Digest != "" {
		fmt.Fprintf(&b, "| Digest | %s |\n", TableCode(r.Digest))
	}
	fmt.Fprintf(&b, "| Duration | %s |\n", seconds(r.Duration))
	fmt.Fprintf(&b, "| Layer cache | %d/%d steps cached (%s) %s |\n", r.StepsCached, r.StepsTotal, Ratio(r.StepsCached, r.StepsTotal), bar(r.StepsCached, r.StepsTotal, 10))
	if r.BackendReason != "" {
		fmt.Fprintf(&b, "| Cache backend | %s |\n", TableText(r.BackendReason))
	}
	if r.CacheMode != "" {
		fmt.Fprintf(&b, "| Cache mode | %s |\n", TableText(r.CacheMode))
	}
	if len(r.ReadScopes) > 0 {
		fmt.Fprintf(&b, "| Read from | %s |\n", codeList(r.ReadScopes))
	}
	if r.WriteScope != "" {
		fmt.Fprintf(&b, "| Written to | %s |\n", TableCode(r.WriteScope))
	}
	if r.SaveReason != "" {
		fmt.Fprintf(&b, "| Save | %s |\n", TableText(r.SaveReason))
	}
	r.layerTransferRow(&b) // accel (issue 16)
	if r.Failed != "" {
		fmt.Fprintf(&b, "| Error | %s |\n", TableText(r.Failed))
	}
	if len(r.Mounts) > 0 {
		// caps (issue 18): what each costs of the quota, and the total.
		b.WriteString("\n| Mount cache | Hit | Restored | Saved | Packages cached | In quota |\n|---|---|---|---|---|---|\n")
		multi := r.multiPlatform()
		for _, m := range r.Mounts {
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", mountLabel(m, multi), TableText(m.Hit), Bytes(m.RestoredBytes), savedCell(m), packagesCell(m), quotaCell(m))
		}
		r.mountTotals(&b)
	}
	r.stepsSummary(&b) // explain (issue 17)
	if len(r.Phases) > 0 {
		var total time.Duration
		for _, p := range r.Phases {
			if p.During == "" {
				total += p.Duration
			}
		}
		b.WriteString("\n```text\n")
		for _, p := range r.Phases {
			line := fmt.Sprintf("%-8s %7s %s", p.Name, seconds(p.Duration), bar(int(p.Duration), int(total), 30))
			if p.During != "" {
				line += " (during " + p.During + ")"
			}
			b.WriteString(line + "\n")
		}
		b.WriteString("```\n")
	}
	for _, h := range r.Hints {
		fmt.Fprintf(&b, "\n> %s\n", TableText(h))
	}
	b.WriteString(r.pitfallsSection()) // pitfalls (issue 17)
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
