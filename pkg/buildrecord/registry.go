package buildrecord

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// MediaType is a registry build record's artifact type and the media type of its one
// layer, the record's JSON.
const MediaType = "application/vnd.warmbuild.buildrecord.v1+json"

// TagSuffix ends the tag of a registry cache's build record: the record of
// ghcr.io/org/cache:buildcache-app-main is ghcr.io/org/cache:buildcache-app-main.warmbuild-record.
const TagSuffix = ".warmbuild-record"

// maxManifestBytes bounds the record's manifest as read from a registry: it is a few
// hundred bytes; anything much larger under the record's tag is not one.
const maxManifestBytes = 64 << 10

// maxTagLen is the longest tag the OCI distribution spec allows ([\w][\w.-]{0,127}).
const maxTagLen = 128

// RegistryStore keeps the record of a registry cache beside it, in the cache's own
// repository: a small OCI artifact (an image manifest whose artifactType is MediaType,
// the empty config, and the record as its one layer) tagged RecordRef(cache ref). The
// scope a RegistryStore reads and writes is the cache's ref, as in its type=registry entry.
//
// It talks to the registry with containerd's resolver, the one BuildKit pushes the cache
// with, set up as buildkitd is by default: HTTPS, plain HTTP for loopback hosts only
// (moby/buildkit util/resolver/resolver.go, fillInsecureOpts: docker.MatchLocalhost), and
// the token or basic auth a registry's challenge asks for with Credentials.
type RegistryStore struct {
	// Credentials answers a registry host's login ("" "" for none); an empty username
	// makes the secret an identity (refresh) token (builder.RegistryAuth.Credentials).
	Credentials func(ctx context.Context, host string) (username, secret string, err error)
	// Client is the HTTP client; nil: containerd's default transport (proxies from the
	// environment).
	Client *http.Client
	// Insecure is the cache entry's registry.insecure attribute: as BuildKit does for it
	// (moby/buildkit cache/remotecache/registry/registry.go, registryConfig), HTTPS without
	// verifying the certificate, falling back to plain HTTP.
	Insecure bool
}

// RecordRef is the ref of the build record of the registry cache cacheRef: the same
// repository, the cache's tag (BuildKit's default "latest" without one) and TagSuffix; a
// tag past 128 characters is cut and keeps a hash of the whole, so two long tags stay
// apart.
func RecordRef(cacheRef string) (string, error) {
	named, err := reference.ParseNormalizedNamed(cacheRef)
	if err != nil {
		return "", fmt.Errorf("cache ref %q: %w", cacheRef, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", fmt.Errorf("cache ref %q: a digest, not a tag", cacheRef)
	}
	tag := "latest"
	if t, ok := named.(reference.Tagged); ok {
		tag = t.Tag()
	}
	if len(tag)+len(TagSuffix) > maxTagLen {
		sum := sha256.Sum256([]byte(tag))
		tag = tag[:maxTagLen-len(TagSuffix)-9] + "-" + hex.EncodeToString(sum[:4])
	}
	return named.Name() + ":" + tag + TagSuffix, nil
}

func (s RegistryStore) resolver(ctx context.Context) remotes.Resolver {
	client := s.Client
	if client == nil {
		client = &http.Client{Transport: docker.DefaultHTTPTransport(nil)}
		if s.Insecure {
			client.Transport = docker.NewHTTPFallback(docker.DefaultHTTPTransport(&tls.Config{InsecureSkipVerify: true}))
		}
	}
	creds := func(host string) (string, string, error) {
		if s.Credentials == nil {
			return "", "", nil
		}
		return s.Credentials(ctx, host)
	}
	authz := docker.NewDockerAuthorizer(docker.WithAuthClient(client), docker.WithAuthCreds(creds))
	return docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(
		docker.WithClient(client), docker.WithAuthorizer(authz), docker.WithPlainHTTP(docker.MatchLocalhost),
	)})
}

// Read returns the record beside the registry cache cacheRef, nil when there is none.
// Everything from the registry is untrusted: the manifest is bounded and must be a
// record's, the record is bounded (Decode) and must match its digest.
func (s RegistryStore) Read(ctx context.Context, cacheRef string) (*Record, error) {
	ref, err := RecordRef(cacheRef)
	if err != nil {
		return nil, err
	}
	res := s.resolver(ctx)
	fetcher, layer, _, err := s.resolve(ctx, res, ref)
	if err != nil || fetcher == nil {
		return nil, err
	}
	rc, err := fetcher.Fetch(ctx, layer)
	if err != nil {
		return nil, fmt.Errorf("build record %s: %w", ref, err)
	}
	defer rc.Close()
	verifier := layer.Digest.Verifier()
	rec, err := Decode(io.TeeReader(io.LimitReader(rc, layer.Size), verifier))
	if err != nil {
		return nil, fmt.Errorf("build record %s: %w", ref, err)
	}
	if !verifier.Verified() {
		return nil, fmt.Errorf("build record %s: content does not match its digest %s", ref, layer.Digest)
	}
	return rec, nil
}

