package run

// The migration corpus (issue 14): docker/build-push-action `with:` blocks as users write
// them (testdata/migration/*.yaml: the examples of build-push-action's and metadata-action's
// READMEs and of docs.docker.com's GitHub Actions pages, with metadata-action's outputs), each
// run through warmbuild as the runner would pass it (action.yml's defaults for what the
// block leaves out, ${{ }} expressions evaluated). Each must be accepted, with the meaning
// its golden (testdata/migration/*.golden) records, or refused by an *inputs.Error naming
// an input of the block. The goldens were checked line by line against buildx
// (build/opt.go loadInputs, build/build.go toSolveOpt, commands/build.go) and
// build-push-action (src/context.ts getArgs); `go test -run Migration ./pkg/run -update-migration`
// rewrites them, after which the diff is to be read, not trusted.

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/layercache"
	"github.com/warmbuild/warmbuild/pkg/runnerenv"
	"go.yaml.in/yaml/v3"
)

var updateMigration = flag.Bool("update-migration", false, "rewrite testdata/migration/*.golden")

// migrationCase is one corpus file.
type migrationCase struct {
	Source string `yaml:"source"` // where the block is from
	// Checkout false: the job has no actions/checkout (build-push-action's Git context
	// examples); otherwise the workspace holds Files (default: a Dockerfile).
	Checkout *bool             `yaml:"checkout"`
	Files    map[string]string `yaml:"files"`
	Env      map[string]string `yaml:"env"` // the step's env: (e.g. metadata-action's DOCKER_METADATA_OUTPUT_JSON)
	// SSHAgent: an earlier step started an SSH agent (webfactory/ssh-agent) and exported
	// SSH_AUTH_SOCK, a socket the action can see.
	SSHAgent bool              `yaml:"ssh-agent"`
	With     map[string]string `yaml:"with"`
}

// metadataAction are docker/metadata-action's outputs for `images: name/app` on a push to
// main (its README's examples), as it writes them: newline-separated lists.
var metadataAction = map[string]string{
	"steps.meta.outputs.tags":        "name/app:main\nname/app:sha-0123456",
	"steps.meta.outputs.labels":      "org.opencontainers.image.created=2026-12-01T17:00:00.000Z\norg.opencontainers.image.description=\norg.opencontainers.image.licenses=MIT\norg.opencontainers.image.revision=0123456789abcdef0123456789abcdef01234567\norg.opencontainers.image.source=https://github.com/octo-org/app\norg.opencontainers.image.title=app\norg.opencontainers.image.url=https://github.com/octo-org/app\norg.opencontainers.image.version=main",
	"steps.meta.outputs.annotations": "manifest:org.opencontainers.image.created=2026-12-01T17:00:00.000Z\nmanifest:org.opencontainers.image.description=\nmanifest:org.opencontainers.image.licenses=MIT\nmanifest:org.opencontainers.image.revision=0123456789abcdef0123456789abcdef01234567\nmanifest:org.opencontainers.image.source=https://github.com/octo-org/app\nmanifest:org.opencontainers.image.title=app\nmanifest:org.opencontainers.image.url=https://github.com/octo-org/app\nmanifest:org.opencontainers.image.version=main",
	"fromJSON(steps.meta.outputs.json).labels['org.opencontainers.image.created']":  "2026-12-01T17:00:00.000Z",
	"fromJSON(steps.meta.outputs.json).labels['org.opencontainers.image.version']":  "main",
	"fromJSON(steps.meta.outputs.json).labels['org.opencontainers.image.revision']": "0123456789abcdef0123456789abcdef01234567",
}

var exprRe = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// evaluate replaces ${{ }} expressions as the runner would on a push to main of a public
// repository; an expression the corpus does not know fails the test.
func evaluate(t *testing.T, v, runnerTemp string) string {
	t.Helper()
	known := map[string]string{
		"github.event_name != 'pull_request'": "true",
		"github.token":                        "ghs_runnerGITHUBTOKEN",
		"secrets.GITHUB_TOKEN":                "ghs_runnerGITHUBTOKEN",
		"secrets.MYTOKEN":                     "ghp_userPAT",
		"secrets.GPG_KEY":                     "gpg-key-value",
		"runner.temp":                         runnerTemp,
		"github.repository":                   "octo-org/app",
		"github.sha":                          "0123456789abcdef0123456789abcdef01234567",
	}
	for k, val := range metadataAction {
		known[k] = val
	}
	return exprRe.ReplaceAllStringFunc(v, func(m string) string {
		e := exprRe.FindStringSubmatch(m)[1]
		val, ok := known[e]
		if !ok {
			t.Fatalf("the corpus has the expression %q, which the test does not evaluate", e)
		}
		return val
	})
}

// actionDefaults are action.yml's defaults, which the runner passes for inputs left out.
func actionDefaults(t *testing.T) map[string]string {
	t.Helper()
	raw, err := os.ReadFile("../../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(raw, &a); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range a.Inputs {
		out[k] = v.Default
	}
	return out
}

