package builder

import (
	"context"
	"errors"
	"testing"

	"github.com/tonistiigi/fsutil"
)

// The frontend reads the context's .dockerignore before it converts the Dockerfile; only
// the transfer of the context itself is held.
func TestOnlyTheContextTransferIsHeldNotItsDockerignoreNorOtherDirectories(t *testing.T) {
	held := errors.New("held")
	hook := holdContext(t.Context(), func(context.Context) error { return held })
	for _, tc := range []struct {
		dir    string
		follow []string
		held   bool
	}{
		{dir: "context", held: true},
		{dir: "context", follow: []string{"requirements.txt"}, held: true},
		{dir: "context", follow: []string{".dockerignore", "app"}, held: true},
		{dir: "context", follow: []string{".dockerignore"}},
		{dir: "context", follow: []string{"Dockerfile.dockerignore", "sub/.dockerignore"}},
		{dir: "dockerfile"},
		{dir: "ctx-wbin"},
	} {
		err := hook(tc.dir, &fsutil.FilterOpt{FollowPaths: tc.follow})
		if (err == held) != tc.held {
			t.Errorf("%s %v: held %v, want %v", tc.dir, tc.follow, err == held, tc.held)
		}
	}
}
