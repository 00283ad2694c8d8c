package mountcache

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/inputs"
)

func TestKeyNamesMountPlatformAndHash(t *testing.T) {
	for _, tc := range []struct {
		cacheID, platform, hash, want string
	}{
		{"//root/.cache/pip", "linux/amd64", "0123456789abcdef", "warmbuild-mount-root-.cache-pip-linux-amd64-0123456789abcdef"},
		{"/shop-pip", "linux/arm/v7", "abc", "warmbuild-mount-shop-pip-linux-arm-v7-abc"},
		{"shop//home/app/.cache/pip", "linux/arm64", "abc", "warmbuild-mount-shop-home-app-.cache-pip-linux-arm64-abc"},
		{"/id,with,commas and spaces", "linux/amd64", "h,a,s,h", "warmbuild-mount-id-with-commas-and-spaces-linux-amd64-h-a-s-h"},
		{"/", "", "", "warmbuild-mount-none-none-"},
	} {
		m := Mount{CacheID: tc.cacheID}
		if got := Key(m, tc.platform, tc.hash); got != tc.want {
			t.Errorf("Key(%q, %q, %q) = %q, want %q", tc.cacheID, tc.platform, tc.hash, got, tc.want)
		}
		if rk := RestoreKey(m, tc.platform); !strings.HasPrefix(Key(m, tc.platform, tc.hash), rk) || !strings.HasSuffix(rk, "-") {
			t.Errorf("restore key %q is not the key's prefix", rk)
		}
	}
}

func TestKeyStaysWithinServiceLimits(t *testing.T) {
	long := "/" + strings.Repeat("very-long-directory-name/", 60)
	other := long + "x"
	k1 := Key(Mount{CacheID: long}, "linux/amd64", strings.Repeat("f", 200))
	k2 := Key(Mount{CacheID: other}, "linux/amd64", strings.Repeat("f", 200))
	if len(k1) > 512 || strings.Contains(k1, ",") {
		t.Errorf("key of %d chars: %q", len(k1), k1)
	}
	if k1 == k2 {
		t.Errorf("two long ids that differ only at the end share a key")
	}
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestHashFilesFollowsRequirementContent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"requirements.txt":         "flask==3.0.0\n",
		"requirements-dev.txt":     "pytest\n",
		"dev-requirements.txt":     "ruff\n",
		"poetry-requirements.txt":  "poetry==2.0\n",
		"constraints.txt":          "urllib3<3\n",
		"requirements/base.txt":    "requests\n",
		"src/app/requirements.txt": "not matched by the default patterns\n",
		"README.md":                "irrelevant",
	})
	defaults := hashGlobs(t) // none given: the defaults
	h1, err := HashFiles(ctx, dir, defaults)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h1.Files, " "); got != "constraints.txt dev-requirements.txt poetry-requirements.txt requirements-dev.txt requirements.txt requirements/base.txt" || h1.None || len(h1.Hash) != 16 {
		t.Fatalf("%+v", h1)
	}

	// Unrelated files do not change the hash; the same files in any pattern order do not either.
	writeFiles(t, dir, map[string]string{"README.md": "changed", "src/app/requirements.txt": "changed"})
	reversed := append([]string{}, inputs.DefaultHashFiles...)
	for i, j := 0, len(reversed)-1; i < j; i, j = i+1, j-1 {
		reversed[i], reversed[j] = reversed[j], reversed[i]
	}
	h2, err := HashFiles(ctx, dir, hashGlobs(t, append(reversed, "requirements.txt")...))
	if err != nil {
		t.Fatal(err)
	}
	if h2.Hash != h1.Hash {
		t.Errorf("hash moved without a dependency change: %s -> %s", h1.Hash, h2.Hash)
	}

	writeFiles(t, dir, map[string]string{"requirements/base.txt": "requests==2.32.0\n"})
	h3, _ := HashFiles(ctx, dir, defaults)
	if h3.Hash == h1.Hash {
		t.Errorf("hash did not change with requirements/base.txt")
	}

	// Moving content between files changes the hash even though the bytes are the same.
	dir2 := t.TempDir()
	writeFiles(t, dir2, map[string]string{"requirements.txt": "flask==3.0.0\npytest\n", "requirements-dev.txt": ""})
	h4, _ := HashFiles(ctx, dir2, defaults)
	dir3 := t.TempDir()
	writeFiles(t, dir3, map[string]string{"requirements.txt": "flask==3.0.0\n", "requirements-dev.txt": "pytest\n"})
	h5, _ := HashFiles(ctx, dir3, defaults)
	if h4.Hash == h5.Hash {
		t.Errorf("file boundaries are not part of the hash")
	}
}

