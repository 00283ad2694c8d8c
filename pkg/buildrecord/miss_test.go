package buildrecord

import (
	"testing"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/report"
)

func TestFirstMissSaysWhy(t *testing.T) {
	hit := builder.Step{Name: "[builder 2/4] COPY requirements.txt .", Stage: "builder", Index: 2, Cached: true}
	ran := builder.Step{Name: "[builder 3/4] RUN pip install -r requirements.txt", Stage: "builder", Index: 3}
	scopes := []string{"warmbuild-main"}
	cases := []struct {
		name   string
		facts  Facts
		step   string
		reason string
	}{
		{"all cached", Facts{Steps: []builder.Step{hit}, ReadScopes: scopes}, "", ""},
		{"no-cache", Facts{Steps: []builder.Step{ran}, NoCache: true, ReadScopes: scopes}, ran.Name, report.MissNoCache},
		{"no-cache-filters names the stage", Facts{Steps: []builder.Step{hit, ran}, NoCacheFilters: []string{"builder"}, ReadScopes: scopes}, ran.Name, report.MissNoCache},
		{"no-cache-filters names another stage", Facts{Steps: []builder.Step{hit, ran}, NoCacheFilters: []string{"test"}, ReadScopes: scopes}, ran.Name, report.MissUnknown},
		{"nothing read", Facts{Steps: []builder.Step{ran}}, ran.Name, report.MissCold},
		{"registry ref not there yet", Facts{Steps: []builder.Step{ran}, ReadScopes: scopes, ImportErrors: []string{"importing cache manifest from 127.0.0.1:5000/app:buildcache: 127.0.0.1:5000/app:buildcache: not found"}}, ran.Name, report.MissCold},
		{"import refused", Facts{Steps: []builder.Step{ran}, ReadScopes: scopes, ImportErrors: []string{"importing cache manifest from 127.0.0.1:5000/app:buildcache: 401 Unauthorized"}}, ran.Name, report.MissImportFailed},
		{"gha scope empty", Facts{Steps: []builder.Step{ran}, ReadScopes: scopes}, ran.Name, report.MissCold},
		{"miss after hits, no record", Facts{Steps: []builder.Step{hit, ran}, ReadScopes: scopes}, ran.Name, report.MissUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := FirstMiss(tc.facts)
			if tc.step == "" {
				if m != nil {
					t.Fatalf("miss %+v, want none", m)
				}
				return
			}
			if m == nil || m.Step != tc.step || m.Reason != tc.reason || m.Detail == "" {
				t.Errorf("miss %+v, want %s for %q", m, tc.reason, tc.step)
			}
		})
	}
}

// BuildKit lists the vertices in no set order: the first miss is the earliest in the
// Dockerfile, not the first reported.
func TestFirstMissIsTheEarliestInTheDockerfile(t *testing.T) {
	late := builder.Step{Name: "[6/6] RUN echo", Index: 6}
	early := builder.Step{Name: "[3/6] COPY requirements.txt .", Index: 3}
	m := FirstMiss(Facts{Steps: []builder.Step{late, early}, ReadScopes: []string{"s"}, Lines: map[StepKey]int{{"", 6}: 7, {"", 3}: 4}})
	if m == nil || m.Step != early.Name {
		t.Errorf("miss %+v, want %s", m, early.Name)
	}
}
