package inputs

import (
	"errors"
	"maps"
	"reflect"
	"testing"

	"github.com/docker/buildx/util/buildflags"
)

const runURL = "https://github.com/octo-org/warm-app/actions/runs/42/attempts/2"

// What build-push-action passes to buildx (getAttestArgs in its src/context.ts) and what
// buildx then sends to BuildKit (build/opt.go toSolveOpt), case by case. The expectations
// are written from those two files, not from our output.
func TestAttestationsAreWhatBuildPushActionAndBuildxSend(t *testing.T) {
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		ctx    AttestContext
		args   []string
		attrs  map[string]string
	}{{
		name:  "public repository: default provenance mode=max with the run as builder-id",
		args:  []string{"type=provenance,mode=max,builder-id=" + runURL},
		attrs: map[string]string{"attest:provenance": "type=provenance,builder-id=" + runURL + ",mode=max"},
	}, {
		name:  "private repository: default provenance mode=min,inline-only=true",
		ctx:   AttestContext{Private: true},
		args:  []string{"type=provenance,mode=min,inline-only=true,builder-id=" + runURL},
		attrs: map[string]string{"attest:provenance": "type=provenance,builder-id=" + runURL + ",inline-only=true,mode=min"},
	}, {
		name:   "provenance: false turns it off, and buildx adds no default either",
		inputs: map[string]string{"provenance": "false"},
		args:   []string{"type=provenance,disabled=true"},
		attrs:  map[string]string{},
	}, {
		name:   "provenance: true is builder-id alone (BuildKit's own mode, min)",
		inputs: map[string]string{"provenance": "true"},
		args:   []string{"type=provenance,builder-id=" + runURL},
		attrs:  map[string]string{"attest:provenance": "type=provenance,builder-id=" + runURL},
	}, {
		name:   "provenance: mode=max gets builder-id",
		inputs: map[string]string{"provenance": "mode=max"},
		ctx:    AttestContext{Private: true},
		args:   []string{"type=provenance,mode=max,builder-id=" + runURL},
		attrs:  map[string]string{"attest:provenance": "type=provenance,builder-id=" + runURL + ",mode=max"},
	}, {
		name:   "a builder-id of the user's is kept",
		inputs: map[string]string{"provenance": "mode=max,builder-id=https://ci.example/1"},
		args:   []string{"type=provenance,mode=max,builder-id=https://ci.example/1"},
		attrs:  map[string]string{"attest:provenance": "type=provenance,builder-id=https://ci.example/1,mode=max"},
	}, {
		name:   "sbom: true beside the default provenance",
		inputs: map[string]string{"sbom": "true"},
		args:   []string{"type=provenance,mode=max,builder-id=" + runURL, "type=sbom,disabled=false"},
		attrs: map[string]string{
			"attest:provenance": "type=provenance,builder-id=" + runURL + ",mode=max",
			"attest:sbom":       "type=sbom",
		},
	}, {
		name:   "attests with a provenance entry: no default, the entry gets builder-id",
		inputs: map[string]string{"attests": "type=sbom,generator=image\ntype=provenance,mode=min"},
		args:   []string{"type=sbom,generator=image", "type=provenance,mode=min,builder-id=" + runURL},
		attrs: map[string]string{
			"attest:provenance": "type=provenance,builder-id=" + runURL + ",mode=min",
			"attest:sbom":       "type=sbom,generator=image",
		},
	}, {
		name:   "the provenance and sbom inputs win over attests",
		inputs: map[string]string{"provenance": "false", "sbom": "false", "attests": "type=provenance,mode=max\ntype=sbom"},
		args:   []string{"type=provenance,disabled=true", "type=sbom,disabled=true"},
		attrs:  map[string]string{},
	}, {
		name:  "loading into Docker: build-push-action adds nothing, buildx its inline-only default",
		ctx:   AttestContext{DockerExporter: true},
		attrs: map[string]string{"attest:provenance": "mode=min,inline-only=true"},
	}, {
		name:  "BUILDX_NO_DEFAULT_ATTESTATIONS: none at all",
		ctx:   AttestContext{NoDefault: true},
		attrs: map[string]string{},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := Parse(env(tc.inputs))
			if err != nil {
				t.Fatal(err)
			}
			tc.ctx.BuilderID = runURL
			if got := in.Attest.Args(tc.ctx); !reflect.DeepEqual(got, tc.args) {
				t.Errorf("--attest flags\n got %q\nwant %q", got, tc.args)
			}
			got, err := in.Attest.FrontendAttrs(tc.ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.attrs) {
				t.Errorf("frontend attrs\n got %q\nwant %q", got, tc.attrs)
			}
			// buildx itself on the same flags (commands/build.go: ParseAttests, ToMap).
			parsed, err := buildflags.ParseAttests(in.Attest.Args(tc.ctx))
			if err != nil {
				t.Fatal(err)
			}
			for typ, v := range parsed.ToMap() {
				if v == nil {
					if _, ok := got["attest:"+typ]; ok {
						t.Errorf("buildx disables %s, we send %q", typ, got["attest:"+typ])
					}
				} else if got["attest:"+typ] != *v {
					t.Errorf("buildx sends attest:%s=%q, we %q", typ, *v, got["attest:"+typ])
				}
			}
		})
	}
}

