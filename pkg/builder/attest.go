package builder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/content/proxy"
	slsa1 "github.com/in-toto/in-toto-golang/in_toto/slsa_provenance/v1"
	controlapi "github.com/moby/buildkit/api/services/control"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/identity"
	provenancetypes "github.com/moby/buildkit/solver/llbsolver/provenance/types"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// MetadataProvenance is how much of the provenance goes into the metadata output as
// buildx.build.provenance (buildx util/confutil/metadata.go, BUILDX_METADATA_PROVENANCE).
type MetadataProvenance string

const (
	MetadataProvenanceMin      MetadataProvenance = "min" // the default: no buildConfig, no metadata
	MetadataProvenanceMax      MetadataProvenance = "max"
	MetadataProvenanceDisabled MetadataProvenance = "disabled"
)

// ParseMetadataProvenance reads BUILDX_METADATA_PROVENANCE as buildx does
// (confutil.ParseMetadataProvenance): min, max, disabled or a false boolean; anything else
// is min.
func ParseMetadataProvenance(v string) MetadataProvenance {
	switch v {
	case "min", "max", "disabled":
		return MetadataProvenance(v)
	}
	if v == "0" || strings.EqualFold(v, "false") || v == "f" || v == "F" {
		return MetadataProvenanceDisabled
	}
	return MetadataProvenanceMin
}

// BuildRecord names a build's solves in BuildKit's build history. A build solves more than
// once when its push is retried (see Solve) or its SBOM scanner is missing: BuildKit refuses
// a ref it has seen ("job ID ... exists"), so each solve gets its own.
type BuildRecord struct {
	Ref string // the last solve's ref
}

// applyAttest adds the attestation requests (attest:<type> frontend attrs, resolved by
// inputs.Attestations.FrontendAttrs) and the build's ref to the solve, as buildx's
// build/opt.go toSolveOpt and build/build.go (so.Ref) do.
func applyAttest(req Request, so *client.SolveOpt) {
	for k, v := range req.Attests {
		so.FrontendAttrs[k] = v
	}
	if req.Record != nil {
		req.Record.Ref = identity.NewID()
		so.Ref = req.Record.Ref
	}
}

// withoutSBOM is req asking for no SBOM, for the build that runs again when the SBOM
// scanner could not be pulled.
func (req Request) withoutSBOM() Request {
	attrs := make(map[string]string, len(req.Attests))
	for k, v := range req.Attests {
		if k != "attest:sbom" {
			attrs[k] = v
		}
	}
	req.Attests = attrs
	return req
}

// SBOMGenerator is the scanner image an attest:sbom request runs: its generator attribute,
// or the Dockerfile frontend's default (moby/buildkit frontend/attestations/parse.go).
func (req Request) SBOMGenerator() string {
	v, ok := req.Attests["attest:sbom"]
	if !ok {
		return ""
	}
	for _, f := range strings.Split(v, ",") {
		if g, ok := strings.CutPrefix(strings.TrimSpace(f), "generator="); ok {
			return g
		}
	}
	return "docker/buildkit-syft-scanner:stable-1"
}

// ScannerUnavailable tells whether err is BuildKit failing a build because the SBOM scanner
// image of req could not be resolved or pulled (no registry access, the image missing).
func ScannerUnavailable(req Request, err error) bool {
	g := req.SBOMGenerator()
	if err == nil || g == "" {
		return false
	}
	var be *BuildError
	if errors.As(err, &be) && be.Line > 0 {
		return false // a Dockerfile instruction failed, not the scanner
	}
	name, _, _ := strings.Cut(g, "@")
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		name = name[:i]
	}
	return strings.Contains(err.Error(), name)
}

// SolveWithoutSBOM runs the build once more without the SBOM request; see ScannerUnavailable.
func SolveWithoutSBOM(ctx context.Context, c *client.Client, req Request, opts ...SolveOption) (*Result, error) {
	return Solve(ctx, c, req.withoutSBOM(), opts...)
}

