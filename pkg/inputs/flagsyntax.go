package inputs

// buildx's flag syntax for --cache-from/--cache-to, --output and --build-context.
//
// We parse it here instead of importing github.com/docker/buildx/util/buildflags: that
// package pulls in buildx's policy engine (Open Policy Agent) and the docker CLI, which
// made the action's binary 16 MB larger (35.6 MB for buildflags alone against 19.5 MB for
// the whole BuildKit client), and the binary's size is the action's start-up time on every
// job. flagsyntax_test.go checks that we read every form the same way buildflags does.

import (
	"encoding/csv"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/distribution/reference"
	"github.com/tonistiigi/go-csvvalue"
)

// CacheEntry is one --cache-from / --cache-to value.
type CacheEntry struct {
	Type  string
	Attrs map[string]string
}

// CacheEntries is a list of cache entries in order.
type CacheEntries []*CacheEntry

// Equal reports whether two entries are the same.
func (e *CacheEntry) Equal(o *CacheEntry) bool {
	return e.Type == o.Type && maps.Equal(e.Attrs, o.Attrs)
}

// String writes the entry back in buildx's CSV syntax (attributes sorted).
func (e *CacheEntry) String() string {
	if e.Type == "registry" && len(e.Attrs) == 1 && e.Attrs["ref"] != "" {
		return e.Attrs["ref"]
	}
	var b csvBuilder
	if e.Type != "" {
		b.write("type", e.Type)
	}
	b.writeAttrs(e.Attrs)
	return b.String()
}

// ParseCacheEntry reads one line of cache-from/cache-to: "type=T,k=v,..." or a bare image
// reference (several, comma-separated), which means type=registry,ref=IMAGE.
func ParseCacheEntry(in string) (CacheEntries, error) {
	if in == "" {
		return nil, nil
	}
	fields, err := csvvalue.Fields(in, nil)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(in, "=") {
		var out CacheEntries
		for _, f := range fields {
			// buildx parses each field as CSV once more (util/buildflags/cache.go:
			// ParseCacheEntry hands it to CacheOptionsEntry.UnmarshalText), so quotes
			// left in a field are read again: `""""` is an error there, `""""""` an
			// empty ref. FuzzFlagSyntax found the difference.
			sub, err := csvvalue.Fields(f, nil)
			if err != nil {
				return nil, err
			}
			switch len(sub) {
			case 1:
			case 0:
				return nil, fmt.Errorf("type required for %q", f)
			default:
				return nil, fmt.Errorf("invalid value %s", sub[0])
			}
			out = append(out, &CacheEntry{Type: "registry", Attrs: map[string]string{"ref": sub[0]}})
		}
		return out, nil
	}
	e := &CacheEntry{Attrs: map[string]string{}}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid value %s", f)
		}
		if k = strings.ToLower(k); k == "type" {
			e.Type = v
		} else {
			e.Attrs[k] = v
		}
	}
	if e.Type == "" {
		return nil, fmt.Errorf("type required for %q", in)
	}
	return CacheEntries{e}, nil
}

// ExportEntry is one --output value.
type ExportEntry struct {
	Type        string
	Attrs       map[string]string
	Destination string
}

// ParseExport reads one line of outputs: "type=T,dest=D,k=v" or a bare path (a local
// directory export).
func ParseExport(in string) (*ExportEntry, error) {
	fields, err := csvvalue.Fields(in, nil)
	if err != nil {
		return nil, err
	}
	e := &ExportEntry{Attrs: map[string]string{}}
	if len(fields) == 1 && fields[0] == in && !strings.HasPrefix(in, "type=") {
		if in == "-" {
			return &ExportEntry{Type: "tar", Attrs: map[string]string{}, Destination: in}, nil
		}
		return &ExportEntry{Type: "local", Attrs: map[string]string{}, Destination: in}, nil
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("invalid value %s", f)
		}
		switch k = strings.TrimSpace(strings.ToLower(k)); k {
		case "type":
			e.Type = v
		case "dest":
			e.Destination = v
		default:
			e.Attrs[k] = v
		}
	}
	if e.Type == "" {
		return nil, fmt.Errorf("type is required for output")
	}
	return e, nil
}

// ParseContextName reads one build-contexts line, name=value, normalising the name the way
// buildx does (docker.io/library/alpine:latest and alpine are the same context).
func ParseContextName(in string) (name, value string, err error) {
	k, v, ok := strings.Cut(in, "=")
	if !ok {
		return "", "", fmt.Errorf("invalid context value: %s, expected key=value", in)
	}
	named, err := reference.ParseNormalizedNamed(k)
	if err != nil {
		return "", "", fmt.Errorf("invalid context name %s: %w", k, err)
	}
	return strings.TrimSuffix(reference.FamiliarString(named), ":latest"), v, nil
}

type csvBuilder struct{ sb strings.Builder }

func (w *csvBuilder) write(key, value string) {
	if w.sb.Len() > 0 {
		w.sb.WriteByte(',')
	}
	pair := key + "=" + value
	if strings.ContainsAny(pair, ",\"") {
		var q strings.Builder
		cw := csv.NewWriter(&q)
		cw.Write([]string{pair})
		cw.Flush()
		pair = strings.TrimSpace(q.String())
	}
	w.sb.WriteString(pair)
}

func (w *csvBuilder) writeAttrs(attrs map[string]string) {
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.write(k, attrs[k])
	}
}

func (w *csvBuilder) String() string { return w.sb.String() }
