package mounthelper

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warmbuild/warmbuild/pkg/archive"
)

const zeroDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

// A request is input from another process: the helper runs only one it can check, and
// says what is wrong with one it cannot, with exit 2 and no result.
func TestTheHelperRefusesARequestItCannotCheck(t *testing.T) {
	inject := Request{Op: OpInject, MountDir: "/root/.cache/pip", OutDir: "/out", Source: SourceSocket, Archive: "/.wbsock"}
	extract := Request{Op: OpExtract, MountDir: "/root/.cache/pip", OutDir: "/out", MaxBytes: 1 << 30, RestoredDigest: zeroDigest}
	for _, tc := range []struct {
		name string
		op   Op
		edit func(*Request)
		want string
	}{
		{"started as the other subcommand", OpExtract, func(r *Request) {}, "but the helper was started as mount-extract"},
		{"a relative mount", OpInject, func(r *Request) { r.MountDir = "root/.cache" }, "mountDir"},
		{"a mount path that climbs", OpInject, func(r *Request) { r.MountDir = "/root/../etc" }, "mountDir"},
		{"the root as the mount", OpInject, func(r *Request) { r.MountDir = "/" }, "mountDir"},
		{"the result inside the mount", OpInject, func(r *Request) { r.OutDir = "/root/.cache/pip/out" }, "overlap"},
		{"no archive", OpInject, func(r *Request) { r.Archive = "" }, "archive"},
		{"an unknown source", OpInject, func(r *Request) { r.Source = "http" }, "source"},
		{"a control socket for a stream", OpInject, func(r *Request) { r.ControlSocket = "/.wbctl" }, "control socket"},
		{"an extract field for an inject", OpInject, func(r *Request) { r.MaxBytes = 5 }, "takes no"},
		{"no size limit", OpExtract, func(r *Request) { r.MaxBytes = 0 }, "maxBytes"},
		{"a digest that is none", OpExtract, func(r *Request) { r.RestoredDigest = "-" }, "restoredDigest"},
		{"a base entry that climbs", OpExtract, func(r *Request) {
			r.Base = &archive.Manifest{Entries: []archive.Entry{{Path: "../x", Type: archive.TypeFile}}}
		}, "base manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := inject
			if tc.op == OpExtract && tc.name != "started as the other subcommand" {
				req = extract
			}
			tc.edit(&req)
			p := filepath.Join(t.TempDir(), RequestName)
			if err := WriteRequest(p, req); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			code, _ := RunHelper(context.Background(), []string{string(tc.op), p}, &out, &out)
			if code != 2 || !strings.Contains(out.String(), tc.want) {
				t.Errorf("exit %d, %q; want exit 2 naming %q", code, out.String(), tc.want)
			}
		})
	}
	for _, valid := range []Request{inject, extract} {
		if err := valid.Validate(valid.Op); err != nil {
			t.Errorf("a valid request is refused: %v", err)
		}
	}
}

// The request file itself: one JSON object of the protocol, of bounded size. The old
// positional arguments are a usage error, not a request.
func TestTheRequestFileIsOneObjectOfTheProtocol(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{
		"unknown field": `{"op":"mount-inject","mountDir":"/c","outDir":"/out","source":"file","archive":"/a","sig":"x"}`,
		"two values":    `{"op":"mount-inject","mountDir":"/c","outDir":"/out","source":"file","archive":"/a"} {}`,
		"not JSON":      `mount-inject /a /c`,
	} {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadRequest(p, OpInject); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte(" "), MaxFileBytes+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRequest(big, OpInject); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a request over %d bytes: %v", MaxFileBytes, err)
	}
	var out bytes.Buffer
	if code, _ := RunHelper(context.Background(), []string{ExtractCommand, "/c", "/out", "-", "1000", "-"}, &out, &out); code != 2 || !strings.Contains(out.String(), "usage") {
		t.Errorf("positional arguments: exit %d, %q", code, out.String())
	}
}

// The result comes back from a build that ran with the user's cache content: the action
// takes only a result of the op it asked for, with statuses it knows, counts that are
// not negative and a refusal that is one line of text.
func TestTheActionRefusesAResultItCannotUse(t *testing.T) {
	injected := `"inject":{"status":"injected","pathsDigest":"` + zeroDigest + `","files":1,"bytes":2}`
	for _, tc := range []struct {
		name, op, data string
	}{
		{"another op's result", ExtractCommand, `{"op":"mount-inject",` + injected + `}`},
		{"no answer", InjectCommand, `{"op":"mount-inject"}`},
		{"a refusal and a report", InjectCommand, `{"op":"mount-inject","refused":"corrupt",` + injected + `}`},
		{"a refusal of many lines", InjectCommand, `{"op":"mount-inject","refused":"corrupt\n::error::owned"}`},
		{"a refusal too long", InjectCommand, `{"op":"mount-inject","refused":"` + strings.Repeat("x", maxReasonBytes+1) + `"}`},
		{"an unknown status", InjectCommand, `{"op":"mount-inject","inject":{"status":"refused","pathsDigest":"` + zeroDigest + `"}}`},
		{"negative counts", InjectCommand, `{"op":"mount-inject","inject":{"status":"kept","pathsDigest":"` + zeroDigest + `","files":-1,"bytes":0}}`},
		{"a digest that is none", InjectCommand, `{"op":"mount-inject","inject":{"status":"injected","pathsDigest":"sha256:x","files":1,"bytes":0}}`},
		{"unreachable without a reason", InjectCommand, `{"op":"mount-inject","inject":{"status":"unreachable","files":0,"bytes":0}}`},
		{"an archive said to be unchanged", ExtractCommand, `{"op":"mount-extract","extract":{"status":"unchanged","pathsDigest":"` + zeroDigest + `","files":1,"bytes":1,"archiveBytes":100}}`},
		{"archived without an archive", ExtractCommand, `{"op":"mount-extract","extract":{"status":"archived","pathsDigest":"` + zeroDigest + `","files":1,"bytes":1}}`},
		{"an unknown field", ExtractCommand, `{"op":"mount-extract","extract":{"status":"empty","files":0,"bytes":0,"path":"/etc"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), ResultName)
			if err := os.WriteFile(p, []byte(tc.data), 0o600); err != nil {
				t.Fatal(err)
			}
			if r, err := ReadResult(p, Op(tc.op)); err == nil {
				t.Errorf("accepted: %+v", r)
			}
		})
	}
}

// What the helper writes, the action reads: an injection, a refusal with its reason and
// an extraction, each through the files a helper build exports.
func TestTheHelpersResultIsWhatTheActionReads(t *testing.T) {
	src := t.TempDir()
	writeTree(t, src, map[string]int{"a": 3})
	good := archiveOf(t, src)
	code, out, res := injectFile(t, good, t.TempDir())
	if code != 0 || res.Inject == nil || res.Inject.Status != InjectInjected || res.Inject.Files != 1 || res.Refused != "" {
		t.Fatalf("inject: exit %d, %+v: %s", code, res, out)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(bad, []byte("not an archive"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, res = injectFile(t, bad, t.TempDir())
	if code != 0 || res.Inject != nil || !strings.Contains(res.Refused, "corrupt archive") {
		t.Fatalf("refusal: exit %d, %+v: %s", code, res, out)
	}
	// The log keeps a line for people, with the same reason.
	if !strings.Contains(out, "warmbuild mount-inject: "+res.Refused) {
		t.Errorf("log %q does not tell the refusal", out)
	}
}
