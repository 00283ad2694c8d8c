package inputs

import (
	"fmt"
	"strings"
)

// Error is a problem with one `with:` input. It names the input (and the line of a
// multi-line input) so the user can find and fix it without reading Go code.
type Error struct {
	Input   string // the input's name as written in the workflow, e.g. "cache-from"
	Line    int    // 1-based line of a list input; 0 when not about one line
	Problem string // what is wrong and, where it helps, how to fix it
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("input %q, line %d: %s", e.Input, e.Line, e.Problem)
	}
	return fmt.Sprintf("input %q: %s", e.Input, e.Problem)
}

// Title is a short heading for the error annotation.
func (e *Error) Title() string { return "Invalid input " + e.Input }

// Errors collects every bad input so a user fixes them all in one go instead of one
// failed run per mistake.
type Errors []*Error

func (es Errors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}

func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
