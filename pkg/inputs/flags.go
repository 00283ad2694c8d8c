package inputs

// buildx build's flags for the RUN steps and the session: ssh, network, add-hosts, shm-size,
// ulimit, cgroup-parent, allow and no-cache-filters (issue 14).
//
// Each input is read as docker/build-push-action reads it (src/context.ts getInputs: ulimit
// with getInputList's ignoreComma, ssh, add-hosts, allow and no-cache-filters split on every
// comma, network, shm-size and cgroup-parent as plain strings) and means what the buildx
// flag it is handed to means (docker/buildx commands/build.go, build/opt.go toSolveOpt,
// build/utils.go toBuildkitExtraHosts and toBuildkitUlimits, util/buildflags/ssh.go and
// entitlements.go). flags_test.go checks the syntax against buildx's own parsers.

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	units "github.com/docker/go-units"
	"github.com/moby/buildkit/util/entitlements"
	"golang.org/x/crypto/ssh"
)

// BuildFlags are the buildx build flags of issue 14, parsed and checked.
type BuildFlags struct {
	// SSH are the agents and keys forwarded to RUN --mount=type=ssh, with every path
	// resolved (`default` without a path is the agent at SSH_AUTH_SOCK).
	SSH []SSHSpec
	// Network is "" (BuildKit's default, a sandbox network per RUN), "host" or "none".
	Network string
	// AddHosts are /etc/hosts entries of every RUN step, in order.
	AddHosts []HostIP
	// ShmSize is the size of /dev/shm in RUN steps in bytes; 0 is BuildKit's default.
	ShmSize int64
	// Ulimits are the RUN steps' resource limits, one per name, sorted by name.
	Ulimits []*units.Ulimit
	// CgroupParent is the parent cgroup of the RUN steps' containers.
	CgroupParent string
	// Allow are the entitlements the build asks BuildKit for (network.host,
	// security.insecure, device...), buildx.local.delete taken out (AllowLocalDelete).
	Allow []string
	// AllowLocalDelete is allow: buildx.local.delete, a buildx entitlement BuildKit never sees.
	AllowLocalDelete bool
	// NoCacheFilters are the stages built without the cache.
	NoCacheFilters []string
}

// SSHSpec is one ssh entry: an ID (RUN --mount=type=ssh,id=ID; "default" when none is given)
// and the agent socket or key files that answer for it.
type SSHSpec struct {
	ID    string
	Paths []string
	// FromEnv is true when the path is SSH_AUTH_SOCK's (the entry named no path).
	FromEnv bool
}

// String writes the entry back in buildx's --ssh syntax.
func (s SSHSpec) String() string {
	if len(s.Paths) == 0 {
		return s.ID
	}
	return s.ID + "=" + strings.Join(s.Paths, ",")
}

// HostIP is one add-hosts entry.
type HostIP struct {
	Host string
	IP   string
}

func (h HostIP) String() string { return h.Host + "=" + h.IP }

// Entitlements is what the solve asks BuildKit to grant (client.SolveOpt's
// AllowedEntitlements): allow's entitlements, and network.host when network is host, which
// buildx adds by itself (build/opt.go toSolveOpt).
func (f BuildFlags) Entitlements() []string {
	out := slices.Clone(f.Allow)
	if f.Network == "host" && !slices.Contains(out, "network.host") {
		out = append(out, "network.host")
	}
	return out
}

