package inputs

// provenance, sbom, attests and annotations, as docker/build-push-action hands them to
// buildx and buildx hands them to BuildKit:
//   - docker/build-push-action src/context.ts (getInputs, getAttestArgs) and
//     docker/actions-toolkit src/buildx/build.ts (getProvenanceInput, resolveProvenanceAttrs,
//     resolveAttestationAttrs, hasAttestationType, hasDockerExporter) turn the three inputs
//     into --attest flags, adding default provenance;
//   - docker/buildx util/buildflags/attests.go (ParseAttests, Attests.ToMap) and
//     build/opt.go (toSolveOpt) turn the flags into the frontend attrs attest:<type>,
//     adding buildx's own default (mode=min,inline-only=true) when no provenance was named;
//   - docker/buildx util/buildflags/export.go (ParseAnnotations) and commands/build.go
//     (every output gets annotation attrs) do the same for --annotation.
// attest_test.go checks the parsing against buildflags itself.

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/platforms"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/tonistiigi/go-csvvalue"
)

// Attestations are the provenance, sbom and attests inputs, checked. What they ask BuildKit
// for depends on the run (the repository's visibility, the workflow run, the exporters):
// FrontendAttrs resolves them.
type Attestations struct {
	Provenance string       // the provenance input; "" when not given
	SBOM       string       // the sbom input; "" when not given
	Attests    []AttestLine // the attests input, one entry a line
}

// AttestLine is one entry of the attests input and the line it is on.
type AttestLine struct {
	Value string
	Line  int
}

// AttestContext is what build-push-action looks at, beside the inputs, to decide the
// attestations.
type AttestContext struct {
	// Private is the event payload's repository.private: default provenance is
	// mode=min,inline-only=true on a private repository, mode=max otherwise.
	Private bool
	// BuilderID is the workflow run's URL with its attempt, which build-push-action adds as
	// builder-id to every provenance attestation (WorkflowRunURL).
	BuilderID string
	// DockerExporter: the build loads into Docker (load: true, or a type=docker output);
	// build-push-action then adds no default provenance (HasDockerExporter).
	DockerExporter bool
	// NoDefault is BUILDX_NO_DEFAULT_ATTESTATIONS: neither build-push-action nor buildx
	// adds default provenance.
	NoDefault bool
}

// Attest is one attestation request in buildx's --attest syntax (buildflags.Attest).
type Attest struct {
	Type     string
	Disabled bool
	Attrs    map[string]string
}

// String writes the request as buildx sends it to BuildKit (Attests.ToMap): type first,
// then the attributes sorted.
func (a *Attest) String() string {
	var b csvBuilder
	b.write("type", a.Type)
	if a.Disabled {
		b.write("disabled", "true")
	}
	b.writeAttrs(a.Attrs)
	return b.String()
}

// parseAttest reads one --attest value as buildx does (buildflags.Attest.UnmarshalText).
func parseAttest(in string) (*Attest, error) {
	fields, err := csvvalue.Fields(in, nil)
	if err != nil {
		return nil, err
	}
	a := &Attest{Attrs: map[string]string{}}
	for _, field := range fields {
		key, value, ok := strings.Cut(field, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", field)
		}
		switch strings.TrimSpace(strings.ToLower(key)) {
		case "type":
			a.Type = value
		case "disabled":
			d, err := strconv.ParseBool(value)
			if err != nil {
				return nil, fmt.Errorf("disabled=%s is not a boolean", value)
			}
			a.Disabled = d
		default:
			a.Attrs[key] = value
		}
	}
	if a.Type == "" {
		return nil, fmt.Errorf("no attestation type: write type=provenance or type=sbom first")
	}
	return a, nil
}

// WorkflowRunURL is the run's URL as actions-toolkit writes it (GitHub.workflowRunURL(true),
// src/github/github.ts): SERVER/OWNER/REPO/actions/runs/ID/attempts/N. An empty server is
// https://github.com and an empty attempt 1, as there.
func WorkflowRunURL(serverURL, repository, runID, runAttempt string) string {
	if serverURL == "" {
		serverURL = "https://github.com"
	}
	if runAttempt == "" {
		runAttempt = "1"
	}
	return fmt.Sprintf("%s/%s/actions/runs/%s/attempts/%s", serverURL, repository, runID, runAttempt)
}

// HasDockerExporter is actions-toolkit's Build.hasDockerExporter: load, or an output of
// type docker.
func HasDockerExporter(outputs []*ExportEntry, load bool) bool {
	return load || slices.ContainsFunc(outputs, func(e *ExportEntry) bool { return e.Type == "docker" })
}

// attestArg is one --attest flag build-push-action passes and the input it came from.
type attestArg struct {
	value string
	input string
	line  int
}