// resolve finds the record manifest at ref: a fetcher and the record's layer, and the
// manifest's descriptor; a nil fetcher when the tag does not exist. A tag holding
// anything else is an error (errNotARecord).
func (s RegistryStore) resolve(ctx context.Context, res remotes.Resolver, ref string) (remotes.Fetcher, ocispec.Descriptor, ocispec.Descriptor, error) {
	var none ocispec.Descriptor
	_, desc, err := res.Resolve(ctx, ref)
	if errdefs.IsNotFound(err) {
		return nil, none, none, nil
	}
	if err != nil {
		return nil, none, none, fmt.Errorf("build record %s: %w", ref, err)
	}
	if desc.MediaType != ocispec.MediaTypeImageManifest || desc.Size > maxManifestBytes {
		return nil, none, desc, fmt.Errorf("build record %s: %w (%s, %d bytes)", ref, errNotARecord, desc.MediaType, desc.Size)
	}
	fetcher, err := res.Fetcher(ctx, ref)
	if err != nil {
		return nil, none, desc, fmt.Errorf("build record %s: %w", ref, err)
	}
	rc, err := fetcher.Fetch(ctx, desc)
	if err != nil {
		return nil, none, desc, fmt.Errorf("build record %s: %w", ref, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxManifestBytes+1))
	if err != nil {
		return nil, none, desc, fmt.Errorf("build record %s: %w", ref, err)
	}
	layer, err := recordLayer(data, desc.Digest)
	if err != nil {
		return nil, none, desc, fmt.Errorf("build record %s: %w", ref, err)
	}
	return fetcher, layer, desc, nil
}

// recordLayer checks a manifest read from a registry (untrusted) under a record's tag and
// returns the record's layer: the bytes must match the digest the registry named, and be a
// record's manifest with one layer of at most MaxBytes.
func recordLayer(data []byte, dgst digest.Digest) (ocispec.Descriptor, error) {
	var none ocispec.Descriptor
	if len(data) > maxManifestBytes {
		return none, fmt.Errorf("%w (a manifest over %d bytes)", errNotARecord, maxManifestBytes)
	}
	if digest.FromBytes(data) != dgst {
		return none, fmt.Errorf("manifest does not match its digest %s", dgst)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return none, fmt.Errorf("%w: %v", errNotARecord, err)
	}
	if m.MediaType != ocispec.MediaTypeImageManifest || m.ArtifactType != MediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != MediaType {
		return none, fmt.Errorf("%w (artifact type %q)", errNotARecord, m.ArtifactType)
	}
	layer := m.Layers[0]
	if layer.Size < 0 || layer.Size > MaxBytes || layer.Digest.Validate() != nil {
		return none, fmt.Errorf("a layer of %d bytes, digest %q", layer.Size, layer.Digest)
	}
	return ocispec.Descriptor{MediaType: layer.MediaType, Digest: layer.Digest, Size: layer.Size}, nil
}

var errNotARecord = errors.New("the tag holds something other than a warmbuild build record")

// Write pushes r beside the registry cache cacheRef with the registry's credentials:
// its blobs, then its manifest under the record's tag. An unchanged record is not pushed
// again; a tag that holds anything but a record (an image, a cache of a branch whose
// name ends like the suffix) is never overwritten.
func (s RegistryStore) Write(ctx context.Context, cacheRef string, r *Record) error {
	ref, err := RecordRef(cacheRef)
	if err != nil {
		return err
	}
	var b bytes.Buffer // a record is small: hashes and names, bounded by Decode's limits
	if err := r.Encode(&b); err != nil {
		return err
	}
	layer := ocispec.Descriptor{MediaType: MediaType, Digest: digest.FromBytes(b.Bytes()), Size: int64(b.Len())}
	config := ocispec.DescriptorEmptyJSON
	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, ArtifactType: MediaType,
		Config: ocispec.Descriptor{MediaType: config.MediaType, Digest: config.Digest, Size: config.Size},
		Layers: []ocispec.Descriptor{layer},
	})
	if err != nil {
		return err
	}
	mdesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromBytes(manifest), Size: int64(len(manifest))}

	res := s.resolver(ctx)
	fetcher, _, existing, err := s.resolve(ctx, res, ref)
	if errors.Is(err, errNotARecord) {
		return fmt.Errorf("not overwritten: %w", err)
	}
	// Any other trouble reading the old record is no reason not to write the new one.
	if fetcher != nil && existing.Digest == mdesc.Digest {
		return nil
	}
	pusher, err := res.Pusher(ctx, ref)
	if err != nil {
		return fmt.Errorf("build record %s: %w", ref, err)
	}
	for _, c := range []struct {
		desc ocispec.Descriptor
		data []byte
	}{{config, config.Data}, {layer, b.Bytes()}, {mdesc, manifest}} {
		if err := push(ctx, pusher, c.desc, c.data); err != nil {
			return fmt.Errorf("build record %s: push %s: %w", ref, c.desc.MediaType, err)
		}
	}
	return nil
}

// push uploads one blob or manifest; one the registry already has is done.
func push(ctx context.Context, p remotes.Pusher, desc ocispec.Descriptor, data []byte) error {
	desc.Data = nil
	w, err := p.Push(ctx, desc)
	if errdefs.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer w.Close()
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Commit(ctx, desc.Size, desc.Digest); err != nil && !errdefs.IsAlreadyExists(err) {
		return err
	}
	return nil
}
