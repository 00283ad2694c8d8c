package shellwords

import (
	"reflect"
	"testing"
)

func TestCommandsFindEveryProgramARunStarts(t *testing.T) {
	got := Commands("set -eux; PIP_NO_CACHE_DIR=1 sudo -E pip install \\\n  -r \"requirements.txt\" && echo $(uv --version) | tee log\n(npm ci)")
	want := [][]string{
		{"set", "-eux"},
		{"PIP_NO_CACHE_DIR=1", "sudo", "-E", "pip", "install", "-r", "requirements.txt"},
		{"echo"}, {"uv", "--version"}, {"tee", "log"},
		{"npm", "ci"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Commands = %q\nwant       %q", got, want)
	}
	var programs [][]string
	for _, w := range got {
		if p := Program(w); len(p) > 0 {
			programs = append(programs, p)
		}
	}
	want = [][]string{{"pip", "install", "-r", "requirements.txt"}, {"echo"}, {"uv", "--version"}, {"tee", "log"}, {"npm", "ci"}}
	if !reflect.DeepEqual(programs, want) {
		t.Errorf("programs = %q\nwant       %q", programs, want)
	}
}
