package buildrecord

import "testing"

// A first miss is annotated at its line: the step numbers BuildKit prints map to the lines
// of their instructions, per stage, with FROM counted unless scratch or an earlier stage.
func TestLinesFollowBuildKitsStepNumbers(t *testing.T) {
	df := []byte(`# syntax=docker/dockerfile:1
FROM python:3.12-slim AS builder
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements.txt .
RUN pip wheel -r requirements.txt \
    -w /wheels

FROM builder AS test
RUN pytest

FROM scratch
COPY --from=builder /wheels /wheels
`)
	got, err := Lines(df)
	if err != nil {
		t.Fatal(err)
	}
	want := map[StepKey]int{
		{"builder", 2}: 3, {"builder", 3}: 5, {"builder", 4}: 6,
		{"test", 1}:    10,
		{"stage-2", 1}: 13,
	}
	if len(got) != len(want) {
		t.Errorf("lines = %v, want %v", got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%+v at line %d, want %d (all: %v)", k, got[k], w, got)
		}
	}
	one, err := Lines([]byte("FROM alpine\nCOPY . .\nRUN make\n"))
	if err != nil || one[StepKey{"", 2}] != 2 || one[StepKey{"", 3}] != 3 {
		t.Errorf("one stage: %v %v", one, err)
	}
	// With a cache mount BuildKit names the one stage too: "[stage-0 3/5] COPY ...".
	if one[StepKey{"stage-0", 2}] != 2 || one[StepKey{"stage-0", 3}] != 3 {
		t.Errorf("one stage named stage-0 in the vertex names: %v", one)
	}
}