// buildxResult adds what buildx adds to a finished build's result:
//   - the image ID is the config digest, or the image's digest when BuildKit gives no config
//     digest (an index: several platforms, or attestations), as buildx's iidfile
//     (commands/build.go getImageID), which is build-push-action's imageid output;
//   - the metadata keys buildx.build.ref (<builder>/<node>/<ref>, buildx build/build.go) and
//     buildx.build.provenance, the build's provenance read from BuildKit's build history
//     (buildx build/provenance.go, setRecordProvenance). A provenance that cannot be read
//     leaves the key out and says so on the progress writer: buildx fails the build
//     there, but the image is pushed by then.
func buildxResult(ctx context.Context, c *client.Client, req Request, res *Result, progress io.Writer) {
	if res.ImageID == "" {
		res.ImageID = res.Digest
	}
	if req.Record == nil || req.Record.Ref == "" {
		return
	}
	if res.Metadata == nil {
		res.Metadata = map[string]any{}
	}
	prefix := req.BuildRefPrefix
	if prefix == "" {
		prefix = "warmbuild/warmbuild0"
	}
	res.Metadata["buildx.build.ref"] = prefix + "/" + req.Record.Ref
	mode := req.MetadataProvenance
	if mode == "" {
		mode = MetadataProvenanceMin
	}
	if mode == MetadataProvenanceDisabled {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	prov, err := fetchProvenance(ctx, c, req.Record.Ref, mode)
	if err != nil {
		fmt.Fprintf(progress, "buildx.build.provenance not in metadata: %v\n", err)
		return
	}
	for k, v := range prov {
		res.Metadata[k] = v
	}
}

// fetchProvenance follows buildx build/provenance.go fetchProvenance: the build record's
// provenance attestation (per platform for a multi-platform build), read from BuildKit's
// content store, as base64 JSON of the SLSA v0.2 predicate.
func fetchProvenance(ctx context.Context, c *client.Client, ref string, mode MetadataProvenance) (map[string]any, error) {
	cl, err := c.ControlClient().ListenBuildHistory(ctx, &controlapi.BuildHistoryRequest{Ref: ref, EarlyExit: true})
	if err != nil {
		return nil, fmt.Errorf("build history: %w", err)
	}
	store := proxy.NewContentStore(c.ContentClient())
	out := map[string]any{}
	add := func(key string, res *controlapi.BuildResultInfo) error {
		desc, predicateType := lookupProvenance(res)
		if desc == nil {
			return nil
		}
		dt, err := content.ReadBlob(ctx, store, *desc)
		if err != nil {
			return fmt.Errorf("load provenance blob from build record: %w", err)
		}
		prv, err := encodeProvenance(dt, predicateType, mode)
		if err != nil {
			return err
		}
		out[key] = prv
		return nil
	}
	for {
		ev, err := cl.Recv()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("build history: %w", err)
		}
		if ev.Record == nil {
			continue
		}
		if len(ev.Record.Results) > 0 {
			for platform, r := range ev.Record.Results {
				if err := add("buildx.build.provenance/"+platform, r); err != nil {
					return nil, err
				}
			}
		} else if ev.Record.Result != nil {
			if err := add("buildx.build.provenance", ev.Record.Result); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func lookupProvenance(res *controlapi.BuildResultInfo) (*ocispecs.Descriptor, string) {
	for _, a := range res.Attestations {
		if a.MediaType == "application/vnd.in-toto+json" && strings.HasPrefix(a.Annotations["in-toto.io/predicate-type"], "https://slsa.dev/provenance/") {
			return &ocispecs.Descriptor{
				Digest:      digest.Digest(a.Digest),
				Size:        a.Size,
				MediaType:   a.MediaType,
				Annotations: a.Annotations,
			}, a.Annotations["in-toto.io/predicate-type"]
		}
	}
	return nil, ""
}

// encodeProvenance is buildx's: SLSA v1 converted to v0.2, min mode without buildConfig
// and metadata. buildx stores it base64-encoded in the exporter response, which its
// metadata file (and so build-push-action's metadata output) decodes back to JSON.
func encodeProvenance(dt []byte, predicateType string, mode MetadataProvenance) (json.RawMessage, error) {
	var pred *provenancetypes.ProvenancePredicateSLSA02
	if predicateType == slsa1.PredicateSLSAProvenance {
		var pred1 *provenancetypes.ProvenancePredicateSLSA1
		if err := json.Unmarshal(dt, &pred1); err != nil {
			return nil, fmt.Errorf("unmarshal provenance: %w", err)
		}
		pred = pred1.ConvertToSLSA02()
	} else if err := json.Unmarshal(dt, &pred); err != nil {
		return nil, fmt.Errorf("unmarshal provenance: %w", err)
	}
	if mode == MetadataProvenanceMin {
		pred.BuildConfig = nil
		pred.Metadata = nil
	}
	out, err := json.Marshal(pred)
	if err != nil {
		return nil, fmt.Errorf("marshal provenance: %w", err)
	}
	return out, nil
}
