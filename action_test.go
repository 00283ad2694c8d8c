package main

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/report"
	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite README's input and output tables from action.yml")

type actionFile struct {
	Name    string `yaml:"name"`
	Inputs  yaml.Node
	Outputs yaml.Node
	Runs    struct {
		Using string `yaml:"using"`
		Image string `yaml:"image"`
	} `yaml:"runs"`
}

type field struct{ name, description, def string }

func readAction(t *testing.T) (ins, outs []field, runs string) {
	t.Helper()
	data, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	if err := yaml.Unmarshal(data, &a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	fields := func(n yaml.Node) []field {
		var out []field
		for i := 0; i+1 < len(n.Content); i += 2 {
			var v struct {
				Description string `yaml:"description"`
				Default     string `yaml:"default"`
			}
			if err := n.Content[i+1].Decode(&v); err != nil {
				t.Fatalf("action.yml %s: %v", n.Content[i].Value, err)
			}
			out = append(out, field{n.Content[i].Value, strings.TrimSpace(v.Description), v.Default})
		}
		return out
	}
	return fields(a.Inputs), fields(a.Outputs), a.Runs.Using + " " + a.Runs.Image
}

func names(fs []field) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// An input that action.yml documents must be one the binary reads, and the reverse.
func TestActionYAMLDeclaresExactlyTheInputsAndOutputsTheBinaryUses(t *testing.T) {
	ins, outs, runs := readAction(t)
	if runs != "docker Dockerfile" {
		t.Errorf("runs = %q, want a docker action built from Dockerfile", runs)
	}
	if got, want := slices.Sorted(slices.Values(names(ins))), slices.Sorted(slices.Values(inputs.Names)); !slices.Equal(got, want) {
		t.Errorf("action.yml inputs %v\nbinary reads     %v", got, want)
	}
	if got, want := names(outs), report.OutputNames; !slices.Equal(got, want) {
		t.Errorf("action.yml outputs %v\nbinary sets       %v", got, want)
	}
	for _, f := range append(ins, outs...) {
		if f.description == "" {
			t.Errorf("%s has no description", f.name)
		}
	}
}

// The runner passes action.yml's default for every input a workflow leaves out, and the
// binary has its own defaults for runs without a runner (tests, act's local runs): both
// must be one configuration, so an input parsed from action.yml's default must equal the
// one parsed from nothing. Expressions (github-token's ${{ github.token }}) are the
// runner's to evaluate, so they are left out.
func TestActionYAMLDefaultsAreTheBinarysDefaults(t *testing.T) {
	ins, _, _ := readAction(t)
	none := func(string) string { return "" }
	want, err := inputs.Parse(none)
	if err != nil {
		t.Fatalf("no inputs at all: %v", err)
	}
	for _, f := range ins {
		if f.def == "" || strings.Contains(f.def, "${{") {
			continue
		}
		env := inputs.InputEnv(f.name)
		got, err := inputs.Parse(func(k string) string {
			if k == env {
				return f.def
			}
			return ""
		})
		if err != nil {
			t.Errorf("%s: action.yml's default %q is refused: %v", f.name, f.def, err)
			continue
		}
		g, w := reflect.ValueOf(*got), reflect.ValueOf(*want)
		for i := range g.NumField() {
			if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
				t.Errorf("%s: action.yml's default %q gives %s %+v, the binary's own default %+v",
					f.name, f.def, g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
			}
		}
	}
}

// README's tables are generated from action.yml; `go test -run README -update` rewrites them.
func TestREADMETablesMatchActionYAML(t *testing.T) {
	ins, outs, _ := readAction(t)
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	for _, tbl := range []struct {
		marker string
		body   string
	}{{"inputs", inputTable(ins)}, {"outputs", outputTable(outs)}} {
		re := regexp.MustCompile(fmt.Sprintf(`(?s)(<!-- %s:begin -->\n).*?(<!-- %s:end -->)`, tbl.marker, tbl.marker))
		if !re.MatchString(text) {
			t.Fatalf("README.md has no <!-- %s:begin --> ... <!-- %s:end --> block", tbl.marker, tbl.marker)
		}
		want := re.ReplaceAllString(text, "${1}"+strings.ReplaceAll(tbl.body, "$", "$$")+"${2}")
		if want != text {
			if *update {
				text = want
				continue
			}
			t.Errorf("README.md's %s table differs from action.yml; run: go test -run README -update .", tbl.marker)
		}
	}
	if *update {
		if err := os.WriteFile("README.md", []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func cell(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, "|", "\\|"), "\n", " ") }

func inputTable(fs []field) string {
	var b strings.Builder
	b.WriteString("| input | default | description |\n|---|---|---|\n")
	for _, f := range fs {
		def := ""
		if f.def != "" {
			def = "`" + f.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.name, cell(def), cell(f.description))
	}
	return b.String()
}

func outputTable(fs []field) string {
	var b strings.Builder
	b.WriteString("| output | meaning |\n|---|---|\n")
	for _, f := range fs {
		fmt.Fprintf(&b, "| `%s` | %s |\n", f.name, cell(f.description))
	}
	return b.String()
}
