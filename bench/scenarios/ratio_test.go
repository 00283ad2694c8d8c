//go:build bench

package scenarios

import (
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/internal/netmodel"
)

// No stack needed: the ±15 % rule and the per-profile tables from made-up results.
//
//	go test -tags bench -run 'TestRatio|TestTables' ./bench/scenarios

func benchWith(results ...runResult) *bench {
	return &bench{
		cfg: settings{
			profiles:  []netmodel.Profile{netmodel.Near, netmodel.Far},
			variants:  []string{"heavy"},
			reps:      map[string]int{"heavy": 3},
			scenarios: []string{scenReqs},
		},
		results: results,
	}
}

func run(profile, way string, rep int, wall float64) runResult {
	return runResult{Profile: profile, Variant: "heavy", Scenario: scenReqs, Way: way, Rep: rep, Wall: wall}
}

func TestRatioStandsOnlyWhenRepetitionsAgree(t *testing.T) {
	b := benchWith(
		// near: warmbuild 10, 10.5, 11 against plain 30, 31, 29: ratios 0.33, 0.34, 0.38
		run("near", wayWarmbuild, 1, 10), run("near", wayWarmbuild, 2, 10.5), run("near", wayWarmbuild, 3, 11),
		run("near", wayPlain, 1, 30), run("near", wayPlain, 2, 31), run("near", wayPlain, 3, 29),
		// far: one slow warmbuild repetition (the 11.40 s and 25.35 s)
		run("far", wayWarmbuild, 1, 11.40), run("far", wayWarmbuild, 2, 25.35), run("far", wayWarmbuild, 3, 11.6),
		run("far", wayPlain, 1, 30), run("far", wayPlain, 2, 30), run("far", wayPlain, 3, 30),
	)
	near := b.ratio("near", "heavy", scenReqs, wayPlain)
	if !near.agree || near.String() != "0.35" {
		t.Errorf("near: %+v printed %q; want the ratio of medians 10.5/30 = 0.35, standing", near, near)
	}
	far := b.ratio("far", "heavy", scenReqs, wayPlain)
	if far.agree || !strings.Contains(far.String(), "✗") || !strings.Contains(far.String(), "0.38–0.85") {
		t.Errorf("far: %+v printed %q; want it marked ✗ with its range 0.38–0.85", far, far)
	}
	if r := b.ratio("far", "heavy", scenReqs, wayDance); r.ok || r.String() != "–" {
		t.Errorf("no dance runs: %+v printed %q; want –", r, r)
	}
	one := benchWith(run("near", wayWarmbuild, 1, 10), run("near", wayPlain, 1, 30))
	if r := one.ratio("near", "heavy", scenReqs, wayPlain); r.agree || r.String() != "0.33 (1 rep)" {
		t.Errorf("one repetition: %+v printed %q; want 0.33 (1 rep), not standing", r, r)
	}
}

func TestTablesNameTheProfileAndKeepProfilesApart(t *testing.T) {
	b := benchWith(
		run("near", wayWarmbuild, 1, 10), run("near", wayWarmbuild, 2, 10),
		run("near", wayPlain, 1, 20), run("near", wayPlain, 2, 20),
		run("far", wayWarmbuild, 1, 40), run("far", wayWarmbuild, 2, 40),
		run("far", wayPlain, 1, 50), run("far", wayPlain, 2, 50),
	)
	md := b.profileTables()
	for _, want := range []string{"### Network profile: near (RTT 2ms", "### Network profile: far (RTT 30ms", "profile near (3 repetitions)", "profile far (3 repetitions)",
		"| requirements changed | 20.00 (20.00–20.00) | – | 10.00 (10.00–10.00) | 0.50 | – |",
		"| requirements changed | 50.00 (50.00–50.00) | – | 40.00 (40.00–40.00) | 0.80 | – |",
		"**missed**: requirements changed: warmbuild/plain = 0.80 (≤ 0.25)"} {
		if !strings.Contains(md, want) {
			t.Errorf("tables lack %q:\n%s", want, md)
		}
	}
}

func TestProfileSetting(t *testing.T) {
	t.Setenv("WB_BENCH_PROFILE", "loopback,far")
	s, err := readSettings(t.TempDir())
	if err != nil || len(s.profiles) != 2 || s.profiles[1].Name != "far" {
		t.Fatalf("readSettings = %v, %v; want loopback and far", s.profiles, err)
	}
	if s.reps["heavy"] < 5 {
		t.Errorf("heavy repetitions default to %d; issue 16 wants at least 5", s.reps["heavy"])
	}
	t.Setenv("WB_BENCH_PROFILE", "near,moon")
	if _, err := readSettings(t.TempDir()); err == nil || !strings.Contains(err.Error(), "WB_BENCH_PROFILE") || !strings.Contains(err.Error(), `"moon"`) {
		t.Fatalf("WB_BENCH_PROFILE=near,moon: error %v; want it to name the variable and the value", err)
	}
}