func TestMigrationCorpusIsAcceptedWithItsMeaningOrRefusedByName(t *testing.T) {
	files, err := filepath.Glob("testdata/migration/*.yaml")
	for i := range files {
		files[i], _ = filepath.Abs(files[i]) // the cases run in workspaces of their own
	}
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	defaults := actionDefaults(t)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var c migrationCase
			if err := yaml.Unmarshal(raw, &c); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if len(c.With) == 0 || c.Source == "" {
				t.Fatalf("%s: a case needs source and with", f)
			}
			for k := range c.With {
				if slices.Contains(inputs.Names, k) {
					continue
				}
				t.Fatalf("the block has input %q, which warmbuild does not read: it would be silently ignored", k)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			got := runMigrationCase(t, c, defaults)
			if *updateMigration {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("no golden for %s (write it from buildx's code; -update drafts it): %v\ngot:\n%s", name, err, got)
			}
			if got != string(want) {
				t.Errorf("%s means something else now.\n--- got\n%s--- want (%s)\n%s", name, got, golden, want)
			}
		})
	}
}

// runMigrationCase runs the block through inputs.Parse and MakePlan in a workspace of its
// own and prints what it means, or the refusal.
func runMigrationCase(t *testing.T, c migrationCase, defaults map[string]string) string {
	ws := t.TempDir()
	temp := t.TempDir()
	t.Chdir(ws)
	files := c.Files
	if c.Checkout != nil && !*c.Checkout {
		files = nil
	} else if files == nil {
		files = map[string]string{"Dockerfile": "FROM alpine\n"}
	}
	for p, content := range files {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws, "RUNNER_TEMP": temp, "HOME": temp,
		"GITHUB_EVENT_NAME": "push", "GITHUB_REF": "refs/heads/main", "GITHUB_REF_NAME": "main", "GITHUB_REF_TYPE": "branch",
		"GITHUB_REPOSITORY": "octo-org/app", "GITHUB_SHA": "0123456789abcdef0123456789abcdef01234567",
		"GITHUB_RUN_ID": "4242", "GITHUB_RUN_ATTEMPT": "1",
		"GITHUB_SERVER_URL": "https://github.com", "GITHUB_API_URL": "https://api.github.com", "GITHUB_ACTOR": "octocat",
		"ACTIONS_RESULTS_URL": "https://results-receiver.actions.githubusercontent.com/", "ACTIONS_RUNTIME_TOKEN": cachetest.RuntimeToken(),
	}
	// A push payload as GitHub sends it, of which the cache policy reads the default branch.
	payload := filepath.Join(temp, "event.json")
	if err := os.WriteFile(payload, []byte(`{"ref":"refs/heads/main","repository":{"full_name":"octo-org/app","default_branch":"main","private":false}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env["GITHUB_EVENT_PATH"] = payload
	if c.SSHAgent {
		env["SSH_AUTH_SOCK"] = listenAgentSocket(t)
	}
	for k, v := range c.Env {
		env[k] = evaluate(t, v, temp)
	}
	for k, v := range defaults {
		env[inputs.InputEnv(k)] = evaluate(t, v, temp)
	}
	for k, v := range c.With {
		env[inputs.InputEnv(k)] = evaluate(t, v, temp)
	}
	getenv := func(k string) string { return env[k] }

	refused := func(err error) string {
		var es inputs.Errors
		var e *inputs.Error
		switch {
		case errors.As(err, &es):
		case errors.As(err, &e):
			es = inputs.Errors{e}
		default:
			t.Fatalf("refused without naming an input: %v", err)
		}
		var b strings.Builder
		for _, e := range es {
			if _, ok := c.With[e.Input]; !ok {
				t.Errorf("refused naming %q, which the block does not set: %v", e.Input, e)
			}
			fmt.Fprintf(&b, "refused: %v\n", e)
		}
		return b.String()
	}
	in, err := inputs.Parse(getenv)
	if err != nil {
		return refused(err)
	}
	p, err := MakePlan(in, runnerenv.Read(getenv))
	if err != nil {
		return refused(err)
	}
	desc, err := builder.Describe(p.Request)
	if err != nil {
		t.Fatalf("the plan cannot be sent to BuildKit: %v", err)
	}
	var b strings.Builder
	b.WriteString("accepted\n")
	if p.Git != nil {
		fmt.Fprintf(&b, "context git %s (default %v)\n", p.Git.URL, p.Git.Default)
	} else {
		fmt.Fprintf(&b, "context local %s, Dockerfile %s\n", p.Request.ContextDir, p.Request.Dockerfile)
	}
	b.WriteString(strings.ReplaceAll(desc, temp, "$RUNNER_TEMP"))
	fmt.Fprintf(&b, "layer cache %s (scope %s)\n", p.LayerCache.Backend, p.LayerCache.Scope)
	for _, e := range layercache.RedactedAll(p.LayerCache.Imports) {
		fmt.Fprintf(&b, "  cache-from %s\n", strings.ReplaceAll(e, temp, "$RUNNER_TEMP"))
	}
	for _, e := range layercache.RedactedAll(p.LayerCache.Exports) {
		fmt.Fprintf(&b, "  cache-to %s\n", strings.ReplaceAll(e, temp, "$RUNNER_TEMP"))
	}
	return b.String()
}

// listenAgentSocket listens on a unix socket where an SSH agent would, in a short directory
// of its own (a socket path is limited to 108 bytes; t.TempDir's can be longer).
func listenAgentSocket(t *testing.T) string {
	dir, err := os.MkdirTemp("", "wbagent")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return sock
}
