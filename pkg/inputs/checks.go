package inputs

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tonistiigi/go-csvvalue"
)

// CallFunc is the `call` input: which request the Dockerfile frontend answers instead of
// a build. Its syntax is buildx's `--call` (docker/buildx util/buildflags/callfunc.go
// ParseCallFunc): a name, then format=json|text and ignorestatus=BOOL, comma-separated.
// "check" is buildx's alias of the frontend's "lint" request, kept as Name "lint".
// A nil *CallFunc is a build.
type CallFunc struct {
	Name         string // lint (call: check), outline, targets, subrequests.describe
	Format       string // "", json or text
	IgnoreStatus bool   // ignorestatus=true: a failed check does not fail the step
}

// callNames are the requests BuildKit's Dockerfile frontend answers (moby/buildkit
// frontend/dockerui/requests.go, frontend/subrequests): the ones buildx documents.
var callNames = []string{"build", "check", "lint", "outline", "targets", "subrequests.describe"}

// ParseCallFunc parses a `call` value; "" and "build" are a build (nil).
func ParseCallFunc(s string) (*CallFunc, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	fields, err := csvvalue.Fields(s, nil)
	if err != nil {
		return nil, fmt.Errorf("cannot be read as comma-separated fields: %w", err)
	}
	f := &CallFunc{}
	for _, field := range fields {
		field = strings.TrimSpace(field)
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			if f.Name != "" {
				return nil, fmt.Errorf("%q names two requests (%s and %s); give one of %s", s, f.Name, field, strings.Join(callNames[:5], ", "))
			}
			f.Name = field
			continue
		}
		switch k {
		case "format":
			if v != "json" && v != "text" {
				return nil, fmt.Errorf("format=%s: use format=json or format=text", v)
			}
			f.Format = v
		case "ignorestatus":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return nil, fmt.Errorf("ignorestatus=%s is not a boolean; use true or false", v)
			}
			f.IgnoreStatus = b
		default:
			return nil, fmt.Errorf("unknown field %q; the fields are format=json|text and ignorestatus=true|false", field)
		}
	}
	switch f.Name {
	case "":
		return nil, fmt.Errorf("%q names no request; give one of build, check, outline, targets", s)
	case "check":
		f.Name = "lint"
	}
	if !slices.Contains(callNames, f.Name) {
		return nil, fmt.Errorf("%q is not a request the Dockerfile frontend answers; give one of build, check, outline, targets", f.Name)
	}
	if f.Name == "build" {
		return nil, nil
	}
	return f, nil
}

// String prints the call as the input would be written.
func (f *CallFunc) String() string {
	if f == nil {
		return "build"
	}
	name := f.Name
	if name == "lint" {
		name = "check"
	}
	if f.Format != "" {
		name += ",format=" + f.Format
	}
	if f.IgnoreStatus {
		name += ",ignorestatus=true"
	}
	return name
}

// RequestID is the frontend attribute buildx sends for the call (docker/buildx
// build/build.go: req.FrontendOpt["requestid"] = "frontend." + CallFunc.Name).
func (f *CallFunc) RequestID() string {
	if f == nil {
		return ""
	}
	return "frontend." + f.Name
}

// call reads the `call` input (checks, issue 14).
func (p *parser) call(in *Inputs) {
	f, err := ParseCallFunc(p.raw("call"))
	if err != nil {
		p.fail("call", 0, err.Error())
		return
	}
	in.Call = f
}
