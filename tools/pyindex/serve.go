package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path"
	"strings"
	"time"
)

// indexHandler serves a generated index directory. Distribution files are immutable (their
// names carry the version and the index pins their sha256), and pip's HTTP cache only keeps
// responses with cacheable headers, so files say so; index pages may change and get 10 minutes.
func indexHandler(dir string, accessLog io.Writer) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean(r.URL.Path)
		switch {
		case strings.HasPrefix(p, "/files/"):
			w.Header().Set("Cache-Control", "max-age=31536000, immutable")
			w.Header().Set("Content-Type", distContentType(p))
		default:
			w.Header().Set("Cache-Control", "max-age=600")
			if strings.HasSuffix(r.URL.Path, "/") || strings.HasSuffix(p, ".html") {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
			}
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		files.ServeHTTP(sw, r)
		if accessLog != nil {
			fmt.Fprintf(accessLog, "%s %s %d\n", r.Method, r.URL.Path, sw.status)
		}
	})
}

// distContentType mirrors what PyPI's file host sends; never a Content-Encoding, which would
// make pip unpack the .tar.gz on the fly.
func distContentType(p string) string {
	switch {
	case strings.HasSuffix(p, ".whl"):
		return "application/zip"
	case strings.HasSuffix(p, ".tar.gz"):
		return "application/x-tar"
	default:
		return "application/octet-stream"
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// serve serves dir on addr until ctx is done, then shuts down gracefully. ready, if not nil,
// receives the bound address once the listener is open.
func serve(ctx context.Context, dir, addr string, accessLog io.Writer, ready func(net.Addr)) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("serve %s: %w", dir, err)
	}
	srv := &http.Server{
		Handler:           indexHandler(dir, accessLog),
		ReadHeaderTimeout: 10 * time.Second,
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", dir, err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("serve %s: shutdown: %w", dir, err)
	}
	return nil
}
