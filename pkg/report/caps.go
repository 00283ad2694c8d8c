package report

import (
	"fmt"
	"slices"
	"strings"
)

// caps (issue 18): what each mount cache costs of the repository's Actions cache quota
// (10 GB, shared with the layer cache, least recently used entries evicted past it), the
// cap a pruned save was held to, and the platform of each directory of a multi-platform
// build.

// quotaCell is what the mount takes of the quota; "–" when the storage did not say.
func quotaCell(m MountEntry) string {
	if m.QuotaBytes == nil {
		return "–"
	}
	return Bytes(*m.QuotaBytes)
}

// savedCell is the Saved column: the bytes saved, or why nothing was; with the cap it was
// pruned to.
func savedCell(m MountEntry) string {
	saved := "–"
	if m.Saved {
		saved = Bytes(m.SavedBytes)
	} else if m.SaveNote != "" {
		saved = TableText(m.SaveNote)
	}
	if p := m.Pruned; p != nil {
		saved += fmt.Sprintf(" (pruned %s to the %s cap)", Bytes(p.Bytes), Bytes(p.MaxBytes))
	}
	return saved
}

// multiPlatform says whether the mounts' platforms are worth a word: they are not one and
// the same platform (a single-platform build).
func (r Result) multiPlatform() bool {
	for _, m := range r.Mounts {
		if m.Platform == "all" || strings.Contains(m.Platform, ",") || m.Platform != r.Mounts[0].Platform {
			return true
		}
	}
	return false
}

// mountLabel is the mount's name in the table, with its platform in a multi-platform build.
func mountLabel(m MountEntry, multi bool) string {
	if !multi || m.Platform == "" {
		return mountName(m)
	}
	what := TableText(m.Platform)
	if m.Platform == "all" {
		what = "all platforms"
	}
	if m.Ecosystem == "" {
		return TableCode(m.ID) + " (" + what + ")"
	}
	return TableCode(m.ID) + " (" + TableText(m.Ecosystem) + ", " + what + ")"
}

// mountTotals writes the table's total row (of two mounts or more) and the sentence that sums each ecosystem's
// share of the quota: "pip 310.0 MiB + npm 45.0 MiB of the 10 GB".
func (r Result) mountTotals(b *strings.Builder) {
	restored, saved := r.MountBytes()
	var quota int64
	unknown := false
	type share struct {
		name  string
		bytes int64
	}
	var shares []share
	for _, m := range r.Mounts {
		if m.QuotaBytes == nil {
			unknown = true
			continue
		}
		quota += *m.QuotaBytes
		if *m.QuotaBytes == 0 {
			continue
		}
		// A mount no ecosystem claims is named by its id.
		name := TableText(m.Ecosystem)
		if m.Ecosystem == "" {
			name = TableCode(m.ID)
		}
		i := slices.IndexFunc(shares, func(s share) bool { return s.name == name })
		if i < 0 {
			shares, i = append(shares, share{name: name}), len(shares)
		}
		shares[i].bytes += *m.QuotaBytes
	}
	total := Bytes(quota)
	switch {
	case unknown && quota == 0:
		total = "–"
	case unknown:
		total = "at least " + total
	}
	if len(r.Mounts) > 1 {
		fmt.Fprintf(b, "| total | | %s | %s | | %s |\n", Bytes(restored), Bytes(saved), total)
	}
	if quota == 0 {
		return
	}
	parts := make([]string, len(shares))
	for i, s := range shares {
		parts[i] = s.name + " " + Bytes(s.bytes)
	}
	fmt.Fprintf(b, "\nMount caches in the repository's Actions cache: %s of its 10 GB, which the layer cache shares", strings.Join(parts, " + "))
	if r.RepoCacheUsageKnown {
		fmt.Fprintf(b, " (all its caches: %s)", Bytes(r.RepoCacheUsageBytes))
	}
	b.WriteString(".\n")
}
