package run

import (
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/buildrecord"
	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
	"github.com/warmbuild/warmbuild/pkg/inputs"
	"github.com/warmbuild/warmbuild/pkg/layercache"
)

// A gha run's build record is uploaded while BuildKit exports and committed once the
// layer cache is known saved: the next run reads it then, and never when the export
// failed.
func TestTheBuildRecordIsUploadedDuringTheExportAndReadOnlyOnceTheLayerCacheIsSaved(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{ProxyBlobs: true}) // counts the uploads
	svc, err := cacheservice.Detect(srv.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	f := newRecordFixture(t)
	gha := func(out *strings.Builder) *runner {
		r := f.newRunner(out)
		r.plan.CacheService = svc
		r.plan.Decision = cachepolicy.Decision{Save: true}
		entry := &inputs.CacheEntry{Type: layercache.BackendGHA, Attrs: map[string]string{"scope": "main"}}
		r.plan.LayerCache = layercache.Plan{Backend: "gha", ReadScopes: []string{"main"},
			Imports: inputs.CacheEntries{entry}, Exports: inputs.CacheEntries{entry}}
		return r
	}
	client, err := cacheservice.Open(svc)
	if err != nil {
		t.Fatal(err)
	}
	read := func() *buildrecord.Record {
		rec, err := buildrecord.ServiceStore{Client: client}.Read(t.Context(), "main")
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}

	// The first run's layer cache export fails, leaving its record uploaded and never
	// committed (the service then answers its key 409, as a saved one); the next two save.
	for i, saved := range []bool{false, true, true} {
		var out strings.Builder
		puts := len(srv.CallsTo(cachetest.PutBlob))
		r := gha(&out)
		stage := r.stageRecordAtExport(t.Context())
		if stage == nil {
			t.Fatal("a gha run that saves stages no record")
		}
		steps := f.steps(2)
		stage(steps) // BuildKit started exporting
		<-r.stagedRecord.done
		uploaded := len(srv.CallsTo(cachetest.PutBlob)) - puts
		if i < 2 && uploaded != 1 {
			t.Fatalf("run %d: %d uploads while BuildKit exported, want the record's one\n%s", i, uploaded, out.String())
		}
		if i == 2 && uploaded != 0 {
			t.Errorf("run %d, the build unchanged: the record was uploaded again", i)
		}
		if rec := read(); i == 0 && rec != nil {
			t.Fatalf("run %d: the next run reads a record before its commit", i)
		}
		finalizes := len(srv.CallsTo(cachetest.FinalizeCacheEntryUpload))
		r.res.CacheSaved = saved // the layer cache export succeeded or failed
		r.saveBuildRecord(t.Context(), steps)
		if got, want := len(srv.CallsTo(cachetest.FinalizeCacheEntryUpload))-finalizes, uploaded; got != want && saved || got != 0 && !saved {
			t.Errorf("run %d (layer cache saved %v): %d finalize calls after the build", i, saved, got)
		}
		if rec := read(); (rec != nil) != saved {
			t.Errorf("run %d (layer cache saved %v): record found %v\n%s", i, saved, rec != nil, out.String())
		}
	}
}

// A step BuildKit reported only after the export started makes a record other than the
// staged one: the build's record is then written whole after the build.
func TestARecordStagedFromOtherStepsIsNotTheOneCommitted(t *testing.T) {
	f := newRecordFixture(t)
	staged := &stagedRecord{done: make(chan struct{}), steps: f.steps(2), rec: &buildrecord.Record{}}
	close(staged.done)
	if staged.wait(f.steps(3)) == nil {
		t.Fatal("the same steps, other cache hits: the staged record is the build's")
	}
	more := f.steps(2)
	more.Steps = append(more.Steps, more.Steps[0])
	more.Steps[3].Name = "[5/5] RUN late"
	if staged.wait(more) != nil {
		t.Error("a step the staged record lacks: it was used")
	}
}
