package inputs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// env builds a getenv that answers like the runner: INPUT_<NAME> for inputs, plus any
// extra variables given as "NAME=value".
func env(inputs map[string]string, extra ...string) func(string) string {
	m := map[string]string{}
	for k, v := range inputs {
		m[InputEnv(k)] = v
	}
	for _, kv := range extra {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return func(k string) string { return m[k] }
}

func TestDefaultsMatchBuildPushAction(t *testing.T) {
	in, err := Parse(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if in.Context != "." || in.File != "Dockerfile" || in.Push || in.NoCache || in.Pull {
		t.Errorf("defaults: context=%q file=%q push=%v no-cache=%v pull=%v", in.Context, in.File, in.Push, in.NoCache, in.Pull)
	}
	if in.Cache.Mode != "max" || !in.Cache.Auto || !in.MountCache.Select.Auto() || in.MountCache.MaxSize.For("pip") != 2<<30 || in.MountCache.MaxSize.String() != "2GiB" || in.MountCache.Keep != 1 {
		t.Errorf("cache defaults: %+v %+v", in.Cache, in.MountCache)
	}
}

func TestFileDefaultsToContextDockerfile(t *testing.T) {
	in, err := Parse(env(map[string]string{"context": "services/api"}))
	if err != nil {
		t.Fatal(err)
	}
	if in.File != filepath.Join("services/api", "Dockerfile") {
		t.Errorf("file = %q", in.File)
	}
}

func TestListsReadLikeBuildPushAction(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secretFile, []byte("s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := Parse(env(map[string]string{
		"tags":           "reg.example/app:1.0,reg.example/app:latest\nreg.example/app:sha-abc",
		"platforms":      "linux/amd64,linux/arm64",
		"build-args":     "A=1\nB=x,y\n\n# a comment\nFROM_ENV",
		"labels":         "org.opencontainers.image.title=app",
		"cache-from":     "type=registry,ref=reg.example/app:cache\nreg.example/app:cache2",
		"cache-to":       "type=gha,mode=max,scope=app",
		"secrets":        "GIT_AUTH_TOKEN=abc\n\"MULTI=line1\nline2\"",
		"secret-files":   "npmrc=" + secretFile,
		"outputs":        "type=local,dest=out",
		"build-contexts": "base=docker-image://alpine:3.20\nshared=../shared",
	}, "FROM_ENV=from-env"))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"reg.example/app:1.0", "reg.example/app:latest", "reg.example/app:sha-abc"}; !reflect.DeepEqual(in.Tags, want) {
		t.Errorf("tags = %q", in.Tags)
	}
	if want := []string{"linux/amd64", "linux/arm64"}; !reflect.DeepEqual(in.Platforms, want) {
		t.Errorf("platforms = %q", in.Platforms)
	}
	if want := map[string]string{"A": "1", "B": "x,y", "FROM_ENV": "from-env"}; !reflect.DeepEqual(in.BuildArgs, want) {
		t.Errorf("build-args = %q", in.BuildArgs)
	}
	if len(in.CacheFrom) != 2 || in.CacheFrom[1].Attrs["ref"] != "reg.example/app:cache2" || in.CacheTo[0].Type != "gha" {
		t.Errorf("cache entries: from=%v to=%v", in.CacheFrom, in.CacheTo)
	}
	if len(in.Secrets) != 3 || string(in.Secrets[1].Value) != "line1\nline2" || in.Secrets[2].File != secretFile {
		t.Errorf("secrets = %+v", in.Secrets)
	}
	if in.BuildContexts["base"] != "docker-image://alpine:3.20" || in.BuildContexts["shared"] != "../shared" {
		t.Errorf("build-contexts = %v", in.BuildContexts)
	}
	if len(in.Outputs) != 1 || in.Outputs[0].Destination != "out" {
		t.Errorf("outputs = %v", in.Outputs)
	}
}

