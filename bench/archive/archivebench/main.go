// Command archivebench times pkg/archive on a directory, for comparison with
// `tar | zstd` on the same machine (see ../run.sh and ../README.md).
//
//	archivebench write   -dir DIR -out FILE [-level fastest|default|better] [-j N]
//	archivebench extract -in FILE -dir DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/warmbuild/warmbuild/pkg/archive"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: archivebench write|extract [flags]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "archivebench:", err)
		os.Exit(1)
	}
}

func run(cmd string, args []string) error {
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	dir := fs.String("dir", "", "directory to archive or extract into")
	out := fs.String("out", "", "archive to write")
	in := fs.String("in", "", "archive to extract")
	level := fs.String("level", "fastest", "zstd level: fastest, default, better")
	jobs := fs.Int("j", 0, "compression goroutines (0: GOMAXPROCS)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx := context.Background()
	start := time.Now()
	var st archive.Stats
	switch cmd {
	case "write":
		lv, ok := map[string]zstd.EncoderLevel{"fastest": zstd.SpeedFastest, "default": zstd.SpeedDefault, "better": zstd.SpeedBetterCompression}[*level]
		if !ok {
			return fmt.Errorf("unknown level %q", *level)
		}
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		opts := []archive.WriteOption{archive.WithLevel(lv)}
		if *jobs > 0 {
			opts = append(opts, archive.WithConcurrency(*jobs))
		}
		st, err = archive.Write(ctx, f, *dir, opts...)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	case "extract":
		f, err := os.Open(*in)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err = archive.Extract(ctx, f, *dir, archive.Limits{})
		if err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	d := time.Since(start)
	fmt.Printf("%s: %d files, %.1f MB content, %.1f MB stream, %.2fs, %.0f MB/s\n",
		cmd, st.Files, float64(st.FileBytes)/1e6, float64(st.StreamBytes)/1e6, d.Seconds(), float64(st.FileBytes)/1e6/d.Seconds())
	return nil
}
