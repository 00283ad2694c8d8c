// Package buildrecord says why a build missed the layer cache: it places BuildKit's
// counted steps on their Dockerfile lines and finds the first one that ran.
package buildrecord

import (
	"bytes"
	"fmt"
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

// Lines maps each step BuildKit numbers to its instruction's first Dockerfile line. It
// counts as the dockerfile frontend does (moby/buildkit
// frontend/dockerfile/dockerfile2llb/convert.go, toDispatchState and prefixCommand): a
// stage is named by AS or "stage-<index>", unnamed when the Dockerfile has one stage; the
// FROM is step 1 unless it is scratch or an earlier stage, then each WORKDIR, RUN, COPY
// and ADD is the next.
func Lines(dockerfile []byte) (map[StepKey]int, error) {
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	// A linter without a Warn function reports nothing (as pkg/mountcache/discover.go).
	stages, _, err := instructions.Parse(res.AST, linter.New(&linter.Config{}))
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	out := map[StepKey]int{}
	names := map[string]bool{}
	for i, st := range stages {
		stage := st.Name
		if stage == "" {
			stage = fmt.Sprintf("stage-%d", i)
		}
		if len(stages) == 1 {
			stage = ""
		}
		index := 0
		base := strings.ToLower(st.BaseName)
		if base != "scratch" && !names[base] {
			index = 1
		}
		for _, cmd := range st.Commands {
			switch cmd.(type) {
			case *instructions.AddCommand, *instructions.CopyCommand, *instructions.RunCommand, *instructions.WorkdirCommand:
				index++
				if loc := cmd.Location(); len(loc) > 0 {
					out[StepKey{stage, index}] = loc[0].Start.Line
				}
			}
		}
		if st.Name != "" {
			names[strings.ToLower(st.Name)] = true
		}
		names[fmt.Sprint(i)] = true
	}
	return out, nil
}
