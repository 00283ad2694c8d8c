package buildrecord

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/report"
)

// Record is what a saving run keeps of its build beside the layer cache, so that a run
// reading that scope can say what changed. It holds no values: build args and
// instructions are hashed; files are their paths and content hashes.
type Record struct {
	Version int    `json:"v"`
	Steps   []Step `json:"steps"`
	// Bases are each stage's FROM as BuildKit resolved it (ref@digest), by stage name.
	Bases map[string]string `json:"bases,omitempty"`
	// Args are the build args' names with hashes of their values.
	Args map[string]string `json:"args,omitempty"`
}

// Step is one counted step in a record.
type Step struct {
	Name        string `json:"name"`
	Stage       string `json:"stage,omitempty"`
	Index       int    `json:"index"`
	Line        int    `json:"line,omitempty"`
	Instruction string `json:"instruction"` // a hash of the instruction's text
	Digest      string `json:"digest,omitempty"`
	// Files are the COPY/ADD sources' paths and content hashes; FilesSkipped says why
	// they are not there when the step copies from the context.
	Files        map[string]string `json:"files,omitempty"`
	FilesSkipped string            `json:"filesSkipped,omitempty"`
	// Args are the names of the ARGs the step sees (declared in its stage before it).
	Args []string `json:"args,omitempty"`
}

const version = 1

// Limits on a record read from a cache (untrusted input).
const (
	MaxBytes = 8 << 20
	maxSteps = 4096
	maxFiles = 200000
)

// Source is what a record is made of.
type Source struct {
	Steps      builder.StepStats
	Dockerfile []byte
	ContextDir string // "" when the context is not a local directory
	Ignore     IgnoreMatcher
	BuildArgs  map[string]string
	Budget     *Budget
}

// IgnoreMatcher is a .dockerignore (patternmatcher.PatternMatcher), or nil.
type IgnoreMatcher = ignoreMatcher

// Make builds the record of a run. The steps' files are hashed within s.Budget; past it,
// each later step says so.
func Make(s Source) (*Record, error) {
	infos, err := Analyze(s.Dockerfile)
	if err != nil {
		return nil, err
	}
	rec := &Record{Version: version, Bases: maps.Clone(s.Steps.Bases), Args: HashArgs(s.BuildArgs)}
	skipped := ""
	for _, st := range s.Steps.Steps {
		info, ok := infos[StepKey{st.Stage, st.Index}]
		rs := Step{Name: st.Name, Stage: st.Stage, Index: st.Index, Digest: string(st.Digest)}
		if ok {
			rs.Line, rs.Instruction, rs.Args = info.Line, hashText(info.Instruction), info.Args
			if len(info.Sources) > 0 {
				switch {
				case s.ContextDir == "":
					rs.FilesSkipped = "the context is not a local directory"
				case skipped != "":
					rs.FilesSkipped = skipped
				default:
					files, err := HashSources(s.ContextDir, info.Sources, s.Ignore.pm(), s.Budget)
					if errors.Is(err, ErrBudget) {
						skipped = ErrBudget.Error()
						rs.FilesSkipped = skipped
					} else if err != nil {
						rs.FilesSkipped = "not hashed: " + err.Error()
					} else {
						rs.Files = files
					}
				}
			}
		}
		rec.Steps = append(rec.Steps, rs)
	}
	return rec, nil
}

// HashArgs keeps the build args' names and a hash of each value.
func HashArgs(args map[string]string) map[string]string {
	if len(args) == 0 {
		return nil
	}
	out := make(map[string]string, len(args))
	for k, v := range args {
		out[k] = hashText(k + "\x00" + v)
	}
	return out
}

func hashText(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:16])
}

// Encode writes r as JSON.
func (r *Record) Encode(w io.Writer) error { return json.NewEncoder(w).Encode(r) }

// Decode reads a record from a cache: at most MaxBytes, of this version, within the limits.
func Decode(rd io.Reader) (*Record, error) {
	data, err := io.ReadAll(io.LimitReader(rd, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read build record: %w", err)
	}
	if len(data) > MaxBytes {
		return nil, fmt.Errorf("build record: larger than %d bytes", MaxBytes)
	}
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("build record: %w", err)
	}
	if r.Version != version {
		return nil, fmt.Errorf("build record: version %d, want %d", r.Version, version)
	}
	if len(r.Steps) > maxSteps {
		return nil, fmt.Errorf("build record: %d steps", len(r.Steps))
	}
	files := 0
	for _, s := range r.Steps {
		files += len(s.Files)
		if s.Index < 0 || s.Line < 0 {
			return nil, errors.New("build record: a step with a negative index or line")
		}
	}
	if files > maxFiles {
		return nil, fmt.Errorf("build record: %d files", files)
	}
	return &r, nil
}

// Explain compares this run's first miss with the record of the scope it read: the reason
// (dockerfile, build-arg, files, base-image, evicted) and what changed. cur is this run's
// record; miss its first miss, whose reason Explain fills when the record says more.
func Explain(prev, cur *Record, miss *report.Miss, anyCached bool) {
	if prev == nil || cur == nil || miss == nil {
		return
	}
	i := slices.IndexFunc(cur.Steps, func(s Step) bool { return s.Name == miss.Step })
	if i < 0 {
		return
	}
	now := cur.Steps[i]
	if now.Instruction == "" {
		return // the step is not placed on the Dockerfile: nothing to compare
	}
	j := slices.IndexFunc(prev.Steps, func(s Step) bool { return s.Stage == now.Stage && s.Index == now.Index })
	if j < 0 || prev.Steps[j].Instruction != now.Instruction {
		miss.Reason, miss.Detail = report.MissDockerfile, "the instruction is new or changed since the scope's last saved build"
		return
	}
	before := prev.Steps[j]
	if b, a := prev.Bases[now.Stage], cur.Bases[now.Stage]; b != "" && a != "" && b != a {
		miss.Reason, miss.Detail = report.MissBaseImage, "the base image moved: "+b+" → "+a
		return
	}
	if names := changedArgs(prev.Args, cur.Args, now.Args); len(names) > 0 {
		miss.Reason, miss.Detail = report.MissBuildArg, "build args changed: "+strings.Join(names, ", ")
		return
	}
	if before.Files != nil && now.Files != nil {
		if paths, changed, added, removed := DiffFiles(before.Files, now.Files); len(paths) > 0 {
			miss.Reason = report.MissFiles
			miss.Detail = fmt.Sprintf("%d changed, %d added, %d removed", changed, added, removed)
			miss.Files, miss.FilesMore = report.LimitFiles(paths)
			return
		}
	} else if now.FilesSkipped != "" {
		miss.Detail = "files not compared: " + now.FilesSkipped
	}
	if !anyCached {
		miss.Reason, miss.Detail = report.MissEvicted, "the scope's last saved build had this step, unchanged, but no step came from its cache: its entries are gone"
	}
}

// changedArgs are the build args the step sees whose value changed, or that were added
// or removed.
func changedArgs(before, after map[string]string, seen []string) []string {
	var names []string
	for _, k := range seen {
		if before[k] != after[k] && !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// SameSteps says whether a record Make builds from a is the one it builds from b: the
// same steps by name, place and digest, from the same bases. A record made when
// BuildKit starts exporting then stands for the build once it ended.
func SameSteps(a, b builder.StepStats) bool {
	return maps.Equal(a.Bases, b.Bases) && slices.EqualFunc(a.Steps, b.Steps, func(x, y builder.Step) bool {
		return x.Name == y.Name && x.Stage == y.Stage && x.Index == y.Index && x.Digest == y.Digest
	})
}
