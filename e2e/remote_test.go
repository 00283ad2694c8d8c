//go:build e2e

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// remoteRun is a push to main (or pull request #12) building on a remote daemon over mTLS.
func remoteRun(t *testing.T, e *mountCacheEnv, d *tlsDaemon, dir string, extra map[string]string) Result {
	t.Helper()
	env := map[string]string{"ACTIONS_RESULTS_URL": e.srv.URL(), "ACTIONS_RUNTIME_TOKEN": e.srv.Token()}
	for k, v := range pushMain {
		env[k] = v
	}
	e.srv.SetScopes("refs/heads/main")
	in := map[string]string{
		"endpoint": d.Endpoint, "endpoint-tls-dir": d.PKI.Client,
		"cache-backend": "registry", "cache-ref": e.cacheRef,
	}
	for k, v := range extra {
		in[k] = v
	}
	return runAction(t, Run{Dir: dir, Event: "push", Payload: "push-default-branch.json", Env: env, Inputs: in})
}

const remotePipDockerfile = "FROM python:3.11-slim\n" +
	"WORKDIR /app\n" +
	"COPY requirements.txt .\n" +
	"RUN --mount=type=cache,target=/root/.cache/pip pip install -r requirements.txt\n" +
	"RUN echo built > /app/marker\n"

// Issue 20, "Remote BuildKit over mTLS": a buildkitd on tcp://127.0.0.1:PORT with a CA,
// server and client certificates from openssl; the action builds and pushes over it with
// endpoint and endpoint-tls-dir, and the mount cache's helper builds (extract on the first
// run, inject on the second) run over the same connection: a second run on a fresh daemon
// (a new runner pointed at a new remote) gets its pip cache back.
func TestRemoteMTLSBuildPushAndMountCacheOverTheEndpoint(t *testing.T) {
	e := newMountCacheEnv(t)
	p := newPKI(t, "team")
	repo := uniqueRepo(t, "remote-mtls")
	image := stackEnv["REGISTRY"] + "/" + repo
	ctx := func(reqs string) string {
		return writeContext(t, map[string]string{"Dockerfile": remotePipDockerfile, "requirements.txt": reqs})
	}
	push := map[string]string{"tags": image + ":1", "push": "true", "provenance": "false"}

	cold := remoteRun(t, e, startTLSDaemon(t, p), ctx("wb-core==1.1.0\nwb-fastmath==1.4.0\n"), push)
	mustExit0(t, cold)
	if d := manifestDigest(t, repo, "1"); cold.Outputs["digest"] != d || d == "" {
		t.Errorf("digest output %q, registry says %q", cold.Outputs["digest"], d)
	}
	if cold.Outputs["cache-saved"] != "true" {
		t.Errorf("the layer cache must be saved over the remote endpoint: %q (%s)", cold.Outputs["cache-saved"], cold.Outputs["cache-save-reason"])
	}
	if !strings.Contains(cold.Log, ExtractCommandInLog) || len(e.mountEntries()) != 1 {
		t.Fatalf("run 1: the extraction helper build should run over the endpoint and save one entry (%d)\n%s", len(e.mountEntries()), tail(cold.Log, 40))
	}

	// A fresh remote daemon (nothing local) and one more package: the helper injects the
	// saved pip cache, so nothing is built from source again.
	warm := remoteRun(t, e, startTLSDaemon(t, p), ctx("wb-core==1.1.0\nwb-fastmath==1.4.0\nwb-util==1.0.0\n"), push)
	mustExit0(t, warm)
	if warm.Outputs["mount-cache-hit"] != "partial" || warm.Outputs["pip-packages-cached"] != "2" || strings.Contains(warm.Log, "Building wheel for") {
		t.Errorf("run 2 on a fresh remote daemon: hit %q, pip cached %s/%s\n%s", warm.Outputs["mount-cache-hit"], warm.Outputs["pip-packages-cached"], warm.Outputs["pip-packages-total"], tail(warm.Log, 40))
	}
	if !strings.Contains(warm.Log, "mount-inject") {
		t.Errorf("run 2: the injection helper build should run over the endpoint")
	}
	if d := manifestDigest(t, repo, "1"); warm.Outputs["digest"] != d {
		t.Errorf("run 2 digest output %q, registry says %q", warm.Outputs["digest"], d)
	}
}

// A missing or wrong client certificate fails the step with an error naming
// endpoint-tls-dir and what the daemon said, before anything is built.
func TestRemoteMTLSMissingOrWrongCertificateNamesTheInput(t *testing.T) {
	needStack(t)
	p, rogue := newPKI(t, "team"), newPKI(t, "rogue")
	d := startTLSDaemon(t, p)
	// The right CA for the daemon, but a client certificate another CA signed.
	unknownClient := t.TempDir()
	for src, name := range map[string]string{p.Client: "ca.pem", rogue.Client: "cert.pem"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(unknownClient, name), string(b))
	}
	b, _ := os.ReadFile(filepath.Join(rogue.Client, "key.pem"))
	writeFile(t, filepath.Join(unknownClient, "key.pem"), string(b))

	dir := writeContext(t, map[string]string{"Dockerfile": "FROM python:3.11-slim\nRUN echo never\n"})
	for _, c := range []struct {
		name, tlsDir string
		want         []string
	}{
		{"no certificates", "", []string{`input "endpoint-tls-dir": is empty`, "speaks TLS", "CN=team test CA", "The daemon said: remote error: tls: certificate required"}},
		{"unknown client", unknownClient, []string{`input "endpoint-tls-dir"`, "refused the client certificate", "CN=rogue-client", "accepts client certificates issued by CN=team test CA", "The daemon said: remote error: tls:"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			in := map[string]string{"endpoint": d.Endpoint, "push": "false"}
			if c.tlsDir != "" {
				in["endpoint-tls-dir"] = c.tlsDir
			}
			r := runAction(t, Run{Dir: dir, Inputs: in, Event: "push", Payload: "push-default-branch.json", Env: pushMain})
			if r.ExitCode == 0 {
				t.Fatalf("the step passed without usable certificates:\n%s", tail(r.Log, 20))
			}
			if !strings.Contains(r.Log, "::error title=Invalid input endpoint-tls-dir::") {
				t.Errorf("no error annotation naming endpoint-tls-dir:\n%s", tail(r.Log, 10))
			}
			for _, w := range c.want {
				if !strings.Contains(r.Log, w) {
					t.Errorf("log lacks %q:\n%s", w, tail(r.Log, 10))
				}
			}
			if strings.Contains(r.Log, "::group::Build") {
				t.Errorf("a build started:\n%s", tail(r.Log, 20))
			}
		})
	}
}