// Every bad input must come back as an *Error naming the input, never a panic.
func TestBadInputsNameTheInput(t *testing.T) {
	tlsDir := t.TempDir()
	cases := []struct {
		name   string
		inputs map[string]string
		input  string // the input the error must name
		says   string // a phrase the message must contain
	}{
		{"unknown cache type", map[string]string{"cache-from": "type=s4,bucket=x"}, "cache-from", `unknown cache type "s4"`},
		{"cache-to without type", map[string]string{"cache-to": "mode=max,ref=x"}, "cache-to", "type required"},
		{"registry cache without ref", map[string]string{"cache-to": "type=registry,mode=max"}, "cache-to", "needs ref"},
		{"malformed build-arg", map[string]string{"build-args": "=value"}, "build-args", "no name"},
		{"build-arg without value", map[string]string{"build-args": "NOT_IN_ENV"}, "build-args", "no environment variable NOT_IN_ENV"},
		{"label without =", map[string]string{"labels": "justtext"}, "labels", "has no '='"},
		{"missing secret file", map[string]string{"secret-files": "npmrc=/nonexistent/.npmrc"}, "secret-files", "/nonexistent/.npmrc does not exist"},
		{"secret without =", map[string]string{"secrets": "TOKENONLY"}, "secrets", "ID=value"},
		{"secret env unset", map[string]string{"secret-envs": "tok=UNSET_VAR"}, "secret-envs", "UNSET_VAR is not set"},
		{"bad endpoint URL", map[string]string{"endpoint": "buildkitd:1234"}, "endpoint", "not supported"},
		{"endpoint without scheme", map[string]string{"endpoint": "/run/buildkit.sock"}, "endpoint", "not an address"},
		{"tcp endpoint without port", map[string]string{"endpoint": "tcp://buildkitd"}, "endpoint", "host:port"},
		{"tls dir without certs", map[string]string{"endpoint": "tcp://b:1234", "endpoint-tls-dir": tlsDir}, "endpoint-tls-dir", "ca.pem"},
		{"tls on unix", map[string]string{"endpoint": "unix:///x.sock", "endpoint-tls-dir": tlsDir}, "endpoint-tls-dir", "tcp://"},
		{"builder and endpoint", map[string]string{"endpoint": "unix:///x.sock", "builder": "b"}, "builder", "not both"},
		{"push without tags", map[string]string{"push": "true"}, "push", "needs at least one entry in tags"},
		{"bad boolean", map[string]string{"no-cache": "yes"}, "no-cache", "not a boolean"},
		{"bad tag", map[string]string{"tags": "UPPER/Case:tag"}, "tags", "not a valid image reference"},
		{"bad platform", map[string]string{"platforms": "linux/amd64,windows/"}, "platforms", "not a platform"},
		{"unknown output", map[string]string{"outputs": "type=zip,dest=x"}, "outputs", `unknown output type "zip"`},
		{"oci output without dest", map[string]string{"outputs": "type=oci"}, "outputs", "needs dest"},
		{"unknown backend", map[string]string{"cache-backend": "s3"}, "cache-backend", `unknown backend "s3"`},
		{"registry backend without ref", map[string]string{"cache-backend": "registry"}, "cache-ref", "needs cache-ref"},
		{"local backend without dir", map[string]string{"cache-backend": "local"}, "cache-dir", "needs cache-dir"},
		{"cache-ref with gha", map[string]string{"cache-backend": "gha", "cache-ref": "r/a:c"}, "cache-ref", "cache-backend is gha"},
		{"bad mode", map[string]string{"cache-mode": "all"}, "cache-mode", "not a cache mode"},
		{"bad save-on glob", map[string]string{"cache-save-on": "release/[x"}, "cache-save-on", "not a valid branch glob"},
		{"save-on always mixed", map[string]string{"cache-save-on": "always,main"}, "cache-save-on", "stand alone"},
		{"bad max size", map[string]string{"mount-cache-max-size": "lots"}, "mount-cache-max-size", "not a size"},
		{"bad keep", map[string]string{"mount-cache-keep": "0"}, "mount-cache-keep", "at least 1"},
		{"compression level out of range", map[string]string{"compression-level": "12"}, "compression-level", "from 0 (no compression) to 9"},
		{"compression level not a number", map[string]string{"compression-level": "fast"}, "compression-level", "not a gzip level"},
		{"URL context that is no Git repository", map[string]string{"context": "https://example.com/context.tar.gz"}, "context", "not a Git repository"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(env(tc.inputs))
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want input errors, got %v", err)
			}
			for _, e := range errs {
				if e.Input == tc.input && strings.Contains(e.Error(), tc.says) {
					return
				}
			}
			t.Errorf("no error names %q and says %q; got:\n%v", tc.input, tc.says, err)
		})
	}
}

