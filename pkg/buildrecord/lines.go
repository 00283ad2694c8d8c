// Package buildrecord says why a build missed the layer cache: it places BuildKit's
// counted steps on their Dockerfile lines and finds the first one that ran.
package buildrecord

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// StepKey names a counted step as BuildKit's vertex name does: the stage name in the
// vertex ("" for a one-stage Dockerfile) and its i of i/n.
type StepKey struct {
	Stage string
	Index int
}

// StepInfo is what the Dockerfile says of one counted step.
type StepInfo struct {
	Line        int      // the instruction's first line
	Instruction string   // its text as written
	Sources     []string // COPY/ADD sources from the build context (none with --from or for URLs)
	Args        []string // the ARG names the step sees: declared in its stage before it
}

// Lines maps each step BuildKit numbers to its instruction's first Dockerfile line.
func Lines(dockerfile []byte) (map[StepKey]int, error) {
	steps, err := Analyze(dockerfile)
	if err != nil {
		return nil, err
	}
	out := make(map[StepKey]int, len(steps))
	for k, s := range steps {
		out[k] = s.Line
	}
	return out, nil
}

// Analyze describes each step BuildKit numbers. It counts as the dockerfile frontend does
// (moby/buildkit frontend/dockerfile/dockerfile2llb/convert.go, toDispatchState and
// prefixCommand): a stage is named by AS or "stage-<index>", unnamed when the Dockerfile
// has one stage; the FROM is step 1 unless it is scratch or an earlier stage, then each
// WORKDIR, RUN, COPY and ADD is the next.
func Analyze(dockerfile []byte) (map[StepKey]StepInfo, error) {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	// A linter without a Warn function reports nothing (as pkg/mountcache/discover.go).
	stages, _, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	out := map[StepKey]StepInfo{}
	names := map[string]bool{}
	for i, st := range stages {
		stage := st.Name
		if stage == "" {
			stage = fmt.Sprintf("stage-%d", i)
		}
		// One stage is unnamed in the vertex names ("[3/5] COPY ..."), but not always: with a
		// RUN --mount=type=cache in it BuildKit v0.34 names it too ("[stage-0 3/5] COPY ...",
		// seen on testdata/app), so a one-stage Dockerfile's steps answer to both keys.
		aliases := []string{stage}
		if len(stages) == 1 {
			aliases = append(aliases, "")
		}
		index := 0
		base := strings.ToLower(st.BaseName)
		if base != "scratch" && !names[base] {
			index = 1
		}
		var args []string
		for _, cmd := range st.Commands {
			var sources []string
			switch c := cmd.(type) {
			case *instructions.ArgCommand:
				for _, a := range c.Args {
					args = append(args, a.Key)
				}
				continue
			case *instructions.CopyCommand:
				if c.From == "" {
					sources = contextSources(c.SourcePaths)
				}
			case *instructions.AddCommand:
				sources = contextSources(c.SourcePaths)
			case *instructions.RunCommand, *instructions.WorkdirCommand:
			default:
				continue
			}
			index++
			info := StepInfo{Instruction: fmt.Sprint(cmd), Sources: sources, Args: slices.Clone(args)}
			if loc := cmd.Location(); len(loc) > 0 {
				info.Line = loc[0].Start.Line
			}
			for _, name := range aliases {
				out[StepKey{name, index}] = info
			}
		}
		if st.Name != "" {
			names[strings.ToLower(st.Name)] = true
		}
		names[fmt.Sprint(i)] = true
	}
	return out, nil
}

// contextSources are the sources of a COPY or ADD read from the build context: not URLs
// or Git repositories, which ADD fetches itself.
func contextSources(paths []string) []string {
	var out []string
	for _, p := range paths {
		if strings.Contains(p, "://") || strings.HasPrefix(p, "git@") {
			continue
		}
		out = append(out, p)
	}
	return out
}
