package mounthelper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/warmbuild/warmbuild/pkg/archive"
)

// The helper protocol: the action writes one Request (JSON) beside the helper binary,
// in the build context the RUN bind-mounts at /.wb, and starts the helper with its
// subcommand and the request's path. The helper writes one Result (JSON) to the
// request's OutDir, in the RUN's root filesystem, which the build exports to the
// action with the local exporter. Nothing is read back from the build's log.
//
// The request travels beside the binary rather than as a build secret because it can
// hold a base manifest of every file of the cache, and BuildKit caps a secret at
// 500 KiB (session/secrets/secretsprovider); only the signed storage URLs, which are
// credentials, go as a secret (Request.Archive names its file in sources mode).
//
// Both files cross a trust boundary: the helper reads a request written by another
// process, and the action reads a result written inside a build that ran with the
// user's cache content. Each side reads them with ReadRequest and ReadResult, which
// bound their size and check every field before anything acts on them.

// Op is what a helper build does; it is the subcommand's name.
type Op string

const (
	OpInject  Op = InjectCommand
	OpExtract Op = ExtractCommand
)

// SourceKind says where mount-inject reads the archive from.
type SourceKind string

const (
	SourceFile    SourceKind = "file"    // Archive is an archive file
	SourceSocket  SourceKind = "socket"  // Archive is a unix socket the action streams it on (ChunkWriter)
	SourceSources SourceKind = "sources" // Archive is a JSON file of cacheservice.Source: the helper downloads them
)

// Request is one helper build's task.
type Request struct {
	Op Op `json:"op"`
	// MountDir is the cache mount's target in the RUN.
	MountDir string `json:"mountDir"`
	// OutDir is where the helper writes its Result (ResultName) and, for mount-extract,
	// the archive (ExtractArchiveName).
	OutDir string `json:"outDir"`

	// mount-inject: where the archive comes from.
	Source  SourceKind `json:"source,omitempty"`
	Archive string     `json:"archive,omitempty"`
	// ControlSocket, when set, is where the helper asks the action for fresh URLs in
	// sources mode (see ServeRefresh).
	ControlSocket string `json:"controlSocket,omitempty"`

	// mount-extract: the paths digest of what was injected ("" when nothing was), the
	// size to prune the mount to, and the manifest of the restored base archive, on
	// which a delta can be written.
	RestoredDigest string            `json:"restoredDigest,omitempty"`
	MaxBytes       int64             `json:"maxBytes,omitempty"`
	Base           *archive.Manifest `json:"base,omitempty"`
}

// RequestName is the request's file name beside the helper binary.
const RequestName = "request.json"

// ResultName is the Result's file name in OutDir.
const ResultName = "result.json"

// MaxFileBytes bounds a request or a result: either can hold a manifest, and archive
// listings stop at DefaultLimits().MaxEntries entries of at most a few hundred bytes of
// JSON each.
const MaxFileBytes = 256 << 20

// Bounds of the strings a result carries into the action's log and outputs.
const (
	maxReasonBytes = 4 << 10
	maxSources     = 16
)

