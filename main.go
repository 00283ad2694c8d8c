// Command warmbuild is the warmbuild GitHub Action: it builds a Docker image on BuildKit
// with warm layer and mount caches, and reports what hit. main only wires; see pkg/run.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/warmbuild/warmbuild/pkg/mounthelper"
	"github.com/warmbuild/warmbuild/pkg/run"
)

func main() {
	// Inside a helper build the binary fills or reads a cache mount instead.
	if code, ok := mounthelper.RunHelper(context.Background(), os.Args[1:], os.Stdout, os.Stderr); ok {
		os.Exit(code)
	}
	// Caches stream through fixed buffers, but Go's default GC lets the heap grow to twice
	// the live data between collections; a soft limit keeps the process small (the goal is
	// under 100 MB) at the cost of a few more collections. GOMEMLIMIT overrides it.
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(64 << 20)
	}
	// The runner sends SIGTERM when a job is cancelled: stop the build cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run.Main(ctx, run.Env{Getenv: os.Getenv, Stdout: os.Stdout})
	stop()
	os.Exit(code)
}
