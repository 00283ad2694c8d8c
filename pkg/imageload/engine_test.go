//go:build e2e

package imageload

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/internal/stackenv"
)

// Tests against the local stack's Docker Engine (scripts/stack/docker.sh).

func stackEngine(t *testing.T) *Engine {
	t.Helper()
	env, err := stackenv.Read()
	if err == nil && env["DOCKER_HOST"] == "" {
		err = fmt.Errorf("the stack's env names no DOCKER_HOST")
	}
	if err != nil {
		if os.Getenv("WARMBUILD_REQUIRE_STACK") == "1" {
			t.Fatalf("local stack: %v", err)
		}
		t.Skipf("local stack not up: %v", err)
	}
	e, err := Open(context.Background(), env["DOCKER_HOST"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// layerTar writes a layer: one file of size bytes of zeros.
func layerTar(w io.Writer, size int64) error {
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(&tar.Header{Name: "big", Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	if _, err := io.CopyN(tw, zeros{}, size); err != nil {
		return err
	}
	return tw.Close()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// writeDockerArchive writes `docker save`'s format (manifest.json, config, layer tar) of a
// one-layer image named ref, generating the layer as it goes: nothing is held in memory.
func writeDockerArchive(w io.Writer, ref string, layerSize int64) error {
	h, n := sha256.New(), &counter{}
	if err := layerTar(io.MultiWriter(h, n), layerSize); err != nil {
		return err
	}
	diffID := "sha256:" + hex.EncodeToString(h.Sum(nil))
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH, "os": "linux",
		"config": map[string]any{"Cmd": []string{"/big"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffID}},
	})
	sum := sha256.Sum256(config)
	configName := hex.EncodeToString(sum[:]) + ".json"
	manifest, _ := json.Marshal([]map[string]any{{"Config": configName, "RepoTags": []string{ref}, "Layers": []string{"layer/layer.tar"}}})

	tw := tar.NewWriter(w)
	file := func(name string, size int64, body func(io.Writer) error) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		return body(tw)
	}
	bytesOf := func(b []byte) func(io.Writer) error {
		return func(w io.Writer) error { _, err := w.Write(b); return err }
	}
	if err := file(configName, int64(len(config)), bytesOf(config)); err != nil {
		return err
	}
	if err := file("layer/layer.tar", n.n, func(w io.Writer) error { return layerTar(w, layerSize) }); err != nil {
		return err
	}
	if err := file("manifest.json", int64(len(manifest)), bytesOf(manifest)); err != nil {
		return err
	}
	return tw.Close()
}

// A 256 MiB image streamed into the Engine is loaded under its name, and the process's
// heap stays far below the image's size while it goes through.
func TestAnImageStreamedIntoTheEngineIsLoadedWithFlatMemory(t *testing.T) {
	e := stackEngine(t)
	ref := fmt.Sprintf("warmbuild-e2e/imageload:%d", time.Now().UnixNano())
	host := e.Host()
	t.Cleanup(func() { exec.Command("/usr/bin/docker", "-H", host, "rmi", "-f", ref).Run() })

	const size = 256 << 20
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	ld := e.NewLoad(context.Background(), nil)
	start := time.Now()
	werr := writeDockerArchive(ld, ref, size)
	cerr := ld.Close()
	close(stop)
	<-sampled
	if werr != nil || cerr != nil {
		t.Fatalf("write %v, close %v", werr, cerr)
	}
	t.Logf("loaded %d MiB in %s; peak heap in use %.1f MiB", size>>20, time.Since(start).Round(time.Millisecond), float64(peak.Load())/(1<<20))
	if got := ld.Loaded(); len(got) != 1 || got[0] != ref {
		t.Errorf("Loaded() = %q, want [%s]", got, ref)
	}
	out, err := exec.Command("/usr/bin/docker", "-H", host, "image", "inspect", "-f", "{{.Size}}", ref).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != fmt.Sprint(size) {
		t.Errorf("docker image inspect %s: %s %v, want size %d", ref, out, err, size)
	}
	if peak.Load() > 64<<20 {
		t.Errorf("peak heap %d MiB while loading a %d MiB image: the tarball is being buffered", peak.Load()>>20, size>>20)
	}
}

// A tarball the Engine cannot read fails the load with the Engine's own error.
func TestATarballTheEngineRefusesFailsTheLoad(t *testing.T) {
	e := stackEngine(t)
	ld := e.NewLoad(context.Background(), nil)
	if _, err := io.WriteString(ld, "this is no tar archive"); err != nil {
		t.Fatalf("write: %v", err)
	}
	err := ld.Close()
	if err == nil || !strings.Contains(err.Error(), e.Host()) || !strings.Contains(err.Error(), "unexpected EOF") {
		t.Errorf("Close() = %v, want the Engine's refusal, naming the Engine", err)
	}
}