func TestSecretValuesNeverInErrors(t *testing.T) {
	_, err := Parse(env(map[string]string{"secrets": "hunter2-without-id"}))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error must not echo a secret value: %v", err)
	}
}

func TestAllErrorsReportedAtOnce(t *testing.T) {
	_, err := Parse(env(map[string]string{"cache-from": "type=nope", "no-cache": "maybe", "endpoint": "ftp://x"}))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 3 {
		t.Fatalf("want 3 errors, got %v", err)
	}
}

func TestErrorPointsAtLine(t *testing.T) {
	_, err := Parse(env(map[string]string{"cache-from": "type=registry,ref=r/a:c\ntype=gha\ntype=bogus"}))
	var errs Errors
	if !errors.As(err, &errs) || errs[0].Line != 3 {
		t.Fatalf("want the error on line 3, got %v", err)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"2GiB": 2 << 30, "500MB": 500e6, "1g": 1 << 30, "1024": 1024, "1.5 GiB": 3 << 29} {
		got, err := ParseSize(in)
		if err != nil || got.Bytes() != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

// Sizes that overflowed int64 (negative: every save then failed in the helper) or rounded
// to zero are refused, naming the input.
func TestParseSizeRefusesOverflowAndZero(t *testing.T) {
	for _, in := range []string{"99999999999TiB", "9223372036854775807", "18446744073709551617", "0.0000001", "0", "0.5", "11GiB", "1.2.3GiB", ".", ""} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
	for in, want := range map[string]int64{"10GiB": 10 << 30, "0.5KiB": 512, "1.0000000001 KiB": 1024, "10737418240": 10 << 30} {
		if got, err := ParseSize(in); err != nil || got.Bytes() != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	_, err := Parse(env(map[string]string{"mount-cache-max-size": "99999999999TiB"}))
	var ie *Error
	if !errors.As(err, &ie) || ie.Input != "mount-cache-max-size" {
		t.Fatalf("error %v does not name mount-cache-max-size", err)
	}
}

// FuzzParseSize: any accepted size is between one byte and MaxSize, and prints in a form
// ParseSize reads back to the same number of bytes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"2GiB", "500MB", "1g", "1024", "1.5 GiB", "99999999999TiB", "9223372036854775807", "0.0000001", "1e9", "NaN", "-1", "+1k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && (n < 1 || n > MaxSize) {
			t.Fatalf("ParseSize(%q) = %d, outside 1..%d", s, n, MaxSize)
		}
		if err == nil {
			if back, err := ParseSize(n.String()); err != nil || back != n {
				t.Fatalf("ParseSize(%q) = %d, printed %q, read back as %d, %v", s, n, n, back, err)
			}
		}
	})
}

func FuzzParse(f *testing.F) {
	f.Add("type=registry,ref=a/b:c", "A=1\nB", "linux/amd64,linux/arm64", "unix:///x.sock")
	f.Add("\"", "=,=\n\"", ",,,", "tcp://:")
	f.Fuzz(func(t *testing.T, cache, args, plats, ep string) {
		in, err := Parse(env(map[string]string{"cache-from": cache, "build-args": args, "platforms": plats, "endpoint": ep}))
		if err == nil && in == nil {
			t.Fatal("nil inputs without error")
		}
		var errs Errors
		if err != nil && !errors.As(err, &errs) {
			t.Fatalf("error is not an input error: %v", err)
		}
	})
}

// metadataLabels is the `labels` output of docker/metadata-action for a repository whose
// description has commas, spaces and quotes: one label per line, values as GitHub has them.
const metadataLabels = `org.opencontainers.image.created=2026-11-30T09:12:44.512Z
org.opencontainers.image.description=Fast, small builds: caches layers, pip downloads, and "wheels"
org.opencontainers.image.licenses=Apache-2.0
org.opencontainers.image.revision=4b825dc642cb6eb9a060e54bf8d69288fbee4904
org.opencontainers.image.source=https://github.com/acme/app
org.opencontainers.image.title=app
org.opencontainers.image.url=https://github.com/acme/app
org.opencontainers.image.version=pr-12
`

