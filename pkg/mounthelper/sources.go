package mounthelper

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/warmbuild/warmbuild/pkg/archive"
	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// Inside the build the helper can download a restored entry itself: the storage URLs
// the action's lookup returned are signed, so they need no token, and fetching them
// from the RUN spares the two hops through the action and the daemon's session that a
// forwarded stream takes. The URLs reach the RUN as a BuildKit secret (never an
// argument, a layer or a log line) and this is the form the helper reads them in.

// Transfer settings inside the build: 8 parallel ranges of 8 MiB. Each range is a request
// with its own fixed cost at the storage, so halving their number matters more than the
// buffers: 330 MB from Azurite took 1.2 s in 4 MiB ranges and 0.55 s in 8 MiB ones (16 MiB
// gained nothing more). Eight at once, as actions/toolkit downloads (downloadCacheStorageSDK,
// concurrency 8): one connection to a far storage carries a fraction of the link, and four
// of them left the bench's far profile at 73 MB/s of its 125. The helper is not the action's
// process, whose transfers keep to 4 MiB blocks for its memory goal; 72 MiB of buffers in
// the build are fine.
var helperDownloadOptions = []cacheservice.Option{cacheservice.WithParallelism(8), cacheservice.WithBlockSize(8 << 20)}

func readSources(p string) ([]cacheservice.Source, error) {
	var srcs []cacheservice.Source
	if err := readJSON(p, &srcs); err != nil {
		return nil, fmt.Errorf("read the sources: %w", err)
	}
	if len(srcs) == 0 {
		return nil, errors.New("no sources")
	}
	if len(srcs) > maxSources {
		return nil, fmt.Errorf("%d sources, at most %d", len(srcs), maxSources)
	}
	for i, s := range srcs {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || s.Size < -1 {
			// Not quoted: the URL is signed.
			return nil, fmt.Errorf("source %d is not an http(s) URL with a size", i)
		}
	}
	return srcs, nil
}

// injectSources downloads the sources one after another into an extraction of dir,
// listing the first archive on the way: base is its manifest (nil when listing it
// failed), on which a later save can store a delta.
//
// When controlPath is a socket (Request.ControlSocket), an URL the storage
// refuses as expired is replaced by a fresh one the action asks the service for.
func injectSources(ctx context.Context, sourcesFile, dir, controlPath string) (rep InjectReport, base *archive.Manifest, err error) {
	srcs, err := readSources(sourcesFile)
	if err != nil {
		return InjectReport{}, nil, err
	}
	if rep, kept, err := keptMount(ctx, dir); err != nil || kept {
		return rep, nil, err
	}
	d, err := cacheservice.NewDownloader(helperDownloadOptions...)
	if err != nil {
		return InjectReport{}, nil, err
	}
	var ref *refresher
	if fi, err := os.Stat(controlPath); controlPath != "" && err == nil && fi.Mode()&os.ModeSocket != 0 {
		ref = &refresher{path: controlPath}
		defer ref.close()
	}
	redact := func(msg string) string {
		if ref != nil {
			for _, u := range ref.urls() {
				msg = redactSources(msg, []cacheservice.Source{{URL: u}})
			}
		}
		return redactSources(msg, srcs)
	}
	err = d.Reachable(ctx, srcs[0], 10*time.Second)
	var se *cacheservice.StatusError
	if ref != nil && errors.As(err, &se) && (se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden) {
		// Expired before the build got to it: a fresh URL, then the same check.
		var u string
		if u, err = ref.fresh(ctx, 0); err == nil {
			srcs[0].URL = u
			err = d.Reachable(ctx, srcs[0], 10*time.Second)
		}
	}
	if err != nil {
		return InjectReport{Status: InjectUnreachable, Reason: redact(err.Error())}, nil, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// A broken download shows as a cut archive to the extraction; dlErr keeps the cause.
	var dlErr error
	var dlMu sync.Mutex
	open := func(i int) io.ReadCloser {
		var rc io.ReadCloser
		if ref == nil {
			rc = d.Open(ctx, srcs[i])
		} else {
			rc = d.OpenRefreshing(ctx, srcs[i], func(ctx context.Context) (string, error) { return ref.fresh(ctx, i) })
		}
		return readErrorOf(rc, func(err error) {
			dlMu.Lock()
			dlErr = cmp.Or(dlErr, err)
			dlMu.Unlock()
		})
	}
	first := open(0)
	defer first.Close()
	listed, wait := archive.ListWhileReading(ctx, first, archive.Limits{})
	parts := []io.Reader{listed}
	for i := range srcs[1:] {
		rc := open(i + 1)
		defer rc.Close()
		parts = append(parts, rc)
	}
	st, err := archive.Extract(ctx, io.MultiReader(parts...), dir, archive.Limits{})
	listedBase, lerr := wait()
	if err != nil {
		dlMu.Lock()
		if dlErr != nil {
			err = fmt.Errorf("download: %w", dlErr)
		}
		dlMu.Unlock()
		msg := redact(err.Error())
		if cerr := emptyDir(dir); cerr != nil {
			return InjectReport{}, nil, fmt.Errorf("%s (and cleaning the cache mount failed: %v)", msg, cerr)
		}
		return InjectReport{}, nil, fmt.Errorf("%s; the cache mount was left empty", msg)
	}
	rep = InjectReport{Status: InjectInjected, PathsDigest: PathsDigest(st.Manifest), Files: st.Manifest.Files, Bytes: st.Manifest.Bytes, StreamBytes: st.StreamBytes}
	if lerr == nil {
		base = &listedBase
	}
	return rep, base, nil
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

// readErrorOf passes rc's reads through and hands a read error other than EOF to
// report.
func readErrorOf(rc io.ReadCloser, report func(error)) io.ReadCloser {
	return &errorTap{ReadCloser: rc, report: report}
}

type errorTap struct {
	io.ReadCloser
	report func(error)
}

func (t *errorTap) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		t.report(err)
	}
	return n, err
}