// FrontendAttrs are the dockerfile frontend's attributes for these flags, as buildx's
// toSolveOpt sets them (build/opt.go): force-network-mode, add-hosts, shm-size, ulimit,
// cgroup-parent and no-cache with the filtered stages.
func (f BuildFlags) FrontendAttrs() map[string]string {
	attrs := map[string]string{}
	if f.CgroupParent != "" {
		attrs["cgroup-parent"] = f.CgroupParent
	}
	if len(f.NoCacheFilters) > 0 {
		attrs["no-cache"] = strings.Join(f.NoCacheFilters, ",")
	}
	if f.Network != "" {
		attrs["force-network-mode"] = f.Network
	}
	if len(f.AddHosts) > 0 {
		hosts := make([]string, len(f.AddHosts))
		for i, h := range f.AddHosts {
			hosts[i] = h.String()
		}
		attrs["add-hosts"] = strings.Join(hosts, ",")
	}
	if f.ShmSize > 0 {
		attrs["shm-size"] = strconv.FormatInt(f.ShmSize, 10)
	}
	if len(f.Ulimits) > 0 {
		ls := make([]string, len(f.Ulimits))
		for i, u := range f.Ulimits {
			ls[i] = u.String()
		}
		attrs["ulimit"] = strings.Join(ls, ",")
	}
	return attrs
}

// buildFlags reads the inputs of BuildFlags; getenv answers SSH_AUTH_SOCK for `ssh: default`.
func (p *parser) buildFlags(in *Inputs) BuildFlags {
	f := BuildFlags{
		CgroupParent: p.str("cgroup-parent", ""),
		SSH:          p.sshSpecs(),
		Network:      p.network(),
		AddHosts:     p.addHosts(),
		Ulimits:      p.ulimits(),
	}
	if v := p.str("shm-size", ""); v != "" {
		n, err := units.RAMInBytes(v)
		if err != nil {
			p.fail("shm-size", 0, fmt.Sprintf("%q is not a size: %v; write e.g. 2g or 512m", v, err))
		}
		f.ShmSize = n
	}
	f.Allow, f.AllowLocalDelete = p.entitlements()
	for _, it := range p.list("no-cache-filters", false) {
		f.NoCacheFilters = append(f.NoCacheFilters, it.Value)
	}
	p.localDelete(in.Outputs, f.AllowLocalDelete)
	if in.NoCache && len(f.NoCacheFilters) > 0 {
		// buildx commands/build.go RunBuild refuses the two together.
		p.fail("no-cache-filters", 0, "no-cache: true already builds every stage without the cache; give one of no-cache and no-cache-filters (buildx: --no-cache and --no-cache-filter cannot currently be used together)")
	}
	return f
}

func (p *parser) network() string {
	switch v := p.str("network", ""); v {
	case "", "default":
		return ""
	case "host", "none":
		return v
	default:
		// buildx build/opt.go: every other mode is refused the same way.
		p.fail("network", 0, fmt.Sprintf("network mode %q is not supported by BuildKit; use host, none or default (a builder's own network is set where the builder is created, e.g. setup-buildx-action's driver-opts: network=NAME)", v))
		return ""
	}
}

// addHosts reads host:ip or host=ip entries (buildx build/utils.go toBuildkitExtraHosts).
func (p *parser) addHosts() []HostIP {
	var out []HostIP
	for _, it := range p.list("add-hosts", false) {
		host, ip, ok := strings.Cut(it.Value, "=")
		if !ok {
			host, ip, ok = strings.Cut(it.Value, ":")
		}
		if !ok || host == "" || ip == "" {
			p.fail("add-hosts", it.Line, fmt.Sprintf("invalid host %q; write host:ip or host=ip, e.g. docker:10.180.0.1", it.Value))
			continue
		}
		if ip == "host-gateway" {
			// Only Docker's own builder (buildx's docker driver) knows that address; the
			// docker-container and remote drivers refuse it as well.
			p.fail("add-hosts", it.Line, fmt.Sprintf("%q: host-gateway is only known to Docker's built-in builder, not to a BuildKit builder; give the IP address", it.Value))
			continue
		}
		if len(ip) > 2 && ip[0] == '[' && ip[len(ip)-1] == ']' {
			ip = ip[1 : len(ip)-1]
		}
		if net.ParseIP(ip) == nil {
			p.fail("add-hosts", it.Line, fmt.Sprintf("invalid host %q: %q is not an IP address", it.Value, ip))
			continue
		}
		out = append(out, HostIP{Host: host, IP: ip})
	}
	return out
}

