// Package report tells the user what happened: step outputs, the job summary, log groups
// and annotations. It is the only package that writes workflow commands.
package report

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Outputs are the step outputs. Zero values are written as documented defaults (a ratio
// of "0.00", a count of "0"), so a later step can always compare them.
type Outputs struct {
	Digest   string
	ImageID  string
	Metadata map[string]any

	LayerCacheStepsCached int
	LayerCacheStepsTotal  int
	BuildDurationSeconds  float64

	CacheBackend    string
	CacheSaved      bool
	CacheSaveReason string
	CacheWarnings   []string

	MountCacheHit           string // exact, partial, miss, or none (no mount cache in play)
	MountCacheReport        any    // per-mount JSON
	MountCacheRestoredBytes int64
	MountCacheSavedBytes    int64
	PipPackagesTotal        int
	PipPackagesCached       int

	RepoCacheUsageBytes int64 // -1 when unknown
}

// Output is one name=value pair as written to $GITHUB_OUTPUT.
type Output struct{ Name, Value string }

// OutputNames is every output the action sets; action.yml declares exactly these.
var OutputNames = func() []string {
	var names []string
	for _, o := range (Outputs{}).List() {
		names = append(names, o.Name)
	}
	return names
}()

// Ratio formats a hit ratio the way the outputs promise: two decimals, "0.00" when
// nothing was counted.
func Ratio(part, total int) string {
	if total <= 0 {
		return "0.00"
	}
	return strconv.FormatFloat(float64(part)/float64(total), 'f', 2, 64)
}

// List returns the outputs in a stable order.
func (o Outputs) List() []Output {
	metadata := "{}"
	if len(o.Metadata) > 0 {
		if b, err := json.Marshal(o.Metadata); err == nil {
			metadata = string(b)
		}
	}
	report := "[]"
	if o.MountCacheReport != nil {
		if b, err := json.Marshal(o.MountCacheReport); err == nil {
			report = string(b)
		}
	}
	warnings := "[]"
	if len(o.CacheWarnings) > 0 {
		b, _ := json.Marshal(o.CacheWarnings)
		warnings = string(b)
	}
	hit := o.MountCacheHit
	if hit == "" {
		hit = "none"
	}
	usage := ""
	if o.RepoCacheUsageBytes >= 0 {
		usage = strconv.FormatInt(o.RepoCacheUsageBytes, 10)
	}
	return []Output{
		{"digest", o.Digest},
		{"imageid", o.ImageID},
		{"metadata", metadata},
		{"layer-cache-hit-ratio", Ratio(o.LayerCacheStepsCached, o.LayerCacheStepsTotal)},
		{"layer-cache-steps-cached", strconv.Itoa(o.LayerCacheStepsCached)},
		{"layer-cache-steps-total", strconv.Itoa(o.LayerCacheStepsTotal)},
		{"build-duration-seconds", fmt.Sprintf("%.2f", o.BuildDurationSeconds)},
		{"cache-backend", o.CacheBackend},
		{"cache-saved", strconv.FormatBool(o.CacheSaved)},
		{"cache-save-reason", o.CacheSaveReason},
		{"cache-warnings", warnings},
		{"mount-cache-hit", hit},
		{"mount-cache-report", report},
		{"mount-cache-restored-bytes", strconv.FormatInt(o.MountCacheRestoredBytes, 10)},
		{"mount-cache-saved-bytes", strconv.FormatInt(o.MountCacheSavedBytes, 10)},
		{"pip-packages-total", strconv.Itoa(o.PipPackagesTotal)},
		{"pip-packages-cached", strconv.Itoa(o.PipPackagesCached)},
		{"pip-cache-hit-ratio", Ratio(o.PipPackagesCached, o.PipPackagesTotal)},
		{"repo-cache-usage-bytes", usage},
	}
}