var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// Validate checks a request as the helper is about to run it (op: its subcommand).
func (r Request) Validate(op Op) error {
	if r.Op != op {
		return fmt.Errorf("op %q, but the helper was started as %s", r.Op, op)
	}
	if err := absPath("mountDir", r.MountDir); err != nil {
		return err
	}
	if err := absPath("outDir", r.OutDir); err != nil {
		return err
	}
	if within(r.OutDir, r.MountDir) || within(r.MountDir, r.OutDir) {
		return fmt.Errorf("outDir %q and mountDir %q overlap", r.OutDir, r.MountDir)
	}
	switch op {
	case OpInject:
		switch r.Source {
		case SourceFile, SourceSocket, SourceSources:
		default:
			return fmt.Errorf("source %q is none of file, socket, sources", r.Source)
		}
		if err := absPath("archive", r.Archive); err != nil {
			return err
		}
		if r.ControlSocket != "" {
			if r.Source != SourceSources {
				return errors.New("a control socket is only for the sources")
			}
			if err := absPath("controlSocket", r.ControlSocket); err != nil {
				return err
			}
		}
		if r.RestoredDigest != "" || r.MaxBytes != 0 || r.Base != nil {
			return errors.New("mount-inject takes no restoredDigest, maxBytes or base")
		}
	case OpExtract:
		if r.Source != "" || r.Archive != "" || r.ControlSocket != "" {
			return errors.New("mount-extract takes no source")
		}
		if r.MaxBytes <= 0 {
			return fmt.Errorf("maxBytes %d is not a positive number", r.MaxBytes)
		}
		if r.RestoredDigest != "" && !digestRE.MatchString(r.RestoredDigest) {
			return fmt.Errorf("restoredDigest %q is not a sha256 digest", clip(r.RestoredDigest, 80))
		}
		if r.Base != nil {
			if err := checkManifest(*r.Base); err != nil {
				return fmt.Errorf("base manifest: %w", err)
			}
		}
	default:
		return fmt.Errorf("unknown op %q", r.Op)
	}
	return nil
}

// absPath says whether p is a clean absolute path below the root.
func absPath(name, p string) error {
	if p == "" || !path.IsAbs(p) || path.Clean(p) != p || p == "/" || strings.ContainsRune(p, 0) {
		return fmt.Errorf("%s %q is not a clean absolute path below /", name, clip(p, 200))
	}
	return nil
}

func within(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// checkManifest checks what a manifest's user relies on: counts that are not negative
// and entries with a relative, clean path, no more of them than an archive can hold.
func checkManifest(m archive.Manifest) error {
	if m.Files < 0 || m.Bytes < 0 {
		return fmt.Errorf("negative counts (%d files, %d bytes)", m.Files, m.Bytes)
	}
	if int64(len(m.Entries)) > archive.DefaultLimits().MaxEntries {
		return fmt.Errorf("%d entries", len(m.Entries))
	}
	for _, e := range m.Entries {
		if e.Path == "" || path.IsAbs(e.Path) || path.Clean(e.Path) != e.Path || e.Path == ".." || strings.HasPrefix(e.Path, "../") || e.Size < 0 {
			return fmt.Errorf("entry %q (size %d)", clip(e.Path, 200), e.Size)
		}
	}
	return nil
}

// ReadRequest reads and validates the request the helper was started with as op.
func ReadRequest(p string, op Op) (Request, error) {
	var r Request
	if err := readJSON(p, &r); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	if err := r.Validate(op); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	return r, nil
}

// WriteRequest writes r as the request file p (the action's side).
func WriteRequest(p string, r Request) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}

// Result is what a helper build did: for mount-inject, Inject (and, in sources mode,
// Base: the manifest of the first, full archive, on which a later save can store a
// delta) or Refused; for mount-extract, Extract.
type Result struct {
	Op     Op                `json:"op"`
	Inject *InjectReport     `json:"inject,omitempty"`
	Base   *archive.Manifest `json:"base,omitempty"`
	// Refused says why mount-inject refused the archive (corrupt, unsafe, too large, a
	// download that broke): the mount was left empty. A refusal is an answer, not a
	// failure: the helper exits 0 so that the build exports it.
	Refused string `json:"refused,omitempty"`

	Extract *ExtractResult `json:"extract,omitempty"`
}

