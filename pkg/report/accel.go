package report

// accel (issue 16): what the layer cache moved.

import (
	"fmt"
	"strconv"
	"strings"
)

// layerBytes is a layer-cache-*-bytes output: empty when not measured (registry or local
// backend, BuildKit's own gha path), else the count.
func (r Result) layerBytes(n int64) string {
	if !r.LayerBytesKnown {
		return ""
	}
	return strconv.FormatInt(n, 10)
}

// layerTransferRow is the summary's "Layer cache transfer" row: bytes up and down and
// the waits for the upload limit, or why BuildKit moved the layers on its own.
func (r Result) layerTransferRow(b *strings.Builder) {
	if r.LayerTransfer == "" {
		return
	}
	text := r.LayerTransfer
	if r.LayerBytesKnown {
		text = fmt.Sprintf("%s up, %s down (%s)", Bytes(r.LayerUploadedBytes), Bytes(r.LayerDownloadedBytes), r.LayerTransfer)
		if r.LayerRateLimitWaits > 0 {
			text += fmt.Sprintf("; waited %s for the upload limit (%d× 429, Retry-After honoured)", seconds(r.LayerRateLimitWait), r.LayerRateLimitWaits)
		}
	}
	fmt.Fprintf(b, "| Layer cache transfer | %s |\n", TableText(text))
}
