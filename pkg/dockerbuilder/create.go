package dockerbuilder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	dockerclient "github.com/moby/moby/client"
)

// OwnBuilderName is the stable name of the builder warmbuild creates for an image: later
// steps of the job (and later jobs on a self-hosted runner) find it again, and a step asking
// for another BuildKit image gets a builder of its own instead of silently reusing this one.
func OwnBuilderName(image string) string {
	if image == "" || image == DefaultImage {
		return AutoBuilderName
	}
	sum := sha256.Sum256([]byte(image))
	return AutoBuilderName + "-" + hex.EncodeToString(sum[:4])
}

// useOwnBuilder finds warmbuild's builder container or creates it the way
// docker/setup-buildx-action's docker-container builder is made (buildx
// driver/docker-container/driver.go create): container buildx_buildkit_<name>0 running the
// BuildKit image, its state in the volume buildx_buildkit_<name>0_state, restarted unless
// stopped, with an init process. It stays running after the step, for the next one.
func useOwnBuilder(ctx context.Context, d *dockerclient.Client, o Options) (Info, error) {
	name := OwnBuilderName(o.Image)
	cname := ContainerName(name)
	info := Info{Builder: name, Container: cname, Image: o.Image}

	ctr, err := d.ContainerInspect(ctx, cname, dockerclient.ContainerInspectOptions{})
	if err == nil {
		info.Mode = ModeReused
		info.Image = ctr.Container.Config.Image
		o.Logf("Reusing builder %s (container %s, image %s)", name, cname, info.Image)
		info.Started, err = ensureRunning(ctx, d, ctr.Container, o)
		return info, err
	}
	if !cerrdefs.IsNotFound(err) {
		return Info{}, fmt.Errorf("inspect builder container %s: %w", cname, err)
	}

	knob := o.Env.Security
	sec, err := securityFromEnv(knob)
	if err != nil {
		return Info{}, err
	}
	if err := ensureImage(ctx, d, o.Image, o.Logf); err != nil {
		return Info{}, err
	}
	created, err := createContainer(ctx, d, name, o, sec)
	if err != nil {
		return Info{}, err
	}
	if !created {
		// Another step created it between our inspect and create: use theirs.
		info.Mode = ModeReused
		o.Logf("Reusing builder %s (container %s), created concurrently", name, cname)
		ctr, err := d.ContainerInspect(ctx, cname, dockerclient.ContainerInspectOptions{})
		if err != nil {
			return Info{}, fmt.Errorf("inspect builder container %s: %w", cname, err)
		}
		info.Started, err = ensureRunning(ctx, d, ctr.Container, o)
		return info, err
	}
	info.Mode, info.Started = ModeCreated, true
	_, err = d.ContainerStart(ctx, cname, dockerclient.ContainerStartOptions{})
	if err != nil && knob == "" {
		// Some hosts refuse privileged containers ("unable to apply caps" where the bounding
		// set lacks a capability). Nobody asked for privileged explicitly: try the nearest
		// thing such hosts allow before giving up.
		o.Logf("Docker could not start a privileged builder (%v); retrying %s", err, SecurityUnconfined)
		if _, rmErr := d.ContainerRemove(ctx, cname, dockerclient.ContainerRemoveOptions{Force: true}); rmErr != nil {
			return Info{}, fmt.Errorf("start builder container %s: %w (and removing it failed: %v)", cname, err, rmErr)
		}
		sec = SecurityUnconfined
		if _, err = createContainer(ctx, d, name, o, sec); err == nil {
			_, err = d.ContainerStart(ctx, cname, dockerclient.ContainerStartOptions{})
		}
	}
	if err != nil {
		return Info{}, fmt.Errorf("start builder container %s (%s): %w", cname, sec, err)
	}
	o.Logf("Created builder %s (container %s, image %s, %s)", name, cname, o.Image, sec)
	return info, waitReady(ctx, d, cname, o.readyWindow)
}

