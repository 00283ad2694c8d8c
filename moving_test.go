package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// buildPushActionInputs are docker/build-push-action's inputs and their defaults, from its
// action.yml (v7, commit cb941d0b895b09c17fa011d41c411b33c752cf28); an input without a
// default has "".
var buildPushActionInputs = map[string]string{
	"add-hosts": "", "allow": "", "annotations": "", "attests": "", "build-args": "",
	"build-contexts": "", "builder": "", "cache-from": "", "cache-to": "", "call": "",
	"cgroup-parent": "", "context": "", "file": "", "labels": "", "load": "false",
	"network": "", "no-cache": "false", "no-cache-filters": "", "outputs": "", "platforms": "",
	"provenance": "", "pull": "false", "push": "false", "sbom": "", "secrets": "",
	"secret-envs": "", "secret-files": "", "shm-size": "", "ssh": "", "tags": "", "target": "",
	"ulimit": "", "github-token": "${{ github.token }}",
}

// buildPushActionOutputs are its outputs.
var buildPushActionOutputs = []string{"imageid", "digest", "metadata"}

// A build-push-action workflow moves over by changing uses: every one of its inputs is
// declared here with its default, and README's "Moving from build-push-action" table says
// what warmbuild does with each input and output.
func TestEveryBuildPushActionInputIsReadWithItsDefault(t *testing.T) {
	ins, outs, _ := readAction(t)
	declared := map[string]field{}
	for _, f := range ins {
		declared[f.name] = f
	}
	for name, def := range buildPushActionInputs {
		f, ok := declared[name]
		if !ok {
			t.Errorf("build-push-action's input %s is not declared in action.yml", name)
			continue
		}
		if f.def != def {
			t.Errorf("input %s: default %q, build-push-action's is %q", name, f.def, def)
		}
	}
	for _, name := range buildPushActionOutputs {
		if !slicesContainsField(outs, name) {
			t.Errorf("build-push-action's output %s is not declared in action.yml", name)
		}
	}

	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)<!-- moving:begin -->\n(.*?)<!-- moving:end -->`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("README.md has no <!-- moving:begin --> ... <!-- moving:end --> table")
	}
	rows := map[string]bool{}
	for _, line := range strings.Split(string(m[1]), "\n") {
		first, _, ok := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		if !ok {
			continue
		}
		for _, name := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(first, -1) {
			rows[name[1]] = true
		}
	}
	for name := range buildPushActionInputs {
		if !rows[name] {
			t.Errorf("README's Moving from build-push-action table has no row for input %s", name)
		}
	}
	for _, name := range buildPushActionOutputs {
		if !rows[name] {
			t.Errorf("README's Moving from build-push-action table has no row for output %s", name)
		}
	}
}

func slicesContainsField(fs []field, name string) bool {
	for _, f := range fs {
		if f.name == name {
			return true
		}
	}
	return false
}
