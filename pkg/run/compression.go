package run

import (
	"github.com/moby/buildkit/client"
	"github.com/warmbuild/warmbuild/pkg/inputs"
)

// Exporters whose layers BuildKit compresses, and cache backends that store layers.
var (
	layerExporters = map[string]bool{client.ExporterImage: true, client.ExporterOCI: true, client.ExporterDocker: true}
	layerCaches    = map[string]bool{"gha": true, "registry": true, "local": true, "s3": true, "azblob": true}
)

// applyCompressionLevel gives every layer-writing export and cache export the gzip level,
// unless the entry already chose its compression: an entry naming compression-level keeps
// it, and one naming another compression (zstd, estargz, uncompressed) keeps that
// compression's own default level. Layers BuildKit already has (base images) are reused
// as they are; only the layers this build creates are compressed at the level.
func applyCompressionLevel(exports []client.ExportEntry, caches []client.CacheOptionsEntry, level inputs.CompressionLevel) {
	lv := level.String()
	for i := range exports {
		if layerExporters[exports[i].Type] {
			if exports[i].Attrs == nil {
				exports[i].Attrs = map[string]string{}
			}
			setLevel(exports[i].Attrs, lv)
		}
	}
	for i := range caches {
		if layerCaches[caches[i].Type] {
			if caches[i].Attrs == nil {
				caches[i].Attrs = map[string]string{}
			}
			setLevel(caches[i].Attrs, lv)
		}
	}
}

func setLevel(attrs map[string]string, level string) {
	if _, ok := attrs["compression-level"]; ok {
		return
	}
	if c := attrs["compression"]; c != "" && c != "gzip" {
		return
	}
	attrs["compression-level"] = level
}
