package inputs

import (
	"encoding/csv"
	"errors"
	"io"
	"strings"
)

// item is one entry of a list input with the line it started on, so errors can point at it.
type item struct {
	Value string
	Line  int
}

// parseList splits a list input the way docker/build-push-action does (actions-toolkit's
// Util.getInputList): the value is read as CSV so that quoted fields may hold commas and
// newlines; with joinCommas each record becomes one entry (build-args, cache-from, secrets,
// ...), otherwise every field is its own entry (tags, platforms). Blank entries and lines
// starting with '#' are dropped.
func parseList(raw string, joinCommas bool) ([]item, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	r := csv.NewReader(strings.NewReader(raw))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.TrimLeadingSpace = true
	var out []item
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := r.FieldPos(0)
		if len(rec) > 0 && strings.HasPrefix(strings.TrimSpace(rec[0]), "#") {
			continue
		}
		if joinCommas {
			v := strings.TrimSpace(strings.Join(rec, ","))
			if v != "" {
				out = append(out, item{v, line})
			}
			continue
		}
		for i, f := range rec {
			if f = strings.TrimSpace(f); f != "" {
				l, _ := r.FieldPos(i)
				out = append(out, item{f, l})
			}
		}
	}
	return out, nil
}

// values drops line numbers.
func values(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Value
	}
	return out
}
