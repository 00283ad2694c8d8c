package inputs

import (
	"errors"
	"strings"
	"testing"
)

func TestLoadIsOffByDefaultAndOnWithLoadTrue(t *testing.T) {
	in, err := Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if in.Load || in.LoadsIntoDocker() {
		t.Errorf("no inputs: Load=%v LoadsIntoDocker=%v, want false", in.Load, in.LoadsIntoDocker())
	}
	in, err = Parse(env(map[string]string{"load": "true", "tags": "app:test"}))
	if err != nil {
		t.Fatal(err)
	}
	if !in.Load || !in.LoadsIntoDocker() {
		t.Errorf("load: true: Load=%v LoadsIntoDocker=%v, want true", in.Load, in.LoadsIntoDocker())
	}
}

// buildx loads a type=docker output without dest into the Engine (build/opt.go
// CreateExports: no dest is "-" for every file exporter except docker).
func TestDockerOutputWithoutDestLoadsIntoDocker(t *testing.T) {
	in, err := Parse(env(map[string]string{"outputs": "type=docker", "tags": "app:test"}))
	if err != nil {
		t.Fatalf("type=docker without dest must be accepted: %v", err)
	}
	if in.Load || !in.LoadsIntoDocker() {
		t.Errorf("Load=%v LoadsIntoDocker=%v, want false, true", in.Load, in.LoadsIntoDocker())
	}
	in, err = Parse(env(map[string]string{"outputs": "type=docker,dest=/tmp/img.tar"}))
	if err != nil {
		t.Fatal(err)
	}
	if in.LoadsIntoDocker() {
		t.Error("type=docker,dest=FILE writes a file and loads nothing")
	}
}

func TestLoadAndPushTogetherAreAccepted(t *testing.T) {
	in, err := Parse(env(map[string]string{"load": "true", "push": "true", "tags": "reg.example/app:1"}))
	if err != nil {
		t.Fatalf("buildx takes --push --load together: %v", err)
	}
	if !in.Load || !in.Push {
		t.Errorf("Load=%v Push=%v", in.Load, in.Push)
	}
}

func TestLoadInputErrors(t *testing.T) {
	cases := []struct {
		name   string
		inputs map[string]string
		input  string
		says   string
	}{
		{"load not a boolean", map[string]string{"load": "yes"}, "load", "not a boolean"},
		{"oci without dest would write to the log", map[string]string{"outputs": "type=oci"}, "outputs", "standard output, which is the job log"},
		{"docker tar=false without dest", map[string]string{"outputs": "type=docker,tar=false"}, "outputs", "tar=false writes a directory and needs dest=DIR"},
		{"docker context attr", map[string]string{"outputs": "type=docker,context=remote"}, "outputs", "docker CLI context"},
		{"docker tarball of two platforms", map[string]string{"outputs": "type=docker,dest=img.tar", "platforms": "linux/amd64,linux/arm64"}, "outputs", "docker exporter does not support exporting manifest lists, use the oci exporter instead"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(env(tc.inputs))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want input errors, got %v", err)
			}
			for _, e := range errs {
				if e.Input == tc.input && strings.Contains(e.Problem, tc.says) {
					return
				}
			}
			t.Errorf("no error names %q and says %q; got:\n%v", tc.input, tc.says, err)
		})
	}
}

// buildx's error for several platforms (or attestations asked for) loaded into an Engine
// with the classic image store; an Engine with the containerd store takes them.
func TestMultiPlatformLoadGetsBuildxsErrorUnlessTheEngineTakesOCI(t *testing.T) {
	const buildxSays = "docker exporter does not currently support exporting manifest lists"
	for _, tc := range []struct {
		name   string
		inputs map[string]string
		attest []string
		input  string // "" when accepted
		says   string
	}{
		{"load, two platforms", map[string]string{"load": "true", "platforms": "linux/amd64,linux/arm64"}, nil, "load", "platforms names 2 platforms (linux/amd64, linux/arm64)"},
		{"docker output, two platforms", map[string]string{"outputs": "type=docker", "platforms": "linux/amd64,linux/arm64"}, nil, "outputs", "platforms names 2 platforms"},
		{"load, one platform", map[string]string{"load": "true", "platforms": "linux/amd64"}, nil, "", ""},
		{"load, provenance asked for", map[string]string{"load": "true"}, []string{"provenance"}, "load", "provenance asks for attestations"},
		{"two platforms, no load", map[string]string{"push": "true", "tags": "r.example/a:1", "platforms": "linux/amd64,linux/arm64"}, []string{"sbom"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, err := Parse(env(tc.inputs))
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckDockerLoad(in, true, tc.attest); err != nil {
				t.Errorf("an Engine with the containerd image store takes OCI indexes and attestations: %v", err)
			}
			err = CheckDockerLoad(in, false, tc.attest)
			if tc.input == "" {
				if err != nil {
					t.Errorf("want accepted, got %v", err)
				}
				return
			}
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("want one input error, got %v", err)
			}
			if errs[0].Input != tc.input || !strings.Contains(errs[0].Problem, buildxSays) || !strings.Contains(errs[0].Problem, tc.says) {
				t.Errorf("got %v; want input %q saying %q and %q", errs[0], tc.input, buildxSays, tc.says)
			}
		})
	}
}

func TestAttestationsInADockerTarballGetBuildxsError(t *testing.T) {
	in, err := Parse(env(map[string]string{"outputs": "type=docker,dest=/tmp/img.tar"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckDockerTarballs(in, nil); err != nil {
		t.Errorf("no attestations asked for: %v", err)
	}
	err = CheckDockerTarballs(in, []string{"sbom"})
	var e *Error
	if !errors.As(err, &e) || e.Input != "outputs" || !strings.Contains(e.Problem, "use the oci exporter instead") || !strings.Contains(e.Problem, "sbom asks for attestations") {
		t.Errorf("got %v, want buildx's error naming outputs and sbom", err)
	}
	in, _ = Parse(env(map[string]string{"outputs": "type=oci,dest=/tmp/img.tar"}))
	if err := CheckDockerTarballs(in, []string{"sbom"}); err != nil {
		t.Errorf("an oci tarball holds attestations: %v", err)
	}
}
