package report

import "fmt"

// eco (issue 18): the mount cache table names each mount's package manager, so the
// summary says what each ecosystem's cache costs (its Restored and Saved bytes), and
// counts that package manager's packages.

// mountName is the mount's id, with its ecosystem when discovery knows it.
func mountName(m MountEntry) string {
	if m.Ecosystem == "" {
		return TableCode(m.ID)
	}
	return TableCode(m.ID) + " (" + TableText(m.Ecosystem) + ")"
}

// packagesCell is "cached/total" of the mount's packages: the ecosystem's count, else
// pip's; "–" when its output gave none.
func packagesCell(m MountEntry) string {
	switch {
	case m.Packages != nil && m.Packages.Total > 0:
		return fmt.Sprintf("%d/%d", m.Packages.Cached, m.Packages.Total)
	case m.Pip != nil && m.Pip.Total > 0:
		return fmt.Sprintf("%d/%d", m.Pip.Cached, m.Pip.Total)
	}
	return "–"
}
