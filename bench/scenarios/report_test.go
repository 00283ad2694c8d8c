//go:build bench

package scenarios

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// stats of one (variant, scenario, way) cell over its repetitions.
type stats struct {
	n             int
	med, lo, hi   float64 // wall seconds
	solve         float64 // median
	phases        map[string]float64
	overlapped    map[string]bool // phases that ran during the build's export in some run
	up, down      float64         // median bytes
	maxRSSKiB     int64           // the largest of the repetitions
	steps, pip    string          // of the first repetition, e.g. "4/4"
	mountHit      string
	overheadMed   float64 // wall - solve, median
	overheadWorst float64
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cellRuns are the results of one cell, in repetition order.
func (b *bench) cellRuns(profile, variant, scen, way string) []runResult {
	var rs []runResult
	for _, r := range b.results {
		if r.Profile == profile && r.Variant == variant && r.Scenario == scen && r.Way == way {
			rs = append(rs, r)
		}
	}
	return rs
}

// agreement is the ±15 % rule of issue 16: a ratio stands only when every repetition's
// own ratio is within 15 % of their median.
const agreement = 0.15

// ratio is warmbuild's wall time against another way's in one scenario.
type ratio struct {
	ok     bool    // both ways measured
	value  float64 // median of warmbuild over median of the other
	n      int     // repetitions paired (the same repetition of both ways ran side by side)
	lo, hi float64 // the paired repetitions' own ratios
	agree  bool    // every paired ratio within ±15 % of their median
}

func (b *bench) ratio(profile, variant, scen, other string) ratio {
	wb, ot := b.cellRuns(profile, variant, scen, wayWarmbuild), b.cellRuns(profile, variant, scen, other)
	if len(wb) == 0 || len(ot) == 0 {
		return ratio{}
	}
	col := func(rs []runResult) []float64 {
		out := make([]float64, len(rs))
		for i, r := range rs {
			out[i] = r.Wall
		}
		return out
	}
	r := ratio{ok: true, value: median(col(wb)) / median(col(ot))}
	byRep := map[int]float64{}
	for _, o := range ot {
		byRep[o.Rep] = o.Wall
	}
	var paired []float64
	for _, w := range wb {
		if o, ok := byRep[w.Rep]; ok && o > 0 {
			paired = append(paired, w.Wall/o)
		}
	}
	r.n = len(paired)
	if r.n == 0 {
		return r
	}
	r.lo, r.hi = slices.Min(paired), slices.Max(paired)
	m := median(paired)
	r.agree = r.n >= 2 && r.lo >= m*(1-agreement) && r.hi <= m*(1+agreement)
	return r
}

// String is the ratio as the tables print it: the number alone when it stands, marked
// with ✗ and its repetitions' range when they disagree, "1 rep" when nothing can agree.
func (r ratio) String() string {
	switch {
	case !r.ok:
		return "–"
	case r.n < 2:
		return fmt.Sprintf("%.2f (1 rep)", r.value)
	case r.agree:
		return fmt.Sprintf("%.2f", r.value)
	}
	return fmt.Sprintf("%.2f ✗ (%.2f–%.2f)", r.value, r.lo, r.hi)
}

func (b *bench) stats(profile, variant, scen, way string) (stats, bool) {
	var rs []runResult
	for _, r := range b.results {
		if r.Profile == profile && r.Variant == variant && r.Scenario == scen && r.Way == way {
			rs = append(rs, r)
		}
	}
	if len(rs) == 0 {
		return stats{}, false
	}
	col := func(f func(runResult) float64) []float64 {
		out := make([]float64, len(rs))
		for i, r := range rs {
			out[i] = f(r)
		}
		return out
	}
	walls := col(func(r runResult) float64 { return r.Wall })
	over := col(func(r runResult) float64 { return r.Wall - r.Solve })
	st := stats{
		n: len(rs), med: median(walls), lo: slices.Min(walls), hi: slices.Max(walls),
		solve:       median(col(func(r runResult) float64 { return r.Solve })),
		up:          median(col(func(r runResult) float64 { return float64(r.Up) })),
		down:        median(col(func(r runResult) float64 { return float64(r.Down) })),
		phases:      map[string]float64{},
		overlapped:  map[string]bool{},
		steps:       fmt.Sprintf("%d/%d", rs[0].StepsCached, rs[0].StepsTotal),
		pip:         fmt.Sprintf("%d/%d", rs[0].PipCached, rs[0].PipTotal),
		mountHit:    rs[0].MountHit,
		overheadMed: median(over), overheadWorst: slices.Max(over),
	}
	for _, name := range phaseNames {
		st.phases[name] = median(col(func(r runResult) float64 { return r.Phases[name] }))
	}
	for _, r := range rs {
		st.maxRSSKiB = max(st.maxRSSKiB, r.MaxRSSKiB)
		for name := range r.Overlapped {
			st.overlapped[name] = true
		}
	}
	return st, true
}

// columns are the ways of the tables: plain, dance and warmbuild always (a way not run shows
// –), then the real actions under act when this run measured them (peers_test.go).
func (b *bench) columns() []string {
	cols := slices.Clone(allWays)
	for _, way := range peerWays {
		if slices.Contains(b.cfg.ways, way) {
			cols = append(cols, way)
		}
	}
	return cols
}

// phaseNames in pipeline order; "build" is the time around the main solve.
var phaseNames = []string{"connect", "restore", "untar", "inject", "build", "extract", "tar", "save", "summary", "other"}

func (b *bench) writeResults(final bool) {
	t := b.t
	if err := os.MkdirAll(b.cfg.outDir, 0o755); err != nil {
		t.Fatal(err)
	}
	profiles := map[string]string{}
	for _, p := range b.cfg.profiles {
		profiles[p.Name] = p.String()
	}
	data, _ := json.MarshalIndent(map[string]any{"machine": machine(b.stackEnv, b.source), "runners": b.cfg.runnerDisk, "profiles": profiles, "results": b.results}, "", "  ")
	if err := os.WriteFile(filepath.Join(b.cfg.outDir, "latest.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	md := b.markdown()
	if err := os.WriteFile(filepath.Join(b.cfg.outDir, "latest.md"), []byte(md), 0o644); err != nil {
		t.Fatal(err)
	}
	if !final {
		return
	}
	fmt.Fprintf(os.Stderr, "\n%s\nwritten to %s/latest.{md,json}; total %.0fs\n", md, b.cfg.outDir, time.Since(b.started).Seconds())
}

func (b *bench) markdown() string {
	var s strings.Builder
	m := machine(b.stackEnv, b.source)
	fmt.Fprintf(&s, "Measured %s on %s; %s; BuildKit %s; warmbuild at %s; runners (daemon state, temporary files) on %s. Load average (1 min) %s at the start, %s at the end: other work on the machine shows up as spread.\n",
		m["date"], m["machine"], m["kernel"], m["buildkit"], m["commit"], b.cfg.runnerDisk, b.loadStart, loadAvg())
	s.WriteString(b.profileTables())
	return s.String()
}

// profileTables are the results, a section per network profile.
func (b *bench) profileTables() string {
	var s strings.Builder
	fmt.Fprintf(&s, "\nRatios are of medians; they stand only when every repetition's own ratio (warmbuild's repetition against the other way's same repetition, run side by side) is within ±%.0f %% of their median; ✗ marks one that does not, with the repetitions' range.\n", agreement*100)
	for _, profile := range b.cfg.profiles {
		fmt.Fprintf(&s, "\n### Network profile: %s\n\n%s. Between every way and the cache service (its twirp front and its blob storage); the registry and the package index stay on loopback.\n", profile, profile.Basis)
		b.profileMarkdown(&s, profile.Name)
	}
	return s.String()
}

func (b *bench) profileMarkdown(s *strings.Builder, profile string) {
	for _, variant := range b.cfg.variants {
		fmt.Fprintf(s, "\n#### %s, profile %s (%d repetitions)\n\n", variantTitle(variant), profile, b.cfg.reps[variant])
		s.WriteString("Wall time, median (min–max), seconds:\n\n")
		cols := b.columns()
		s.WriteString("| scenario | " + strings.Join(cols, " | ") + " | warmbuild/plain | warmbuild/dance |\n|---|" + strings.Repeat("---|", len(cols)+2) + "\n")
		for _, scen := range b.cfg.scenarios {
			row := []string{scen}
			for _, way := range b.columns() {
				st, ok := b.stats(profile, variant, scen, way)
				if !ok {
					row = append(row, "–")
					continue
				}
				row = append(row, fmt.Sprintf("%.2f (%.2f–%.2f)", st.med, st.lo, st.hi))
			}
			for _, other := range []string{wayPlain, wayDance} {
				row = append(row, b.ratio(profile, variant, scen, other).String())
			}
			s.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}

		s.WriteString("\nTime per phase (medians, seconds; build is the main BuildKit solve, other is process start, flag parsing, REST calls and exit; in parentheses: ran while BuildKit exported, so not added to wall time), bytes to and from the cache store (median), peak RSS of the pipeline's process (largest), layer steps cached and pip packages from cache:\n\n")
		s.WriteString("| scenario | way | " + strings.Join(phaseNames, " | ") + " | up | down | peak RSS | steps | pip | mount |\n")
		s.WriteString("|---|---|" + strings.Repeat("---|", len(phaseNames)+6) + "\n")
		for _, scen := range b.cfg.scenarios {
			for _, way := range b.columns() {
				st, ok := b.stats(profile, variant, scen, way)
				if !ok {
					continue
				}
				row := []string{scen, way}
				for _, name := range phaseNames {
					if v := st.phases[name]; v >= 0.005 && st.overlapped[name] {
						row = append(row, fmt.Sprintf("(%.2f)", v))
					} else if v >= 0.005 {
						row = append(row, fmt.Sprintf("%.2f", v))
					} else {
						row = append(row, "")
					}
				}
				row = append(row, mib(int64(st.up)), mib(int64(st.down)), fmt.Sprintf("%d MiB", st.maxRSSKiB>>10), st.steps, st.pip, st.mountHit)
				s.WriteString("| " + strings.Join(row, " | ") + " |\n")
			}
		}
		s.WriteString("\n" + b.targets(profile, variant))
		s.WriteString("\n" + b.conditionsMarkdown(profile, variant))
	}
}

// conditionsMarkdown lists every repetition's wall and solve time beside what the machine
// did meanwhile, so a slow repetition can be told from a busy minute (issue 16,
// deliverable 0).
func (b *bench) conditionsMarkdown(profile, variant string) string {
	var s strings.Builder
	s.WriteString("Every repetition (in the order run) with what the whole machine did meanwhile: wall / solve seconds; load average at the start; CPU pressure (% of the run in which runnable work waited for a CPU) and I/O pressure (% in which work waited for I/O), from /proc/pressure; steal in % of both cores; MB written to disk:\n\n")
	s.WriteString("| scenario | way | wall / solve | load | CPU pressure % | I/O pressure % | steal % | disk MB written |\n|---|---|---|---|---|---|---|---|\n")
	for _, scen := range b.cfg.scenarios {
		for _, way := range b.columns() {
			rs := b.cellRuns(profile, variant, scen, way)
			if len(rs) == 0 {
				continue
			}
			var walls, load, cpu, io, steal, disk []string
			for _, r := range rs {
				walls = append(walls, fmt.Sprintf("%.2f / %.2f", r.Wall, r.Solve))
				load = append(load, fmt.Sprintf("%.1f", r.Machine.Load1))
				cpu = append(cpu, fmt.Sprintf("%.0f", r.Machine.CPUWaitPct))
				io = append(io, fmt.Sprintf("%.0f", r.Machine.IOWaitStallPct))
				steal = append(steal, fmt.Sprintf("%.0f", r.Machine.StealPct))
				disk = append(disk, fmt.Sprintf("%.0f", r.Machine.DiskWriteMB))
			}
			j := func(xs []string) string { return strings.Join(xs, ", ") }
			fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", scen, way, j(walls), j(load), j(cpu), j(io), j(steal), j(disk))
		}
	}
	return s.String()
}

// targets checks the targets for one variant and says met or missed, with numbers.
func (b *bench) targets(profile, variant string) string {
	var s strings.Builder
	check := func(ok bool, format string, args ...any) {
		mark := "met"
		if !ok {
			mark = "**missed**"
		}
		fmt.Fprintf(&s, "- %s: %s\n", mark, fmt.Sprintf(format, args...))
	}
	get := func(scen, way string) (stats, bool) { return b.stats(profile, variant, scen, way) }
	// checkRatio is a target on warmbuild/other; a ratio whose repetitions disagree is
	// said to be no result whichever side of the target its median falls.
	checkRatio := func(scen, other string, limit float64) {
		r := b.ratio(profile, variant, scen, other)
		if !r.ok {
			return
		}
		note := ""
		if r.n < 2 {
			note = " — one repetition: not a result"
		} else if !r.agree {
			note = fmt.Sprintf(" — its repetitions range %.2f–%.2f (%d paired), beyond ±%.0f %%: not a result", r.lo, r.hi, r.n, agreement*100)
		}
		check(r.value <= limit, "%s: warmbuild/%s = %.2f (≤ %.2f)%s", scen, other, r.value, limit, note)
	}
	s.WriteString("Targets:\n\n")
	if wb, ok := get(scenWarm, wayWarmbuild); ok {
		if pl, ok := get(scenWarm, wayPlain); ok {
			check(wb.med-pl.med <= 1, "warm, no change: warmbuild − plain = %.2f s (≤ 1 s)", wb.med-pl.med)
		}
		check(wb.overheadWorst <= 1, "warm, no change: warmbuild's own overhead (wall − solve) median %.2f s, worst %.2f s (≤ 1 s)", wb.overheadMed, wb.overheadWorst)
	}
	danceLimit := 0.8
	if variant == "heavy" {
		danceLimit = 0.5
	}
	checkRatio(scenReqs, wayPlain, 0.5)
	checkRatio(scenReqs, wayDance, danceLimit)
	// Issue 16's targets for the heavy variant under the network profiles.
	if variant == "heavy" {
		switch profile {
		case "far":
			checkRatio(scenCold, wayPlain, 0.6)
			checkRatio(scenCode, wayPlain, 0.6)
			checkRatio(scenReqs, wayPlain, 0.25)
			checkRatio(scenReqs, wayDance, 0.35)
		case "near":
			for _, scen := range []string{scenCold, scenReqs, scenCode} {
				checkRatio(scen, wayPlain, 0.8)
			}
			if wb, ok := get(scenWarm, wayWarmbuild); ok {
				if pl, ok := get(scenWarm, wayPlain); ok {
					check(wb.med-pl.med <= 0.3, "warm, no change: warmbuild − plain = %.2f s (≤ 0.3 s)", wb.med-pl.med)
				}
			}
		}
	}
	var worst int64
	for _, scen := range b.cfg.scenarios {
		if st, ok := get(scen, wayWarmbuild); ok {
			worst = max(worst, st.maxRSSKiB)
		}
	}
	if worst > 0 {
		check(worst <= 100<<10, "peak memory of the action's process, worst scenario: %.1f MiB (≤ 100 MB)", float64(worst)/1024)
	}
	return s.String()
}

func variantTitle(v string) string {
	switch v {
	case "app":
		return "testdata/app as it is (11 packages, 4 of them sdists built in the image)"
	case "heavy":
		return "heavy: testdata/app + 15 wheels of 22 MB (pip cache about 330 MB)"
	}
	return v
}

// loadAvg is the 1-minute load average, to tell a quiet machine from a busy one.
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Fields(string(data))[0]
}

// machine describes where and when the bench ran.
func machine(stackEnv []string, source string) map[string]string {
	out := map[string]string{"date": time.Now().UTC().Format("2006-01-02 15:04 UTC"), "commit": source}
	run := func(name string, args ...string) string {
		o, err := exec.Command(name, args...).Output()
		if err != nil {
			return "?"
		}
		return strings.TrimSpace(string(o))
	}
	cpu := "?"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := "?"
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(data), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf("%.1f GiB RAM", float64(kb)/(1<<20))
	}
	out["machine"] = fmt.Sprintf("%d cores (%s), %s", runtime.NumCPU(), cpu, mem)
	out["kernel"] = "Linux " + run("uname", "-r")
	for _, kv := range stackEnv {
		if dir, ok := strings.CutPrefix(kv, "BUILDKIT_BIN_DIR="); ok {
			v := run(filepath.Join(dir, "buildkitd"), "--version")
			if f := strings.Fields(v); len(f) >= 3 {
				v = f[2]
			}
			out["buildkit"] = v
		}
	}
	return out
}
