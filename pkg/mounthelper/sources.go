package mounthelper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// Inside the build the helper can download a restored entry itself: the storage URLs
// the action's lookup returned are signed, so they need no token, and fetching them
// from the RUN spares the two hops through the action and the daemon's session that a
// forwarded stream takes. The URLs reach the RUN as a BuildKit secret (never an
// argument, a layer or a log line) and this is the form the helper reads them in.

// SourcesPrefix marks mount-inject's ARCHIVE argument as a JSON file of
// cacheservice.Source, the full entry first, its delta (if any) after it.
const SourcesPrefix = "sources:"

// BaseManifestName is the file mount-inject writes to its OUTDIR in sources mode: the
// manifest of the first (full) archive, on which a later save can store a delta.
const BaseManifestName = "base-manifest.json"

// Statuses of mount-inject besides "injected" and "kept".
const StatusUnreachable = "unreachable" // the storage cannot be reached from the RUN; nothing was written

// Transfer settings inside the build: 4 parallel ranges of 8 MiB. Each range is a request
// with its own fixed cost at the storage, so halving their number matters more than the
// buffers: 330 MB from Azurite took 1.2 s in 4 MiB ranges and 0.55 s in 8 MiB ones (16 MiB
// gained nothing more). The helper is not the action's process, whose transfers keep to
// 4 MiB blocks for its memory goal; 32 MiB of buffers in the build are fine.
var helperDownloadOptions = []cacheservice.Option{cacheservice.WithParallelism(4), cacheservice.WithBlockSize(8 << 20)}

func readSources(p string) ([]cacheservice.Source, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var srcs []cacheservice.Source
	if err := json.Unmarshal(b, &srcs); err != nil {
		return nil, fmt.Errorf("read the sources: %w", err)
	}
	if len(srcs) == 0 {
		return nil, errors.New("no sources")
	}
	return srcs, nil
}

// injectSources downloads the sources one after another into an extraction of dir,
// listing the first archive on the way into outDir/BaseManifestName.
func injectSources(ctx context.Context, sourcesFile, dir, outDir string) (InjectReport, error) {
	srcs, err := readSources(sourcesFile)
	if err != nil {
		return InjectReport{}, err
	}
	if rep, kept, err := keptMount(ctx, dir); err != nil || kept {
		return rep, err
	}
	d, err := cacheservice.NewDownloader(helperDownloadOptions...)
	if err != nil {
		return InjectReport{}, err
	}
	if err := d.Reachable(ctx, srcs[0], 10*time.Second); err != nil {
		return InjectReport{Status: StatusUnreachable, Reason: redactSources(err.Error(), srcs)}, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	first := d.Open(ctx, srcs[0])
	defer first.Close()
	listed, wait := archive.ListWhileReading(ctx, first, archive.Limits{})
	parts := []io.Reader{listed}
	for _, s := range srcs[1:] {
		rc := d.Open(ctx, s)
		defer rc.Close()
		parts = append(parts, rc)
	}
	st, err := archive.Extract(ctx, io.MultiReader(parts...), dir, archive.Limits{})
	base, lerr := wait()
	if err != nil {
		msg := redactSources(err.Error(), srcs)
		if cerr := emptyDir(dir); cerr != nil {
			return InjectReport{}, fmt.Errorf("%s (and cleaning the cache mount failed: %v)", msg, cerr)
		}
		return InjectReport{}, fmt.Errorf("%s; the cache mount was left empty", msg)
	}
	rep := InjectReport{Status: "injected", PathsDigest: PathsDigest(st.Manifest), Files: st.Manifest.Files, Bytes: st.Manifest.Bytes, StreamBytes: st.StreamBytes}
	if lerr == nil && outDir != "" {
		b, err := json.Marshal(base)
		if err == nil {
			err = os.MkdirAll(outDir, 0o755)
		}
		if err == nil {
			err = os.WriteFile(filepath.Join(outDir, BaseManifestName), b, 0o644)
		}
		if err != nil {
			return InjectReport{}, fmt.Errorf("write the base manifest: %w", err)
		}
	}
	return rep, nil
}

// redactSources removes the sources' URLs (their signatures are credentials) from msg,
// which Go's HTTP errors quote in full.
func redactSources(msg string, srcs []cacheservice.Source) string {
	for _, s := range srcs {
		u, err := url.Parse(s.URL)
		if err != nil {
			msg = strings.ReplaceAll(msg, s.URL, "<storage URL>")
			continue
		}
		if u.RawQuery != "" {
			msg = strings.ReplaceAll(msg, u.RawQuery, "<redacted>")
			msg = strings.ReplaceAll(msg, url.QueryEscape(u.RawQuery), "<redacted>")
		}
	}
	return cacheservice.Redact(msg)
}
