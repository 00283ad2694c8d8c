// Command pyindex generates and serves a PEP 503 "simple" Python package index made of
// synthetic packages: the local stand-in for PyPI in warmbuild's tests (no pip on the host
// and no PyPI access needed).
//
//	pyindex generate -spec testdata/pypkgs/app.json -out DIR
//	pyindex serve -dir DIR -addr 127.0.0.1:3141 [-access-log]
//
// A spec lists distributions (wheels, or sdists whose setup.py sleeps while building, as a
// slow compiled package would); see Spec. Generation is deterministic, so file hashes are
// stable across runs and machines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pyindex:", err)
		stop()
		os.Exit(1)
	}
}

const usage = "usage: pyindex generate -spec FILE -out DIR | pyindex serve -dir DIR [-addr HOST:PORT] [-access-log]"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "generate":
		fs := flag.NewFlagSet("generate", flag.ContinueOnError)
		fs.SetOutput(stderr)
		spec := fs.String("spec", "", "package spec (JSON)")
		out := fs.String("out", "", "output directory (gets simple/ and files/)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *spec == "" || *out == "" {
			return errors.New("generate needs -spec and -out")
		}
		pkgs, err := loadSpec(*spec)
		if err != nil {
			return err
		}
		res, err := generate(ctx, pkgs, *out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "pyindex: %d projects, %d files, %.1f MB in %s\n",
			res.Projects, res.Files, float64(res.Bytes)/1e6, *out)
		return nil
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		fs.SetOutput(stderr)
		dir := fs.String("dir", "", "index directory written by generate")
		addr := fs.String("addr", "127.0.0.1:3141", "listen address")
		accessLog := fs.Bool("access-log", false, "log each request to stderr")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if *dir == "" {
			return errors.New("serve needs -dir")
		}
		if _, err := os.Stat(*dir + "/simple/index.html"); err != nil {
			return fmt.Errorf("serve: %s is not a generated index: %w", *dir, err)
		}
		var logw io.Writer
		if *accessLog {
			logw = stderr
		}
		return serve(ctx, *dir, *addr, logw, func(a net.Addr) {
			fmt.Fprintf(stdout, "pyindex: serving %s on http://%s/simple\n", *dir, a)
		})
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
}
