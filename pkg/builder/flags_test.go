package builder

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moby/buildkit/session/sshforward/sshprovider"
	"golang.org/x/crypto/ssh"
)

// The flags reach BuildKit as buildx hands them over: frontend attributes, the solve's
// entitlements and an SSH agent provider in the session.
func TestFlagsReachTheSolve(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "key")
	if err := os.WriteFile(key, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	req := Request{
		ContextDir: dir, Dockerfile: filepath.Join(dir, "Dockerfile"), DockerConfigDir: t.TempDir(),
		FlagAttrs:    map[string]string{"force-network-mode": "host", "shm-size": "1024"},
		Entitlements: []string{"network.host", "security.insecure"},
		SSH:          []SSH{{ID: "deploy", Paths: []string{key}}},
	}
	so, err := solveOpt(req, solveConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if so.FrontendAttrs["force-network-mode"] != "host" || so.FrontendAttrs["shm-size"] != "1024" || so.FrontendAttrs["filename"] != "Dockerfile" {
		t.Errorf("frontend attrs %v", so.FrontendAttrs)
	}
	if !slices.Equal(so.AllowedEntitlements, []string{"network.host", "security.insecure"}) {
		t.Errorf("entitlements %v", so.AllowedEntitlements)
	}
	want, _ := sshprovider.NewSSHAgentProvider([]sshprovider.AgentConfig{{ID: "deploy", Paths: []string{key}}})
	found := false
	for _, a := range so.Session {
		if sameType(a, want) {
			found = true
		}
	}
	if !found {
		t.Errorf("no SSH agent provider in the session: %T", so.Session)
	}

	none, err := solveOpt(Request{ContextDir: dir, Dockerfile: filepath.Join(dir, "Dockerfile"), DockerConfigDir: t.TempDir()}, solveConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range none.Session {
		if sameType(a, want) {
			t.Errorf("an SSH agent provider without ssh input")
		}
	}
	if len(none.AllowedEntitlements) != 0 {
		t.Errorf("entitlements without flags: %v", none.AllowedEntitlements)
	}
}

// sameType tells an attachable of sshprovider's kind from the others (its type is unexported).
func sameType(a, b any) bool { return fmt.Sprintf("%T", a) == fmt.Sprintf("%T", b) }
