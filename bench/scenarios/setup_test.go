//go:build bench

package scenarios

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/builder"
)

// buildBinary builds the action binary as the release does (static, stripped). By default
// from the committed HEAD, so an engineer's half-saved file cannot end up in the numbers;
// WB_BENCH_SOURCE=worktree builds the working tree instead. It returns the binary's path
// and the source it came from, for the report.
func (b *bench) buildBinary() (path, source string) {
	t := b.t
	src := b.root
	commit := strings.TrimSpace(b.output(b.root, "git", "rev-parse", "--short", "HEAD"))
	source = commit
	if os.Getenv("WB_BENCH_SOURCE") == "worktree" {
		source = commit + " + working tree"
	} else {
		src = filepath.Join(b.work, "src")
		if err := os.MkdirAll(src, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("bash", "-c", "git archive --format=tar HEAD | tar -x -C \"$1\"", "bash", src)
		cmd.Dir = b.root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("export HEAD: %v\n%s", err, out)
		}
	}
	path = filepath.Join(b.work, "warmbuild")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", path, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the action binary: %v\n%s", err, out)
	}
	return path, source
}

func (b *bench) output(dir, name string, args ...string) string {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		b.t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out)
}

// busyboxImage is the dance's utility image. buildkit-cache-dance pulls a busybox
// (about 1 MB); the local mirror has none, and using python:3.11-slim instead would charge
// the dance a 50 MB base image pull it does not pay, so the bench makes one from Debian's
// busybox-static and pushes it to the local registry, once.
func (b *bench) busyboxImage() string {
	t := b.t
	ref := b.registry + "/bench/busybox:1.35-sh"
	req, _ := http.NewRequest(http.MethodHead, "http://"+b.registry+"/v2/bench/busybox/manifests/1.35-sh", nil)
	req.Header.Set("Accept", "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return ref
		}
	}
	dir := filepath.Join(b.work, "busybox")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	get := exec.CommandContext(ctx, "bash", "-c", "apt-get download busybox-static && dpkg-deb -x busybox-static_*.deb x && cp x/bin/busybox busybox && rm -rf x busybox-static_*.deb")
	get.Dir = dir
	if out, err := get.CombinedOutput(); err != nil {
		t.Fatalf("get Debian's busybox-static for the dance's utility image: %v\n%s", err, out)
	}
	// CMD as busybox images have: the real dance `docker create`s a container of its
	// extract image, which Docker refuses for an image with no command.
	dockerfile := "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nCMD [\"sh\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	runDir := filepath.Join(b.work, "busybox-runner")
	endpoint, stop := b.freshDaemon(runDir)
	defer stop()
	c, err := builder.Connect(ctx, builder.Endpoint{Address: endpoint})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = builder.Solve(ctx, c, builder.Request{ContextDir: dir, Dockerfile: filepath.Join(dir, "Dockerfile"),
		Exports: []client.ExportEntry{{Type: client.ExporterImage, Attrs: map[string]string{"name": ref, "push": "true"}}}})
	if err != nil {
		t.Fatalf("build the busybox utility image: %v", err)
	}
	b.progress("pushed the dance's utility image %s", ref)
	return ref
}