func TestWorkflowRunURLIsActionsToolkits(t *testing.T) {
	if got := WorkflowRunURL("", "octo-org/warm-app", "42", ""); got != "https://github.com/octo-org/warm-app/actions/runs/42/attempts/1" {
		t.Errorf("got %s", got)
	}
	if got := WorkflowRunURL("https://ghe.example", "o/r", "7", "3"); got != "https://ghe.example/o/r/actions/runs/7/attempts/3" {
		t.Errorf("got %s", got)
	}
}

func TestBadAttestationsNameTheirInput(t *testing.T) {
	for _, tc := range []struct {
		inputs map[string]string
		input  string
		line   int
	}{
		{map[string]string{"provenance": "mode"}, "provenance", 0},
		{map[string]string{"sbom": "generator"}, "sbom", 0},
		{map[string]string{"attests": "type=sbom\nmode=max"}, "attests", 2},
		{map[string]string{"attests": "type=sbom,disabled=maybe"}, "attests", 1},
		{map[string]string{"annotations": "index:a=b\nnovalue"}, "annotations", 2},
		{map[string]string{"annotations": "layer:a=b"}, "annotations", 1},
		{map[string]string{"annotations": "manifest[not a platform]:a=b"}, "annotations", 1},
	} {
		_, err := Parse(env(tc.inputs))
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != 1 || errs[0].Input != tc.input || errs[0].Line != tc.line {
			t.Errorf("%v: got %v, want one error on %s line %d", tc.inputs, err, tc.input, tc.line)
		}
	}
}

// Each attests line must be refused exactly when buildx refuses it.
func TestAttestSyntaxMatchesBuildx(t *testing.T) {
	for _, in := range []string{
		"type=sbom", "type=sbom,generator=docker/buildkit-syft-scanner:edge", "type=provenance,mode=max,disabled=false",
		`type=provenance,"builder-id=https://x/a,b"`, "TYPE=sbom", "mode=max", "type=sbom,broken", "type=sbom,disabled=nope",
		"type=provenance, mode=max",
	} {
		want, wantErr := buildflags.ParseAttests([]string{in})
		got, gotErr := parseAttest(in)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%q: buildx error %v, ours %v", in, wantErr, gotErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		if w := want[0]; w.Type != got.Type || w.Disabled != got.Disabled || !maps.Equal(w.Attrs, got.Attrs) || w.String() != got.String() {
			t.Errorf("%q: buildx %+v (%s), ours %+v (%s)", in, w, w, got, got)
		}
	}
}

