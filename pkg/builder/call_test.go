package builder

import (
	"encoding/json"
	"testing"

	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
)

// metadata's buildx.build.warnings is buildx's shape, the one build-push-action reads
// (actions-toolkit src/types/buildkit/client.ts VertexWarning): short and detail base64,
// url, sourceInfo with filename and data, range with start lines.
func TestWarningsGoIntoMetadataInBuildxsShape(t *testing.T) {
	w := client.VertexWarning{
		Level: 1, Short: []byte("MaintainerDeprecated: Maintainer instruction is deprecated in favor of using label (line 4)"),
		Detail:     [][]byte{[]byte("The MAINTAINER instruction is deprecated, use a label instead to define an image author")},
		URL:        "https://docs.docker.com/go/dockerfile/rule/maintainer-deprecated/",
		SourceInfo: &pb.SourceInfo{Filename: "Dockerfile", Data: []byte("FROM x\n"), Language: "Dockerfile"},
		Range:      []*pb.Range{{Start: &pb.Position{Line: 4}, End: &pb.Position{Line: 4}}},
	}
	res := &Result{Metadata: map[string]any{}, Warnings: []client.VertexWarning{w}}
	addWarningsMetadata(Request{}, res)
	dt, err := json.Marshal(res.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string][]struct {
		Level      int      `json:"level"`
		Short      string   `json:"short"`
		Detail     []string `json:"detail"`
		URL        string   `json:"url"`
		SourceInfo struct {
			Filename, Data, Language string
		} `json:"sourceInfo"`
		Range []struct {
			Start struct{ Line int } `json:"start"`
		} `json:"range"`
	}
	if err := json.Unmarshal(dt, &got); err != nil {
		t.Fatalf("%v\n%s", err, dt)
	}
	ws := got["buildx.build.warnings"]
	if len(ws) != 1 {
		t.Fatalf("metadata %s", dt)
	}
	g := ws[0]
	// []byte is base64 in JSON, as buildx writes it and build-push-action atob()s it.
	if g.Level != 1 || g.Short != "TWFpbnRhaW5lckRlcHJlY2F0ZWQ6IE1haW50YWluZXIgaW5zdHJ1Y3Rpb24gaXMgZGVwcmVjYXRlZCBpbiBmYXZvciBvZiB1c2luZyBsYWJlbCAobGluZSA0KQ==" ||
		len(g.Detail) != 1 || g.URL != w.URL || g.SourceInfo.Filename != "Dockerfile" || g.SourceInfo.Data != "RlJPTSB4Cg==" || g.SourceInfo.Language != "Dockerfile" ||
		len(g.Range) != 1 || g.Range[0].Start.Line != 4 {
		t.Errorf("metadata warning %+v\n%s", g, dt)
	}

	// A call's metadata is its answer only, as buildx's (commands/build.go).
	call := &Result{Metadata: map[string]any{}, Warnings: []client.VertexWarning{w}}
	addWarningsMetadata(Request{Call: "lint"}, call)
	if _, ok := call.Metadata[WarningsMetadataKey]; ok {
		t.Errorf("a call's metadata carries warnings: %v", call.Metadata)
	}
}

// The push retry solves the same build again; its warnings are not reported twice.
func TestRetriedSolveDoesNotRepeatWarnings(t *testing.T) {
	w := func(line int32) client.VertexWarning {
		return client.VertexWarning{Short: []byte("X: y"), SourceInfo: &pb.SourceInfo{Filename: "Dockerfile"}, Range: []*pb.Range{{Start: &pb.Position{Line: line}}}}
	}
	got := appendNewWarnings([]client.VertexWarning{w(1)}, []client.VertexWarning{w(1), w(2)})
	if len(got) != 2 || got[1].Range[0].Start.Line != 2 {
		t.Errorf("got %+v", got)
	}
}