// ulimits reads NAME=SOFT[:HARD] lines the way docker's --ulimit does (docker/cli
// opts/ulimit.go: go-units ParseUlimit, a later entry of one name replacing an earlier one,
// listed by name).
func (p *parser) ulimits() []*units.Ulimit {
	byName := map[string]*units.Ulimit{}
	for _, it := range p.list("ulimit", true) {
		u, err := units.ParseUlimit(it.Value)
		if err != nil {
			p.fail("ulimit", it.Line, fmt.Sprintf("%q: %v; write NAME=SOFT[:HARD], e.g. nofile=1024:1024", it.Value, err))
			continue
		}
		byName[u.Name] = u
	}
	if len(byName) == 0 {
		return nil
	}
	out := make([]*units.Ulimit, 0, len(byName))
	for _, u := range byName {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// entitlements reads allow as buildx's util/buildflags ParseEntitlements does.
func (p *parser) entitlements() (allow []string, localDelete bool) {
	for _, it := range p.list("allow", false) {
		key, _, hasValue := strings.Cut(it.Value, "=")
		switch {
		case key == "buildx.local.delete" && hasValue:
			p.fail("allow", it.Line, "buildx.local.delete does not accept a value")
		case key == "buildx.local.delete":
			localDelete = true
		default:
			// BuildKit's own parser: network.host, security.insecure, device[=NAME] (allow
			// splits on commas, as build-push-action's getInputList does, so a device's
			// ",alias=" cannot reach buildx from a workflow either).
			if _, _, err := entitlements.Parse(it.Value); err != nil {
				p.fail("allow", it.Line, fmt.Sprintf("%v; use network.host, security.insecure, device[=NAME] or buildx.local.delete", err))
				continue
			}
			if !slices.Contains(allow, it.Value) {
				allow = append(allow, it.Value)
			}
		}
	}
	return allow, localDelete
}

// sshSpecs reads ssh entries, ID[=PATH] (buildx util/buildflags/ssh.go; build-push-action
// splits the input on commas, so a workflow gives one path per entry), and checks that every
// path is a usable agent socket or private key now, so a mistake is an error naming the
// input instead of a failure inside the build.
func (p *parser) sshSpecs() []SSHSpec {
	var out []SSHSpec
	seen := map[string]bool{}
	for _, it := range p.list("ssh", false) {
		id, path, hasPath := strings.Cut(it.Value, "=")
		if id == "" {
			id = "default" // sshprovider: an empty ID is the default one
		}
		if seen[id] {
			p.fail("ssh", it.Line, fmt.Sprintf("ssh id %q is given twice", id))
			continue
		}
		seen[id] = true
		s := SSHSpec{ID: id}
		if hasPath && path != "" {
			s.Paths = []string{path}
		} else {
			// sshprovider would read SSH_AUTH_SOCK from the process itself; it is read here,
			// from the step's environment, so the error below can say what is missing.
			sock := p.getenv("SSH_AUTH_SOCK")
			if sock == "" {
				p.fail("ssh", it.Line, fmt.Sprintf("%q forwards the SSH agent at SSH_AUTH_SOCK, which is not set in the step's environment: start an agent in an earlier step (e.g. webfactory/ssh-agent with ssh-auth-sock: ${{ runner.temp }}/ssh-agent.sock) or give a key file as %s=PATH", it.Value, id))
				continue
			}
			s.Paths, s.FromEnv = []string{sock}, true
		}
		if err := sshPathUsable(s.Paths[0]); err != nil {
			what := s.Paths[0]
			if s.FromEnv {
				what = "SSH_AUTH_SOCK=" + what
			}
			p.fail("ssh", it.Line, fmt.Sprintf("id %q: %s: %v", id, what, err))
			continue
		}
		out = append(out, s)
	}
	return out
}

// notVisible is the fix for a path warmbuild cannot see: its container sees only what the
// runner mounts (actions/runner src/Runner.Worker/Handlers/ContainerActionHandler.cs), and
// the runner translates a path only when it is a whole environment value (ContainerInfo.cs
// TranslateToContainerPath), so SSH_AUTH_SOCK under $RUNNER_TEMP arrives translated and a path
// written inside ssh's ID=PATH does not.
const notVisible = "not visible to warmbuild. A container action sees only the workspace (/github/workspace), " +
	"$RUNNER_TEMP (/github/runner_temp) and its own HOME (/github/home): start the SSH agent with its socket under " +
	"${{ runner.temp }} (webfactory/ssh-agent: ssh-auth-sock: ${{ runner.temp }}/ssh-agent.sock), or write a key file " +
	"under $RUNNER_TEMP and give it as ID=/github/runner_temp/FILE (the runner translates SSH_AUTH_SOCK, not paths inside with: values)"

// sshPathUsable says in words why path is neither an agent socket nor a private key
// sshprovider can load (BuildKit session/sshforward/sshprovider toDialer: a socket, or a key
// file of at most 100 KiB without a passphrase).
func sshPathUsable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return errors.New(notVisible)
	case err != nil:
		return fmt.Errorf("cannot read it: %v", unwrapPathError(err))
	case fi.Mode()&os.ModeSocket != 0:
		return nil
	case fi.IsDir():
		return errors.New("is a directory; give an SSH agent socket or a private key file")
	case !fi.Mode().IsRegular():
		// A device or a FIFO could block the read below forever.
		return errors.New("is neither an SSH agent socket nor a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read it: %v", unwrapPathError(err))
	}
	defer f.Close()
	dt, err := io.ReadAll(io.LimitReader(f, 100*1024))
	if err != nil {
		return fmt.Errorf("cannot read it: %v", err)
	}
	// The key is parsed and dropped: only the path goes on; BuildKit's provider reads it again.
	if _, err := ssh.ParseRawPrivateKey(dt); err != nil {
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return errors.New("the private key is protected by a passphrase, which the build cannot ask for; load it into an SSH agent (ssh-add) and forward the agent with default")
		}
		return errors.New("is neither an SSH agent socket nor a private key BuildKit can read (an unencrypted PEM or OpenSSH private key)")
	}
	return nil
}

