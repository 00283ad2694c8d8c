// Command cacheserver runs the GitHub Actions cache service v2 test server (twirp front,
// blobs in the stack's Azurite) outside `go test`, for the local demo: it writes the
// ACTIONS_* variables a runner would give a container action to -env-file, then serves
// until it is stopped.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

func main() {
	envFile := flag.String("env-file", "", "write ACTIONS_RESULTS_URL and ACTIONS_RUNTIME_TOKEN here")
	flag.Parse()
	if err := run(*envFile); err != nil {
		fmt.Fprintln(os.Stderr, "cacheserver:", err)
		os.Exit(1)
	}
}

func run(envFile string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	url := cachetest.StackValue("AZURITE_BLOB_URL")
	if url == "" {
		return fmt.Errorf("AZURITE_BLOB_URL is not set (run scripts/stack/up.sh)")
	}
	az, err := cachetest.ConnectAzurite(ctx, url)
	if err != nil {
		return err
	}
	token := cachetest.RuntimeToken("refs/heads/main")
	srv, err := cachetest.NewV2(ctx, az, cachetest.V2Options{Token: token, Scopes: []string{"refs/heads/main"}})
	if err != nil {
		return err
	}
	defer srv.Close()
	env := fmt.Sprintf("ACTIONS_RESULTS_URL=%s\nACTIONS_RUNTIME_TOKEN=%s\n", srv.URL(), token)
	if envFile != "" {
		if err := os.WriteFile(envFile+".tmp", []byte(env), 0o600); err != nil {
			return err
		}
		if err := os.Rename(envFile+".tmp", envFile); err != nil {
			return err
		}
	}
	fmt.Printf("cache service v2 at %s\n", srv.URL())
	<-ctx.Done()
	return nil
}
