package builder

import (
	"bytes"
	"context"
	"maps"
	"slices"

	"github.com/moby/buildkit/client"
	gateway "github.com/moby/buildkit/frontend/gateway/client"
)

// solveOrCall runs the build: a dockerfile.v0 solve, or for a call (Request.Call) the
// frontend's subrequest through the gateway, as buildx does it (docker/buildx
// build/build.go: c.Build with a gateway Solve of the same frontend and attributes plus
// requestid=frontend.<name> and the subrequests+forward capability; the answer is the
// result's metadata, merged into the exporter response). A call exports nothing: a
// subrequest's result holds no image, only the answer.
func solveOrCall(ctx context.Context, c *client.Client, call string, so *client.SolveOpt, statusCh chan *client.SolveStatus) (*client.SolveResponse, map[string]string, error) {
	if call == "" {
		resp, err := c.Solve(ctx, nil, *so, statusCh)
		return resp, nil, err
	}
	req := gateway.SolveRequest{Frontend: so.Frontend, FrontendOpt: maps.Clone(so.FrontendAttrs)}
	if caps, ok := req.FrontendOpt["frontend.caps"]; ok {
		req.FrontendOpt["frontend.caps"] = caps + ",moby.buildkit.frontend.subrequests+forward"
	} else {
		req.FrontendOpt["frontend.caps"] = "moby.buildkit.frontend.subrequests+forward"
	}
	req.FrontendOpt["requestid"] = "frontend." + call
	opt := *so
	opt.Frontend = ""
	opt.Exports, opt.CacheExports = nil, nil
	var answer map[string][]byte
	resp, err := c.Build(ctx, opt, "warmbuild", func(ctx context.Context, gc gateway.Client) (*gateway.Result, error) {
		res, err := gc.Solve(ctx, req)
		if err != nil {
			return nil, err
		}
		answer = res.Metadata
		return res, nil
	}, statusCh)
	if err != nil {
		return resp, nil, err
	}
	out := make(map[string]string, len(answer))
	if resp.ExporterResponse == nil {
		resp.ExporterResponse = map[string]string{}
	}
	for k, v := range answer {
		out[k] = string(v)
		resp.ExporterResponse[k] = string(v)
	}
	return resp, out, nil
}

// WarningsMetadataKey is the metadata key buildx writes the build's warnings under
// (docker/buildx commands/build.go, with BUILDX_METADATA_WARNINGS, which
// build-push-action sets): []client.VertexWarning as JSON.
const WarningsMetadataKey = "buildx.build.warnings"

// addWarningsMetadata puts the build's warnings into the metadata as buildx does: for a
// build (not a call), when there are any.
func addWarningsMetadata(req Request, res *Result) {
	if req.Call != "" || len(res.Warnings) == 0 {
		return
	}
	res.Metadata[WarningsMetadataKey] = res.Warnings
}

// appendNewWarnings appends the warnings of a second solve of the same build (the push
// retry) that the first did not report: the frontend reports its checks on every solve.
func appendNewWarnings(have, more []client.VertexWarning) []client.VertexWarning {
	for _, w := range more {
		if !slices.ContainsFunc(have, func(h client.VertexWarning) bool { return sameWarning(h, w) }) {
			have = append(have, w)
		}
	}
	return have
}

func sameWarning(a, b client.VertexWarning) bool {
	if !bytes.Equal(a.Short, b.Short) || a.URL != b.URL || len(a.Range) != len(b.Range) {
		return false
	}
	if (a.SourceInfo == nil) != (b.SourceInfo == nil) || (a.SourceInfo != nil && a.SourceInfo.Filename != b.SourceInfo.Filename) {
		return false
	}
	for i := range a.Range {
		if a.Range[i].GetStart().GetLine() != b.Range[i].GetStart().GetLine() {
			return false
		}
	}
	return true
}