// createContainer creates the builder's container; false when one of that name exists.
func createContainer(ctx context.Context, d *dockerclient.Client, name string, o Options, sec Security) (bool, error) {
	cname := ContainerName(name)
	cfg, hc := containerSpec(name, o.Image, sec, o.Env.Network)
	_, err := d.ContainerCreate(ctx, dockerclient.ContainerCreateOptions{Name: cname, Config: cfg, HostConfig: hc})
	switch {
	case cerrdefs.IsConflict(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("create builder container %s from %s: %w", cname, o.Image, err)
	}
	return true, nil
}

// Security is how much the created builder container may do.
type Security string

const (
	// SecurityPrivileged is what buildx and setup-buildx-action use, and what RUN steps need
	// on GitHub's runners.
	SecurityPrivileged Security = "privileged"
	// SecurityUnconfined is for hosts that refuse privileged containers: every capability but
	// SYS_RESOURCE, no seccomp, AppArmor or masked /proc paths, and the cgroup tree writable
	// (BuildKit's runc needs it for RUN steps under cgroup v1).
	SecurityUnconfined Security = "unconfined"
)

func securityFromEnv(v string) (Security, error) {
	switch Security(v) {
	case "", SecurityPrivileged:
		return SecurityPrivileged, nil
	case SecurityUnconfined:
		return SecurityUnconfined, nil
	}
	return "", fmt.Errorf("%s=%q: want %s or %s", EnvSecurity, v, SecurityPrivileged, SecurityUnconfined)
}

// containerSpec is the builder container's configuration.
func containerSpec(name, image string, sec Security, network string) (*container.Config, *container.HostConfig) {
	useInit := true // reaps processes BuildKit's container API leaves (as buildx)
	cfg := &container.Config{
		Image:  image,
		Labels: map[string]string{labelBuilder: name},
		// setup-buildx-action's default buildkitd-flags.
		Cmd: []string{"--allow-insecure-entitlement", "security.insecure", "--allow-insecure-entitlement", "network.host"},
	}
	hc := &container.HostConfig{
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyUnlessStopped},
		Init:          &useInit,
		Mounts: []mount.Mount{{
			Type:   mount.TypeVolume,
			Source: ContainerName(name) + stateSuffix,
			Target: "/var/lib/buildkit",
		}},
	}
	switch sec {
	case SecurityUnconfined:
		hc.CapAdd = []string{"ALL"}
		hc.CapDrop = []string{"SYS_RESOURCE"}
		hc.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined"}
		// The CLI's --security-opt systempaths=unconfined, which the API takes as empty lists.
		hc.MaskedPaths, hc.ReadonlyPaths = []string{}, []string{}
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: "/sys/fs/cgroup", Target: "/sys/fs/cgroup"})
	default:
		hc.Privileged = true
	}
	if network == "" {
		// Host networking, as buildx's driver-opt network=host: builds reach what the job
		// publishes on localhost (a `services:` registry on localhost:5000, act's host-network
		// jobs). A privileged builder gains little isolation from a bridge anyway.
		network = "host"
	}
	hc.NetworkMode = container.NetworkMode(network)
	return cfg, hc
}

// ensureImage uses the BuildKit image if Docker has it and pulls it otherwise (a local image
// keeps start-up fast and lets machines without a registry use a locally made one).
func ensureImage(ctx context.Context, d *dockerclient.Client, image string, logf func(string, ...any)) error {
	if _, err := d.ImageInspect(ctx, image); err == nil {
		return nil
	} else if !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("inspect BuildKit image %s: %w", image, err)
	}
	logf("Pulling BuildKit image %s", image)
	resp, err := d.ImagePull(ctx, image, dockerclient.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pull BuildKit image %s (input buildkit-image): %w", image, err)
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("pull BuildKit image %s (input buildkit-image): %w", image, err)
	}
	_, _ = io.Copy(io.Discard, resp)
	return nil
}
