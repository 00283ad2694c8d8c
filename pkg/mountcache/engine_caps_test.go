package mountcache

import (
	"context"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/mounthelper"
)

// caps (issue 18): each mount pruned to its ecosystem's cap, what each mount costs of the
// repository's quota, and the platform each directory belongs to.

func maxSizeOf(t *testing.T, raw string) inputs.MountMaxSize {
	t.Helper()
	m, err := inputs.ParseMountMaxSize(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckEcosystems(EcosystemNames()); err != nil {
		t.Fatal(err)
	}
	return m
}

// A pip mount and an npm mount in one Dockerfile.
const pipNpmDockerfile = "FROM python:3.12-slim\nCOPY requirements.txt .\n" +
	"RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n" +
	"RUN --mount=type=cache,target=/root/.npm npm ci\n"

// mount-cache-max-size: 2GiB, npm=256MiB prunes npm's mount to 256 MiB and pip's to
// 2 GiB; the outcome and the log say which cap applied.
func TestEnginePrunesEachMountToItsEcosystemsCap(t *testing.T) {
	f := newFixture(t, pipNpmDockerfile, "auto")
	f.req.MaxSize = maxSizeOf(t, "2GiB, npm=256MiB")
	f.helper.extract.PrunedFiles, f.helper.extract.PrunedBytes = 5, 3<<20
	res := f.restore(t).Save(context.Background(), okBuild)
	if len(res.Mounts) != 2 || res.Mounts[0].Ecosystem != "pip" || res.Mounts[1].Ecosystem != "npm" {
		t.Fatalf("mounts %+v; want pip's then npm's", res.Mounts)
	}
	if len(f.helper.extracts) != 2 || f.helper.extracts[0].maxBytes != 2<<30 || f.helper.extracts[1].maxBytes != 256<<20 {
		t.Fatalf("extracts %+v; want pip's pruned to 2 GiB, npm's to 256 MiB", f.helper.extracts)
	}
	for i, want := range []int64{2 << 30, 256 << 20} {
		p := res.Mounts[i].Pruned
		if p == nil || p.Files != 5 || p.Bytes != 3<<20 || p.MaxBytes != want {
			t.Errorf("%s: pruned %+v, want 5 files, 3 MiB under %d", res.Mounts[i].ID, p, want)
		}
	}
	if f.log.index("info: Mount cache /root/.npm: pruned 5 least recently used files (3.0 MiB) to stay under 256.0 MiB (mount-cache-max-size for npm)") < 0 {
		t.Errorf("log:\n%s", f.log)
	}
	// Nothing pruned, nothing said.
	g := newFixture(t, pipDockerfile, "auto")
	if ms := only(t, g.restore(t).Save(context.Background(), okBuild)); ms.Pruned != nil {
		t.Errorf("pruned %+v with nothing pruned", ms.Pruned)
	}
}

// What each mount takes of the repository's 10 GB once the run is done: the entry saved
// (with the full entry a delta completes), or the entry restored, which stays.
func TestEngineQuotaBytes(t *testing.T) {
	baseManifest := &archive.Manifest{Files: 3, Digest: "sha256:base"}
	cases := []struct {
		name  string
		setup func(t *testing.T, f *fixture)
		want  int64 // -1: unknown
	}{
		{"a miss saved in full holds what was saved", nil, 11},
		{"a partial hit saved in full replaces the restored entry", func(t *testing.T, f *fixture) {
			f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("old entry")}}
		}, 11},
		{"a delta holds the full entry it completes and itself", func(t *testing.T, f *fixture) {
			f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("old entry")}}
			f.helper.manifest = baseManifest
			f.helper.extract = mounthelper.ExtractResult{Status: mounthelper.ExtractDelta, Files: 9, DeltaFiles: 2, DeltaBytes: 2048}
		}, 9 + 11},
		{"an exact hit keeps its entry", func(t *testing.T, f *fixture) {
			f.req.LayerCacheHoldsSteps = true
			f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + hashOf(t, f), data: []byte("old")}}
		}, 3},
		{"a run that saves nothing leaves the restored entry", func(t *testing.T, f *fixture) {
			f.req.Save, f.req.SaveReason = false, "pull request"
			f.store.entries = []*fakeEntry{{key: f.restoreKey(t) + "aaa", data: []byte("old entry")}}
		}, 9},
		{"a miss not saved holds nothing", func(t *testing.T, f *fixture) { f.req.Save, f.req.SaveReason = false, "pull request" }, 0},
		{"another run's entry is of a size not known", func(t *testing.T, f *fixture) { f.store.exists = true }, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, pipDockerfile, "auto")
			if c.setup != nil {
				c.setup(t, f)
			}
			ms := only(t, f.restore(t).Save(context.Background(), okBuild))
			switch {
			case c.want < 0 && ms.QuotaBytes != nil:
				t.Errorf("quota %d, want unknown", *ms.QuotaBytes)
			case c.want >= 0 && (ms.QuotaBytes == nil || *ms.QuotaBytes != c.want):
				t.Errorf("quota %v, want %d (hit %s, save %s/%s)", ms.QuotaBytes, c.want, ms.Hit, ms.SaveStatus, ms.SaveReason)
			}
		})
	}
}

// mount-cache-report's platform: a platform's own directory names it, one every platform
// shares says all, a single-platform build names its platform.
func TestEngineReportsEachDirectorysPlatform(t *testing.T) {
	cases := []struct {
		name, dockerfile string
		platforms        []string
		want             []string
	}{
		{"a directory per platform", crossDockerfile, twoPlatforms, []string{"linux/amd64", "linux/arm64"}},
		{"one directory every platform shares", sharedDockerfile, twoPlatforms, []string{PlatformAll}},
		{"a single-platform build", crossDockerfile, []string{"linux/arm64"}, []string{"linux/arm64"}},
		{"a directory two of three platforms share", "FROM --platform=$BUILDPLATFORM alpine:3.20 AS build\nARG TARGETOS\n" +
			"RUN --mount=type=cache,id=work-$TARGETOS,target=/cache echo $TARGETOS > /cache/seen\n",
			[]string{"linux/amd64", "linux/arm64", "windows/amd64"}, []string{"linux/amd64,linux/arm64", "windows/amd64"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, c.dockerfile, "all")
			f.req.Platform, f.req.Platforms = "", c.platforms
			res := f.restore(t).Save(context.Background(), okBuild)
			var got []string
			for _, ms := range res.Mounts {
				got = append(got, ms.Platform)
			}
			if len(got) != len(c.want) {
				t.Fatalf("platforms %q, want %q (warnings %v)", got, c.want, res.Warnings)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("platforms %q, want %q", got, c.want)
				}
			}
		})
	}
}