// args are the --attest flags build-push-action's getAttestArgs passes to buildx, in order.
func (a Attestations) args(c AttestContext) []attestArg {
	var out []attestArg
	hasAttestProvenance := slices.ContainsFunc(a.Attests, func(l AttestLine) bool { return hasAttestationType("provenance", l.Value) })
	provenanceSet, sbomSet := false, false
	if p := provenanceInput(a.Provenance, c.BuilderID); p != "" {
		out = append(out, attestArg{resolveAttestationAttrs("type=provenance," + p), "provenance", 0})
		provenanceSet = true
	} else if !hasAttestProvenance && !c.NoDefault && !c.DockerExporter {
		mode := "mode=max"
		if c.Private {
			mode = "mode=min,inline-only=true"
		}
		out = append(out, attestArg{"type=provenance," + resolveProvenanceAttrs(mode, c.BuilderID), "provenance", 0})
	}
	if a.SBOM != "" {
		out = append(out, attestArg{resolveAttestationAttrs("type=sbom," + a.SBOM), "sbom", 0})
		sbomSet = true
	}
	for _, l := range a.Attests {
		isProv, isSBOM := hasAttestationType("provenance", l.Value), hasAttestationType("sbom", l.Value)
		switch {
		case !isProv && !isSBOM:
			out = append(out, attestArg{resolveAttestationAttrs(l.Value), "attests", l.Line})
		case !provenanceSet && isProv:
			out = append(out, attestArg{resolveProvenanceAttrs(l.Value, c.BuilderID), "attests", l.Line})
		case !sbomSet && isSBOM:
			out = append(out, attestArg{l.Value, "attests", l.Line})
		}
	}
	return out
}

// Args are the --attest flags docker/build-push-action would pass to buildx for these
// inputs in this run.
func (a Attestations) Args(c AttestContext) []string {
	var out []string
	for _, arg := range a.args(c) {
		out = append(out, arg.value)
	}
	return out
}

