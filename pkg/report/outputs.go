// Package report tells the user what happened: step outputs, the job summary, log groups
// and annotations. It is the only package that writes workflow commands.
package report

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Output is one name=value pair as written to $GITHUB_OUTPUT.
type Output struct{ Name, Value string }

// OutputNames is every output the action sets; action.yml declares exactly these.
var OutputNames = func() []string {
	var names []string
	for _, o := range (Result{}).Outputs() {
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

// Outputs are the step outputs of r, in a stable order. Zero values are written as
// documented defaults (a ratio of "0.00", a count of "0", "[]"), so a later step can
// always compare them.
func (r Result) Outputs() []Output {
	metadata := "{}"
	if len(r.Metadata) > 0 {
		if b, err := json.Marshal(r.Metadata); err == nil {
			metadata = string(b)
		}
	}
	report := "[]"
	if len(r.Mounts) > 0 {
		if b, err := json.Marshal(r.Mounts); err == nil {
			report = string(b)
		}
	}
	warnings := "[]"
	if len(r.Warnings) > 0 {
		b, _ := json.Marshal(r.Warnings)
		warnings = string(b)
	}
	usage := ""
	if r.RepoCacheUsageKnown {
		usage = strconv.FormatInt(r.RepoCacheUsageBytes, 10)
	}
	restored, saved := r.MountBytes()
	return []Output{
		{"digest", r.Digest},
		{"imageid", r.ImageID},
		{"metadata", metadata},
		{"layer-cache-hit-ratio", Ratio(r.StepsCached, r.StepsTotal)},
		{"layer-cache-steps-cached", strconv.Itoa(r.StepsCached)},
		{"layer-cache-steps-total", strconv.Itoa(r.StepsTotal)},
		{"layer-cache-first-miss", r.FirstMiss.FirstMissOutput()}, // explain (issue 17)
		{"layer-cache-miss-reason", r.missReason()},
		{"build-duration-seconds", fmt.Sprintf("%.2f", r.Duration.Seconds())},
		{"cache-backend", r.Backend},
		{"cache-saved", strconv.FormatBool(r.CacheSaved)},
		{"cache-save-reason", r.SaveReason},
		{"cache-warnings", warnings},
		{"mount-cache-hit", r.MountCacheHit()},
		{"mount-cache-report", report},
		{"mount-cache-restored-bytes", strconv.FormatInt(restored, 10)},
		{"mount-cache-saved-bytes", strconv.FormatInt(saved, 10)},
		{"pip-packages-total", strconv.Itoa(r.PipTotal)},
		{"pip-packages-cached", strconv.Itoa(r.PipCached)},
		{"pip-cache-hit-ratio", Ratio(r.PipCached, r.PipTotal)},
		{"repo-cache-usage-bytes", usage},
		{"layer-cache-uploaded-bytes", r.layerBytes(r.LayerUploadedBytes)},     // accel (issue 16)
		{"layer-cache-downloaded-bytes", r.layerBytes(r.LayerDownloadedBytes)}, // accel (issue 16)
		{"mount-cache-packages-total", strconv.Itoa(r.PackagesTotal)},          // eco (issue 18)
		{"mount-cache-packages-cached", strconv.Itoa(r.PackagesCached)},        // eco (issue 18)
	}
}
