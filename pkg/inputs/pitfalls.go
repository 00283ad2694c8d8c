package inputs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/warmbuild/warmbuild/pkg/pitfalls"
)

// pitfalls (issue 17): cache-pitfalls-ignore silences findings of the Dockerfile's cache
// pitfall check (pkg/pitfalls) by id.

// PitfallsIgnore is the ids cache-pitfalls-ignore names; "all" silences every one.
type PitfallsIgnore []string

// pitfallsIgnore reads cache-pitfalls-ignore: ids separated by commas or newlines, each
// a pitfall id or all; an unknown id is an error that lists the known ones.
func (p *parser) pitfallsIgnore() PitfallsIgnore {
	const name = "cache-pitfalls-ignore"
	items, err := parseList(p.raw(name), listOpts{})
	if err != nil {
		p.fail(name, 0, err.Error())
		return nil
	}
	known := pitfalls.IDs()
	var out PitfallsIgnore
	for _, it := range items {
		id := strings.ToLower(it.Value)
		if id != "all" && !slices.Contains(known, id) {
			p.fail(name, it.Line, fmt.Sprintf("%q is not a cache pitfall id; give all or any of %s", it.Value, strings.Join(known, ", ")))
			continue
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}