// Resolve is what buildx makes of the flags (buildflags.ParseAttests, Attests.ToMap): one
// request a type, the first flag of a type winning; a disabled request stays in the list (it
// turns buildx's own default off). Errors name the input the flag came from.
func (a Attestations) Resolve(c AttestContext) ([]*Attest, error) {
	var out []*Attest
	var errs Errors
	for _, arg := range a.args(c) {
		at, err := parseAttest(arg.value)
		if err != nil {
			errs = append(errs, &Error{Input: arg.input, Line: arg.line, Problem: fmt.Sprintf("%q: %v", arg.value, err)})
			continue
		}
		if slices.ContainsFunc(out, func(o *Attest) bool { return o.Type == at.Type }) {
			continue
		}
		out = append(out, at)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// Enabled are the attestation types requested and not disabled, before buildx's own
// default: buildx refuses these with a docker exporter that cannot import OCI images
// (build/opt.go: "docker exporter does not currently support exporting manifest lists").
func (a Attestations) Enabled(c AttestContext) []string {
	res, _ := a.Resolve(c)
	var out []string
	for _, at := range res {
		if !at.Disabled {
			out = append(out, at.Type)
		}
	}
	return out
}

// AskedBy names the inputs (provenance, sbom, attests) whose flags ask for an attestation
// that stays enabled (the first flag of its type, not disabled), in order, each once. With
// DockerExporter set there is no default provenance, so these are what the user asked for.
func (a Attestations) AskedBy(c AttestContext) []string {
	var seen []string
	var out []string
	for _, arg := range a.args(c) {
		at, err := parseAttest(arg.value)
		if err != nil || slices.Contains(seen, at.Type) {
			continue
		}
		seen = append(seen, at.Type)
		if !at.Disabled && !slices.Contains(out, arg.input) {
			out = append(out, arg.input)
		}
	}
	return out
}

// FrontendAttrs are the attest:<type> frontend attrs the build sends to BuildKit, as
// buildx's toSolveOpt sets them: each enabled request, and attest:provenance
// mode=min,inline-only=true when no provenance was named at all (unless NoDefault).
func (a Attestations) FrontendAttrs(c AttestContext) (map[string]string, error) {
	res, err := a.Resolve(c)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	named := false
	for _, at := range res {
		named = named || at.Type == "provenance"
		if !at.Disabled {
			out["attest:"+at.Type] = at.String()
		}
	}
	if !named && !c.NoDefault {
		out["attest:provenance"] = "mode=min,inline-only=true"
	}
	return out, nil
}

// provenanceInput is actions-toolkit's Build.getProvenanceInput: a boolean (as
// getBooleanInput reads it) is builder-id=URL or false, anything else gets builder-id.
func provenanceInput(v, builderID string) string {
	switch v {
	case "":
		return ""
	case "true", "True", "TRUE":
		return "builder-id=" + builderID
	case "false", "False", "FALSE":
		return "false"
	}
	return resolveProvenanceAttrs(v, builderID)
}

// resolveProvenanceAttrs adds builder-id unless the attributes name one.
func resolveProvenanceAttrs(v, builderID string) string {
	if v == "" {
		return "builder-id=" + builderID
	}
	for _, f := range tsFields(v) {
		if k, _, _ := strings.Cut(f, "="); strings.TrimSpace(k) == "builder-id" {
			return v
		}
	}
	return v + ",builder-id=" + builderID
}

// resolveAttestationAttrs turns a bare boolean attribute into disabled=!value, so
// `sbom: true` is type=sbom,disabled=false (actions-toolkit Util.parseBool accepts what
// strconv.ParseBool accepts).
func resolveAttestationAttrs(v string) string {
	fields := tsFields(v)
	for i, f := range fields {
		if b, err := strconv.ParseBool(f); err == nil {
			fields[i] = "disabled=" + strconv.FormatBool(!b)
		}
	}
	return strings.Join(fields, ",")
}

// hasAttestationType tells whether the attributes say type=name.
func hasAttestationType(name, v string) bool {
	for _, f := range tsFields(v) {
		k, val, _ := strings.Cut(f, "=")
		if strings.TrimSpace(k) == "type" && strings.TrimSpace(val) == name {
			return true
		}
	}
	return false
}

// tsFields splits attributes as actions-toolkit's csv-parse does (trim: true); a value it
// cannot read is one field, for buildx's parser to refuse.
func tsFields(v string) []string {
	fields, err := csvvalue.Fields(v, nil)
	if err != nil {
		return []string{v}
	}
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	return fields
}

func (p *parser) attestations(in *Inputs) {
	a := Attestations{
		Provenance: p.str("provenance", ""),
		SBOM:       p.str("sbom", ""),
	}
	for _, it := range p.list("attests", true) {
		a.Attests = append(a.Attests, AttestLine{Value: it.Value, Line: it.Line})
	}
	// The same flags whatever the run: only the default provenance and builder-id differ,
	// and neither can be malformed.
	_, err := a.Resolve(AttestContext{BuilderID: "https://github.com/o/r/actions/runs/1/attempts/1"})
	p.add("attests", err)
	in.Attest = a
	in.Annotations = p.annotations()
}

// Annotation is one `annotations` entry in buildx's --annotation syntax:
// [TYPE[\[PLATFORM\]],...:]KEY=VALUE with TYPE index, index-descriptor, manifest or
// manifest-descriptor.
type Annotation struct {
	Key   exptypes.AnnotationKey
	Value string
}

// Annotations are the annotations input in order.
type Annotations []Annotation

// ExporterAttrs are the exporter attributes buildx sets on every output for the
// annotations (commands/build.go: o.Attrs[k.String()] = v), e.g.
// annotation-index.org.opencontainers.image.description; a later entry for the same key wins.
func (as Annotations) ExporterAttrs() map[string]string {
	if len(as) == 0 {
		return nil
	}
	out := make(map[string]string, len(as))
	for _, a := range as {
		out[a.Key.String()] = a.Value
	}
	return out
}

var annotationTypeRegexp = regexp.MustCompile(`^([a-z-]+)(?:\[([A-Za-z0-9_/-]+)\])?$`)

// ParseAnnotation reads one --annotation value as buildflags.ParseAnnotations does; one
// value with several types (index,manifest:KEY=V) is one annotation per type.
func ParseAnnotation(in string) (Annotations, error) {
	k, v, ok := strings.Cut(in, "=")
	if !ok {
		return nil, fmt.Errorf("no '=': write KEY=VALUE, optionally prefixed by index:, manifest:, index-descriptor: or manifest-descriptor:")
	}
	types, key, ok := strings.Cut(k, ":")
	if !ok {
		return Annotations{{Key: exptypes.AnnotationKey{Key: types}, Value: v}}, nil
	}
	var out Annotations
	for _, tp := range strings.Split(types, ",") {
		groups := annotationTypeRegexp.FindStringSubmatch(tp)
		if groups == nil {
			return nil, fmt.Errorf("%q is not an annotation type with an optional [platform]", tp)
		}
		typ, platform := groups[1], groups[2]
		switch typ {
		case exptypes.AnnotationIndex, exptypes.AnnotationIndexDescriptor,
			exptypes.AnnotationManifest, exptypes.AnnotationManifestDescriptor:
		default:
			return nil, fmt.Errorf("unknown annotation type %q; use index, index-descriptor, manifest or manifest-descriptor", typ)
		}
		ak := exptypes.AnnotationKey{Type: typ, Key: key}
		if platform != "" {
			pl, err := platforms.Parse(platform)
			if err != nil {
				return nil, fmt.Errorf("platform %q: %v", platform, err)
			}
			ak.Platform = &pl
		}
		out = append(out, Annotation{Key: ak, Value: v})
	}
	return out, nil
}

func (p *parser) annotations() Annotations {
	var out Annotations
	// build-push-action: Util.getInputList('annotations', {ignoreComma: true}).
	for _, it := range p.list("annotations", true) {
		as, err := ParseAnnotation(it.Value)
		if err != nil {
			p.fail("annotations", it.Line, fmt.Sprintf("%q: %v", it.Value, err))
			continue
		}
		out = append(out, as...)
	}
	return out
}
