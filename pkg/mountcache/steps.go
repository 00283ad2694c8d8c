package mountcache

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// stepInputs is what decides a RUN's layer in BuildKit, as far as the Dockerfile shows
// it, gathered while a stage is replayed: BuildKit's cache key of a RUN (an exec op's
// digest over its args, env and every mount's input: moby/buildkit
// solver/llbsolver/ops/exec.go; the env holds every ARG in scope: dispatchArg's AddEnv in
// frontend/dockerfile/dockerfile2llb/convert.go) covers its
// command, its environment (every ENV and ARG value in scope), every instruction
// before it in the stage's FROM chain, the files those read from the build context, and
// the stages they copy or mount from. A mount cache's key hashes all of it (the texts
// here, the context files by content: HashSteps), so an exact hit of the key means the
// RUN is the same step, which the layer cache then holds; what no key can hash is in
// opaque, and an exact hit then proves nothing.
type stepInputs struct {
	texts   []string // instructions as written (FROM expanded), each RUN followed by its environment
	sources []string // build-context paths read (COPY/ADD sources, bind mounts), cleaned and relative
	opaque  []string // "line N: what" for inputs a key cannot hash
}

func (in stepInputs) clone() stepInputs {
	return stepInputs{texts: slices.Clone(in.texts), sources: slices.Clone(in.sources), opaque: slices.Clone(in.opaque)}
}

// fold adds what another stage's content depends on (COPY --from, a bind mount from it).
func (in *stepInputs) fold(dep *stageState) {
	in.texts = append(in.texts, "stage "+strconv.Itoa(dep.index)+" {")
	in.texts = append(in.texts, dep.inputs.texts...)
	in.texts = append(in.texts, "}")
	in.sources = append(in.sources, dep.inputs.sources...)
	in.opaque = append(in.opaque, dep.inputs.opaque...)
}

// digest is a digest of the texts (16 hex digits); values are only ever hashed.
func (in stepInputs) digest() string {
	h := sha256.New()
	for _, t := range in.texts {
		fmt.Fprintf(h, "%d:%s\n", len(t), t)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// contextPath cleans a COPY/ADD source or a bind mount's source into a path relative to
// the build context ("." for the whole of it).
func contextPath(src string) string {
	p := strings.TrimPrefix(path.Clean("/"+src), "/")
	if p == "" {
		return "."
	}
	return p
}

// isRemote reports whether an ADD source is fetched from elsewhere than the context.
func isRemote(src string) bool {
	return strings.Contains(src, "://") || strings.HasPrefix(src, "git@")
}

// record adds cmd to the inputs of the steps after it. stageOf finds an earlier stage by
// the name or index a --from names (nil: an image).
// For a RUN, mounts are its --mount flags as parseMounts parsed them.
func (in *stepInputs) record(cmd instructions.Command, sc *scope, stageOf func(string) *stageState, mounts []*instructions.Mount) {
	ln := line(cmd.Location())
	in.texts = append(in.texts, fmt.Sprint(cmd))
	switch c := cmd.(type) {
	case *instructions.CopyCommand:
		in.copySources(ln, "COPY", c.From, c.SourcesAndDest, c.Expand, sc, stageOf)
	case *instructions.AddCommand:
		in.copySources(ln, "ADD", "", c.SourcesAndDest, c.Expand, sc, stageOf)
	case *instructions.RunCommand:
		for _, f := range c.Files {
			in.texts = append(in.texts, f.Data)
		}
		env := make([]string, 0, len(sc.env.Keys()))
		for _, k := range sc.env.Keys() {
			v, _ := sc.env.Get(k)
			env = append(env, k+"="+v)
		}
		slices.Sort(env)
		in.texts = append(in.texts, "env "+strings.Join(env, "\x00"))
		for _, m := range mounts {
			if m.Type != instructions.MountTypeBind {
				continue
			}
			if m.From == "" {
				in.sources = append(in.sources, contextPath(m.Source))
			} else if dep := stageOf(m.From); dep != nil {
				in.fold(dep)
			}
		}
	}
}

func (in *stepInputs) copySources(ln int, inst, from string, sd instructions.SourcesAndDest, expand func(instructions.SingleWordExpander) error, sc *scope, stageOf func(string) *stageState) {
	for _, f := range sd.SourceContents {
		in.texts = append(in.texts, f.Data)
	}
	if from != "" {
		if dep := stageOf(from); dep != nil {
			in.fold(dep)
		}
		return // an image's files: its reference is in the instruction's text
	}
	unmatched := map[string]struct{}{}
	if err := expand(sc.expander(unmatched)); err != nil || len(unmatched) > 0 {
		in.opaque = append(in.opaque, fmt.Sprintf("line %d: %s sources written with variables warmbuild cannot resolve", ln, inst))
		return
	}
	for _, src := range sd.SourcePaths {
		if isRemote(src) {
			in.opaque = append(in.opaque, fmt.Sprintf("line %d: %s %s fetches content from elsewhere", ln, inst, src))
			continue
		}
		in.sources = append(in.sources, contextPath(src))
	}
}
