package inputs

import (
	"maps"
	"testing"

	"github.com/docker/buildx/util/buildflags"
)

// Our parser must read buildx's syntax exactly as buildx does; buildflags is imported here,
// in a test only, so it costs the binary nothing.
func TestCacheSyntaxMatchesBuildx(t *testing.T) {
	for _, in := range []string{
		"type=registry,ref=ghcr.io/o/app:cache,mode=max",
		"ghcr.io/o/app:cache",
		"ghcr.io/o/app:cache,ghcr.io/o/app:cache2",
		"type=gha,scope=app,mode=max,ignore-error=true",
		"type=local,src=/tmp/cache",
		`type=s3,region=eu-west-1,bucket=b,"name=a,b"`,
		"TYPE=inline",
		"mode=max",
		"type=registry,broken",
	} {
		want, wantErr := buildflags.ParseCacheEntry([]string{in})
		got, gotErr := ParseCacheEntry(in)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%q: buildx error %v, ours %v", in, wantErr, gotErr)
			continue
		}
		if len(want) != len(got) {
			t.Errorf("%q: buildx %d entries, ours %d", in, len(want), len(got))
			continue
		}
		for i := range want {
			if want[i].Type != got[i].Type || !maps.Equal(want[i].Attrs, got[i].Attrs) || want[i].String() != got[i].String() {
				t.Errorf("%q: buildx %v (%s), ours %v (%s)", in, want[i], want[i].String(), got[i], got[i].String())
			}
		}
	}
}

func TestOutputSyntaxMatchesBuildx(t *testing.T) {
	for _, in := range []string{
		"type=local,dest=out", "out/dir", "-", "type=oci,dest=img.tar,name=a/b:c", "type=image,push=true",
		"type=registry", "dest=x", "type=docker,dest=x,\"annotation=a,b\"", "type=tar,broken",
	} {
		want, wantErr := buildflags.ParseExports([]string{in})
		got, gotErr := ParseExport(in)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%q: buildx error %v, ours %v", in, wantErr, gotErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		w := want[0]
		if w.Type != got.Type || w.Destination != got.Destination || !maps.Equal(w.Attrs, got.Attrs) {
			t.Errorf("%q: buildx %+v, ours %+v", in, w, got)
		}
	}
}

func TestContextNamesMatchBuildx(t *testing.T) {
	for _, in := range []string{"alpine=docker-image://alpine:3.20", "docker.io/library/alpine:latest=../x", "Bad Name=x", "novalue"} {
		want, wantErr := buildflags.ParseContextNames([]string{in})
		name, value, gotErr := ParseContextName(in)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%q: buildx error %v, ours %v", in, wantErr, gotErr)
			continue
		}
		if wantErr == nil && want[name] != value {
			t.Errorf("%q: buildx %v, ours %s=%s", in, want, name, value)
		}
	}
}
