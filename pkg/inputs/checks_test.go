package inputs

import (
	"errors"
	"strings"
	"testing"

	"github.com/docker/buildx/util/buildflags"
)

// The call values users write, as build-push-action passes them to buildx --call.
func TestCallIsReadAsBuildxReadsIt(t *testing.T) {
	for _, tc := range []struct {
		in        string
		want      string // CallFunc.String(); "build" for nil
		requestID string
	}{
		{"", "build", ""},
		{"build", "build", ""},
		{"check", "check", "frontend.lint"},
		{" check ", "check", "frontend.lint"},
		{"lint", "check", "frontend.lint"},
		{"outline", "outline", "frontend.outline"},
		{"targets", "targets", "frontend.targets"},
		{"check,format=json", "check,format=json", "frontend.lint"},
		{"check,ignorestatus=true", "check,ignorestatus=true", "frontend.lint"},
		{"targets,format=text", "targets,format=text", "frontend.targets"},
	} {
		in, err := Parse(env(map[string]string{"call": tc.in}))
		if err != nil {
			t.Errorf("call: %q refused: %v", tc.in, err)
			continue
		}
		if got := in.Call.String(); got != tc.want {
			t.Errorf("call: %q is %q, want %q", tc.in, got, tc.want)
		}
		if got := in.Call.RequestID(); got != tc.requestID {
			t.Errorf("call: %q asks the frontend for %q, want %q", tc.in, got, tc.requestID)
		}
	}
}

// Where buildx accepts a value we accept it with the same name, format and ignorestatus;
// buildflags is imported in this test only (see flagsyntax_test.go).
func TestCallSyntaxMatchesBuildx(t *testing.T) {
	for _, s := range []string{"build", "check", "lint", "outline", "targets", "check,format=json",
		"outline,format=text,ignorestatus=true", "check,ignorestatus=false", "format=json,targets"} {
		want, err := buildflags.ParseCallFunc(s)
		if err != nil {
			t.Fatalf("buildx refuses %q: %v", s, err)
		}
		got, err := ParseCallFunc(s)
		if err != nil {
			t.Errorf("%q: buildx accepts it, we refuse it: %v", s, err)
			continue
		}
		if (want == nil) != (got == nil) {
			t.Errorf("%q: buildx %v, ours %v", s, want, got)
			continue
		}
		if want != nil && (want.Name != got.Name || want.Format != got.Format || want.IgnoreStatus != got.IgnoreStatus) {
			t.Errorf("%q: buildx %+v, ours %+v", s, *want, *got)
		}
	}
	// What buildx refuses, we refuse too.
	for _, s := range []string{"check,outline", "check,ignorestatus=maybe", "check,color=red"} {
		if _, err := buildflags.ParseCallFunc(s); err == nil {
			t.Fatalf("buildx accepts %q", s)
		}
		if _, err := ParseCallFunc(s); err == nil {
			t.Errorf("%q: buildx refuses it, we accept it", s)
		}
	}
}

func TestBadCallNamesTheInput(t *testing.T) {
	for _, tc := range []struct{ in, says string }{
		{"lints", "not a request the Dockerfile frontend answers"},
		{"check,outline", "names two requests"},
		{"check,format=yaml", "format=json or format=text"},
		{"check,ignorestatus=maybe", "not a boolean"},
		{"format=json", "names no request"},
	} {
		_, err := Parse(env(map[string]string{"call": tc.in}))
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Input != "call" || !strings.Contains(errs[0].Problem, tc.says) {
			t.Errorf("call: %q: got %v, want one error on call saying %q", tc.in, err, tc.says)
		}
	}
}