func TestMetadataActionLabelsKeepTheirSpaces(t *testing.T) {
	in, err := Parse(env(map[string]string{"labels": metadataLabels}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"org.opencontainers.image.created":     "2026-11-30T09:12:44.512Z",
		"org.opencontainers.image.description": `Fast, small builds: caches layers, pip downloads, and "wheels"`,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.revision":    "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
		"org.opencontainers.image.source":      "https://github.com/acme/app",
		"org.opencontainers.image.title":       "app",
		"org.opencontainers.image.url":         "https://github.com/acme/app",
		"org.opencontainers.image.version":     "pr-12",
	}
	if !reflect.DeepEqual(in.Labels, want) {
		t.Errorf("labels differ from metadata-action's:\n got %q\nwant %q", in.Labels, want)
	}
}

func TestListEntriesKeepSpacesAfterCommas(t *testing.T) {
	in, err := Parse(env(map[string]string{
		"build-args": "GREETING=hello, world\nQUOTED=\"a, b\"\n  PADDED=x , y  ",
		"secrets":    "PHRASE=correct, horse , battery \n\"MULTI=one, two\nthree\"",
		"cache-from": "type=registry,ref=reg.example/app:cache",
	}))
	if err != nil {
		t.Fatal(err)
	}
	// Quotes in the middle of an entry are kept, as csv-parse's relaxQuotes keeps them.
	if want := map[string]string{"GREETING": "hello, world", "QUOTED": `"a, b"`, "PADDED": "x , y"}; !reflect.DeepEqual(in.BuildArgs, want) {
		t.Errorf("build-args = %q, want %q", in.BuildArgs, want)
	}
	// secrets are read with trimWhitespace: false: the value is exactly what was written.
	if len(in.Secrets) != 2 || string(in.Secrets[0].Value) != "correct, horse , battery " {
		t.Fatalf("secrets = %q", in.Secrets)
	}
	if string(in.Secrets[1].Value) != "one, two\nthree" {
		t.Errorf("multi-line secret = %q", in.Secrets[1].Value)
	}
}

func TestSecretEnvsSplitOnCommasLikeBuildPushAction(t *testing.T) {
	in, err := Parse(env(map[string]string{"secret-envs": "A=X,B=Y\nC=Z"}, "X=1", "Y=2", "Z=3"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range in.Secrets {
		got = append(got, s.ID+"="+s.Env)
	}
	if want := []string{"A=X", "B=Y", "C=Z"}; !reflect.DeepEqual(got, want) {
		t.Errorf("secret-envs = %q, want %q", got, want)
	}
}

func TestOutputsReadWithoutQuotes(t *testing.T) {
	// build-push-action reads outputs with quote: false and hands each line to buildx, whose
	// CSV reading then sees the quotes: an attribute holding a comma stays one attribute.
	in, err := Parse(env(map[string]string{"outputs": `type=local,"dest=out,dir"`}))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Outputs) != 1 || in.Outputs[0].Destination != "out,dir" {
		t.Errorf("outputs = %+v", in.Outputs)
	}
}

// docs.docker.com's multi-line secrets example gives MYSECRET twice: buildx keeps the last
// --secret of an id in the first one's place, across secrets, secret-files and secret-envs.
func TestASecretGivenAgainReplacesTheEarlierOneAsBuildxDoes(t *testing.T) {
	in, err := Parse(env(map[string]string{
		"secrets":     "A=first\nB=b\nA=second",
		"secret-envs": "B=FROM_ENV",
	}, "FROM_ENV=x"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range in.Secrets {
		got = append(got, s.ID+"="+string(s.Value)+s.Env)
	}
	if want := []string{"A=second", "B=FROM_ENV"}; !reflect.DeepEqual(got, want) {
		t.Errorf("secrets = %q, want %q", got, want)
	}
}
