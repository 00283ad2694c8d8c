package inputs

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestPitfallsIgnoreTakesIdsByCommaOrLine(t *testing.T) {
	in, err := Parse(env(map[string]string{"cache-pitfalls-ignore": "copy-before-install, apt-cache-not-locked\npip-no-cache-dir\nCopy-Before-Install"}))
	if err != nil {
		t.Fatal(err)
	}
	want := PitfallsIgnore{"copy-before-install", "apt-cache-not-locked", "pip-no-cache-dir"}
	if !slices.Equal(in.PitfallsIgnore, want) {
		t.Errorf("got %q, want %q", in.PitfallsIgnore, want)
	}
	in, err = Parse(env(map[string]string{"cache-pitfalls-ignore": "all"}))
	if err != nil || !slices.Equal(in.PitfallsIgnore, PitfallsIgnore{"all"}) {
		t.Errorf("all: %q, %v", in.PitfallsIgnore, err)
	}
	in, err = Parse(env(nil))
	if err != nil || len(in.PitfallsIgnore) != 0 {
		t.Errorf("unset: %q, %v", in.PitfallsIgnore, err)
	}
}

func TestPitfallsIgnoreUnknownIdNamesTheInputAndTheIds(t *testing.T) {
	_, err := Parse(env(map[string]string{"cache-pitfalls-ignore": "copy-before-install\ncopy-before-instal"}))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("want one input error, got %v", err)
	}
	e := errs[0]
	if e.Input != "cache-pitfalls-ignore" || e.Line != 2 || !strings.Contains(e.Problem, `"copy-before-instal"`) || !strings.Contains(e.Problem, "cache-mount-cleaned") {
		t.Errorf("got %v", e)
	}
}