// Validate checks a result from a helper build of op: one answer of that op, with
// statuses the action knows, counts that are not negative, digests that are digests,
// and reasons short enough for a log line.
func (r Result) Validate(op Op) error {
	if r.Op != op {
		return fmt.Errorf("op %q, want %s", r.Op, op)
	}
	switch op {
	case OpInject:
		if r.Extract != nil {
			return errors.New("an extract result from mount-inject")
		}
		if r.Refused != "" {
			if r.Inject != nil || r.Base != nil {
				return errors.New("a refusal with a report")
			}
			return checkText("refused", r.Refused)
		}
		if r.Inject == nil {
			return errors.New("no report")
		}
		if err := r.Inject.validate(); err != nil {
			return err
		}
		if r.Base != nil {
			if r.Inject.Status != InjectInjected {
				return fmt.Errorf("a base manifest with status %q", r.Inject.Status)
			}
			if err := checkManifest(*r.Base); err != nil {
				return fmt.Errorf("base manifest: %w", err)
			}
		}
	case OpExtract:
		if r.Inject != nil || r.Base != nil || r.Refused != "" {
			return errors.New("an inject result from mount-extract")
		}
		if r.Extract == nil {
			return errors.New("no extract result")
		}
		return r.Extract.validate()
	default:
		return fmt.Errorf("unknown op %q", op)
	}
	return nil
}

func (rep InjectReport) validate() error {
	if rep.Files < 0 || rep.Bytes < 0 || rep.StreamBytes < 0 {
		return fmt.Errorf("negative counts in %+v", rep)
	}
	switch rep.Status {
	case InjectInjected, InjectKept:
		if !digestRE.MatchString(rep.PathsDigest) {
			return fmt.Errorf("paths digest %q", clip(rep.PathsDigest, 80))
		}
		if rep.Reason != "" {
			return errors.New("a reason without a refusal")
		}
	case InjectUnreachable:
		if rep.PathsDigest != "" || rep.Files != 0 || rep.Bytes != 0 || rep.StreamBytes != 0 {
			return errors.New("an unreachable storage with content")
		}
		return checkText("reason", rep.Reason)
	default:
		return fmt.Errorf("unknown status %q", clip(string(rep.Status), 40))
	}
	return nil
}

func (res ExtractResult) validate() error {
	for _, n := range []int64{res.Files, res.Bytes, res.ArchiveBytes, res.PrunedFiles, res.PrunedBytes, res.DeltaFiles, res.DeltaBytes} {
		if n < 0 {
			return fmt.Errorf("negative counts in %+v", res)
		}
	}
	switch res.Status {
	case ExtractEmpty:
		if res.PathsDigest != "" && !digestRE.MatchString(res.PathsDigest) {
			return fmt.Errorf("paths digest %q", clip(res.PathsDigest, 80))
		}
		return nil
	case ExtractArchived, ExtractUnchanged, ExtractDelta:
	default:
		return fmt.Errorf("unknown status %q", clip(string(res.Status), 40))
	}
	if !digestRE.MatchString(res.PathsDigest) {
		return fmt.Errorf("paths digest %q", clip(res.PathsDigest, 80))
	}
	if (res.Status == ExtractArchived || res.Status == ExtractDelta) != (res.ArchiveBytes > 0) {
		return fmt.Errorf("status %s with an archive of %d bytes", res.Status, res.ArchiveBytes)
	}
	return nil
}

// checkText accepts a non-empty, valid UTF-8 line of bounded length.
func checkText(name, s string) error {
	if s == "" || len(s) > maxReasonBytes || !utf8.ValidString(s) || strings.ContainsAny(s, "\x00\r\n") {
		return fmt.Errorf("%s: not one line of text up to %d bytes", name, maxReasonBytes)
	}
	return nil
}

// ReadResult reads and validates the result a helper build of op exported to p.
func ReadResult(p string, op Op) (Result, error) {
	var r Result
	if err := readJSON(p, &r); err != nil {
		return Result{}, fmt.Errorf("helper result: %w", err)
	}
	if err := r.Validate(op); err != nil {
		return Result{}, fmt.Errorf("helper result: %w", err)
	}
	return r, nil
}

// WriteResult writes r to dir/ResultName (the helper's side).
func WriteResult(dir string, r Result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(path.Join(dir, ResultName), b, 0o644)
}

// readJSON decodes one JSON value from the file p, of at most MaxFileBytes, with no
// fields the protocol does not have and nothing after it.
func readJSON(p string, v any) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return err
	}
	if len(b) > MaxFileBytes {
		return fmt.Errorf("larger than %d bytes", MaxFileBytes)
	}
	return decodeStrict(b, v)
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON value")
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