func TestHashFilesWithNoMatchSaysSo(t *testing.T) {
	h, err := HashFiles(context.Background(), t.TempDir(), hashGlobs(t))
	if err != nil {
		t.Fatal(err)
	}
	if !h.None || h.Hash != NoFilesHash || len(h.Files) != 0 {
		t.Errorf("%+v", h)
	}
}

func TestHashFilesStaysInsideTheContext(t *testing.T) {
	outside := t.TempDir()
	writeFiles(t, outside, map[string]string{"secret.txt": "outside the context"})
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"requirements.txt": "x\n"})
	if err := os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "requirements-evil.txt")); err != nil {
		t.Fatal(err)
	}
	h, err := HashFiles(context.Background(), dir, hashGlobs(t, "requirements*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(h.Files, " ") != "requirements.txt" {
		t.Errorf("hashed a file outside the context through a symlink: %v", h.Files)
	}
	// Patterns that reach outside the context are refused by inputs.ParseHashGlobs.
}

// A delta's key finds it when its content's key is restored, and names its base.
func TestDeltaKeyNamesItsBase(t *testing.T) {
	m := Mount{ID: "/root/.cache/pip", CacheID: "/root/.cache/pip"}
	rk := RestoreKey(m, "linux/amd64")
	key, base := Key(m, "linux/amd64", "aaaa1111bbbb2222"), Key(m, "linux/amd64", "cccc3333dddd4444")
	d, ok := DeltaKey(key, base, rk)
	if !ok || !strings.HasPrefix(d, key) {
		t.Fatalf("DeltaKey = %q, %v; want a key that %q prefixes", d, ok, key)
	}
	if got := BaseKey(d, rk); got != base {
		t.Errorf("BaseKey(%q) = %q, want %q", d, got, base)
	}
	if got := DeltaBaseOf(d); got != base {
		t.Errorf("DeltaBaseOf(%q) = %q, want %q", d, got, base)
	}
	if BaseKey(key, rk) != "" || DeltaBaseOf(base) != "" {
		t.Errorf("a full entry's key names no base")
	}
	if !CompletesKey(d, key) || !CompletesKey(key, key) || CompletesKey(base, key) {
		t.Errorf("CompletesKey: a delta and the key itself complete the key, another key does not")
	}
	if _, ok := DeltaKey(key, "warmbuild-mount-other-linux-amd64-cccc", rk); ok {
		t.Errorf("a base of another mount must be refused")
	}
	if _, ok := DeltaKey(d, base, rk); ok {
		t.Errorf("a delta of a delta must be refused: bases are full entries")
	}
}

// hashGlobs parses mount-cache-hash-files patterns as pkg/inputs does for the workflow.
func hashGlobs(t *testing.T, patterns ...string) inputs.HashGlobs {
	t.Helper()
	g, err := inputs.ParseHashGlobs(patterns...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// The cleanup lists a saved key's siblings by PrunePrefix: the same mount and platform,
// whatever the hash, and a delta's key (hash+base) has the same prefix as its base.
func TestPrunePrefix(t *testing.T) {
	m := Mount{ID: "pip", CacheID: "pip"}
	key := Key(m, "linux/amd64", "abc123")
	rk := RestoreKey(m, "linux/amd64")
	delta, ok := DeltaKey(Key(m, "linux/amd64", "def456"), key, rk)
	if !ok {
		t.Fatal("no delta key")
	}
	for _, k := range []string{key, delta} {
		if got := PrunePrefix(k); got != rk {
			t.Errorf("PrunePrefix(%s) = %s, want %s", k, got, rk)
		}
	}
	if got := PrunePrefix(Key(m, "linux/arm/v7", "abc123")); got == rk {
		t.Errorf("another platform's key has this platform's prefix %s", got)
	}
}