// localDelete refuses a local output with mode=delete (BuildKit empties dest before it
// writes) whose dest is not strictly inside the working directory, unless allow holds
// buildx.local.delete: buildx build/opt.go ValidateLocalExportDelete and isSafeLocalDeleteDest.
func (p *parser) localDelete(outputs []*ExportEntry, allowed bool) {
	for _, o := range outputs {
		if o.Type != "local" {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(o.Attrs["mode"])) {
		case "", "copy":
			continue
		case "delete":
		default:
			p.fail("outputs", 0, fmt.Sprintf("invalid local exporter mode %q; use copy or delete", o.Attrs["mode"]))
			continue
		}
		if allowed {
			continue
		}
		if ok, err := insideWorkdir(o.Destination); err != nil || !ok {
			p.fail("outputs", 0, fmt.Sprintf("type=local,mode=delete empties dest=%s before writing, and it is not inside the working directory: add buildx.local.delete to allow if that is meant", o.Destination))
		}
	}
}

// insideWorkdir reports whether dest, symbolic links resolved as far as it exists, lies
// strictly below the working directory.
func insideWorkdir(dest string) (bool, error) {
	wd, err := os.Getwd()
	if err != nil {
		return false, err
	}
	if wd, err = resolveExisting(wd); err != nil {
		return false, err
	}
	if dest, err = resolveExisting(dest); err != nil {
		return false, err
	}
	rel, err := filepath.Rel(wd, dest)
	if err != nil {
		return false, nil
	}
	sep := string(filepath.Separator)
	return rel != "." && rel != ".." && !filepath.IsAbs(rel) && !strings.HasPrefix(rel, ".."+sep), nil
}

// resolveExisting makes p absolute and resolves the symbolic links of its longest existing
// prefix, keeping the rest as written (buildx's osutil.EvaluateToExistingPath).
func resolveExisting(p string) (string, error) {
	p, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for {
		r, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Clean(filepath.Join(r, rest)), nil
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Clean(filepath.Join(p, rest)), nil
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}
