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

// listOpts are the options docker/build-push-action passes to actions-toolkit's
// Util.getInputList for an input (docker/build-push-action src/context.ts).
type listOpts struct {
	// ignoreComma: each line (CSV record) is one entry, commas and all (build-args,
	// labels, cache-from, secrets, ...); otherwise every comma starts a new entry (tags,
	// platforms, secret-envs).
	ignoreComma bool
	// keepWhitespace (trimWhitespace: false, `secrets`): neither the input nor its
	// entries are trimmed, so a secret keeps its leading and trailing spaces.
	keepWhitespace bool
	// noQuotes (quote: false, `outputs`): '"' is an ordinary character.
	noQuotes bool
}

// parseList splits a list input the way docker/build-push-action does, following
// docker/actions-toolkit src/util.ts (Util.getList): the input is trimmed (@actions/core's
// getInput), read as CSV with csv-parse's relaxQuotes and relaxColumnCount and without
// trimming fields, so that quoted fields may hold commas and newlines and the spaces after a
// comma stay where they are ("description=a, b" is one label whose value is "a, b"). With
// ignoreComma a record becomes one entry, its fields joined again by commas; without, a
// one-field record is split on every comma (quoted or not, as getList does) and a record of
// several fields gives one entry per field. Entries are then trimmed.
//
// Two liberties, both for entries build-push-action would hand on to buildx as garbage:
// blank entries are dropped (getList filters before it trims, so it keeps a line of spaces
// as an empty entry), and lines starting with '#' are comments.
func parseList(raw string, o listOpts) ([]item, error) {
	if !o.keepWhitespace {
		raw = strings.TrimSpace(raw)
	}
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var out []item
	add := func(v string, line int) {
		if strings.TrimSpace(v) == "" {
			return
		}
		if !o.keepWhitespace {
			v = strings.TrimSpace(v)
		}
		out = append(out, item{v, line})
	}
	next := records(raw, o.noQuotes)
	for {
		rec, lines, err := next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) == 0 || strings.HasPrefix(strings.TrimSpace(rec[0]), "#") {
			continue
		}
		switch {
		case o.ignoreComma:
			add(strings.Join(rec, ","), lines[0])
		case len(rec) == 1:
			for _, f := range strings.Split(rec[0], ",") {
				add(f, lines[0])
			}
		default:
			for i, f := range rec {
				add(f, lines[i])
			}
		}
	}
	return out, nil
}

// records returns an iterator over the CSV records of raw and the line each field starts
// on. Empty lines are skipped, as csv-parse's skipEmptyLines does.
func records(raw string, noQuotes bool) func() ([]string, []int, error) {
	if noQuotes {
		lines := strings.Split(raw, "\n")
		i := 0
		return func() ([]string, []int, error) {
			for i < len(lines) {
				l := strings.TrimSuffix(lines[i], "\r")
				i++
				if l == "" {
					continue
				}
				rec := strings.Split(l, ",")
				at := make([]int, len(rec))
				for j := range at {
					at[j] = i
				}
				return rec, at, nil
			}
			return nil, nil, io.EOF
		}
	}
	r := csv.NewReader(strings.NewReader(raw))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	return func() ([]string, []int, error) {
		rec, err := r.Read()
		if err != nil {
			return nil, nil, err
		}
		at := make([]int, len(rec))
		for j := range at {
			at[j], _ = r.FieldPos(j)
		}
		return rec, at, nil
	}
}

// values drops line numbers.
func values(items []item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Value
	}
	return out
}