// The exporter attributes must be the ones buildx sets for the same --annotation values.
func TestAnnotationsAreBuildxsExporterAttrs(t *testing.T) {
	lines := []string{
		"org.opencontainers.image.description=plain, with a comma",
		"index:org.opencontainers.image.title=warm app",
		"manifest:org.opencontainers.image.vendor=octo",
		"manifest[linux/amd64]:org.opencontainers.image.ref.name=amd",
		"index,manifest:org.opencontainers.image.licenses=MIT",
		"index-descriptor:a=b",
		"manifest-descriptor[linux/arm64/v8]:c=d",
	}
	raw := ""
	for _, l := range lines {
		raw += l + "\n"
	}
	in, err := Parse(env(map[string]string{"annotations": raw}))
	if err != nil {
		t.Fatal(err)
	}
	want, err := buildflags.ParseAnnotations(lines)
	if err != nil {
		t.Fatal(err)
	}
	wantAttrs := map[string]string{}
	for k, v := range want {
		wantAttrs[k.String()] = v
	}
	if got := in.Annotations.ExporterAttrs(); !maps.Equal(got, wantAttrs) {
		t.Errorf("exporter attrs\n got %q\nwant %q", got, wantAttrs)
	}
	if got := in.Annotations.ExporterAttrs()["annotation-index.org.opencontainers.image.title"]; got != "warm app" {
		t.Errorf("index annotation attr = %q", got)
	}
}

func TestHasDockerExporterIsLoadOrADockerOutput(t *testing.T) {
	docker, _ := ParseExport("type=docker,dest=x.tar")
	local, _ := ParseExport("out")
	if !HasDockerExporter(nil, true) || !HasDockerExporter([]*ExportEntry{local, docker}, false) || HasDockerExporter([]*ExportEntry{local}, false) {
		t.Error("HasDockerExporter disagrees with actions-toolkit's Build.hasDockerExporter")
	}
}

// FuzzAttestAndAnnotationSyntax: whatever an attests line or an annotations line says, our
// parsers never panic, refuse exactly what buildx refuses and read the rest as buildx does.
//
//	go test ./pkg/inputs -run '^$' -fuzz '^FuzzAttestAndAnnotationSyntax$' -fuzztime 60s
func FuzzAttestAndAnnotationSyntax(f *testing.F) {
	for _, s := range []string{
		"type=sbom", "type=provenance,mode=max,disabled=false", `type=provenance,"builder-id=a,b"`, "mode=max",
		"index:a=b", "manifest[linux/amd64]:k=v", "index,manifest:k=v", "layer:a=b", "novalue", "manifest[]:a=b", "=", ":=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseAttest(in)
		want, werr := buildflags.ParseAttests([]string{in})
		if (err == nil) != (werr == nil) {
			t.Errorf("attest %q: buildx error %v, ours %v", in, werr, err)
		} else if err == nil {
			if w := want[0]; w.Type != got.Type || w.Disabled != got.Disabled || !maps.Equal(w.Attrs, got.Attrs) || w.String() != got.String() {
				t.Errorf("attest %q: buildx %s, ours %s", in, w, got)
			}
		}
		if in == "" {
			return // buildx skips an empty annotation; the list never hands us one
		}
		as, err := ParseAnnotation(in)
		wantA, werr := buildflags.ParseAnnotations([]string{in})
		if (err == nil) != (werr == nil) {
			t.Errorf("annotation %q: buildx error %v, ours %v", in, werr, err)
			return
		}
		if err == nil {
			wantAttrs := map[string]string{}
			for k, v := range wantA {
				wantAttrs[k.String()] = v
			}
			if gotAttrs := as.ExporterAttrs(); !maps.Equal(gotAttrs, wantAttrs) {
				t.Errorf("annotation %q: buildx %q, ours %q", in, wantAttrs, gotAttrs)
			}
		}
	})
}
