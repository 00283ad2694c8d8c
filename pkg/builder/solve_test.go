package builder

import (
	"errors"
	"fmt"
	"testing"
)

func TestPushRaceIsToldApartFromOtherFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{
			// As BuildKit v0.34 reported it in CI, the image and its registry cache
			// both uploading the base layer to one repository.
			name: "manifest refused for a layer not yet in the repository",
			err: errors.New("failed to solve: failed to push 127.0.0.1:5000/e2e/app:1.0: errors:\n" +
				"unknown: provided digest did not match uploaded content\n" +
				"unknown: blob unknown to registry - sha256:827e365ea312db0d40db6c3e046885bb79d9d2f59dd79d6602b60108d00ad617"),
			want: "blob unknown to registry",
		},
		{
			name: "commit digest differs from the content",
			err: fmt.Errorf("solve: %w", errors.New(`failed to push r/app:1: failed commit on ref "layer-sha256:5fc8": `+
				`unexpected commit digest sha256:e581, expected sha256:5fc8: failed precondition`)),
			want: "unexpected commit digest",
		},
		{
			name: "upload session refused",
			err:  errors.New("failed to push r/app:1: blob upload invalid"),
			want: "blob upload invalid",
		},
		{name: "no credentials", err: errors.New("failed to push ghcr.io/o/app:1: unauthorized: authentication required")},
		{name: "registry down", err: errors.New("failed to push r/app:1: dial tcp 127.0.0.1:5000: connect: connection refused")},
		{name: "a RUN that prints the words", err: errors.New(`process "/bin/sh -c echo blob unknown to registry; exit 1" did not complete successfully: exit code: 1`)},
		{name: "no error"},
	} {
		if got := pushRace(tc.err); got != tc.want {
			t.Errorf("%s: pushRace = %q, want %q", tc.name, got, tc.want)
		}
	}
}
