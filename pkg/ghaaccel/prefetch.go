package ghaaccel

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// BuildKit looks a cached layer's blob up only when a step after it has to run (the
// layer is that step's parent), which is after the build context arrived: a lookup and a
// download, two round trips to the cache service and its storage for what is often a
// 96-byte WORKDIR layer (0.2 s under the bench's far profile, on the path of every build
// whose first miss follows a cached step). The cache's index names every layer with its
// size, and BuildKit reads it as the build starts; the accelerator then fetches the small
// layers itself and answers BuildKit's later lookup and download from what it holds.
// The bytes are the storage's: checked against the layer's digest, served as they came.

const (
	indexKeyPrefix = "index-"
	// blobKeyV1 is how BuildKit's gha backend keys a layer (cache/remotecache/gha/gha.go:
	// "buildkit-blob-" + version + "-" + digest, version "1").
	blobKeyV1 = blobKeyPrefix + "1-"

	prefetchMaxBlob  = 1 << 20 // larger layers come through the download ranges
	prefetchMaxTotal = 8 << 20
	prefetchMaxBlobs = 64
	maxIndexBytes    = 16 << 20
)

// prefetched is one small layer fetched ahead: the service's answer to its lookup and
// its bytes. ok is false when either could not be had (BuildKit then asks as usual).
type prefetched struct {
	done   chan struct{}
	answer []byte
	data   []byte
	ok     bool
}

// indexLayers is what the prefetch reads of BuildKit's cache index (v1 CacheConfig,
// cache/remotecache/v1/types/spec.go); the rest is BuildKit's.
type indexLayers struct {
	Layers []struct {
		Blob        string `json:"blob"`
		Annotations *struct {
			Size int64 `json:"size"`
		} `json:"annotations"`
	} `json:"layers"`
}

// smallLayers returns the digests of the index's layers of at most prefetchMaxBlob bytes,
// within the prefetch's limits, each once. The index is untrusted: a digest must be a
// sha256 in its canonical form.
func smallLayers(index []byte) []string {
	var idx indexLayers
	if err := json.Unmarshal(index, &idx); err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	var total int64
	for _, l := range idx.Layers {
		if l.Annotations == nil || l.Annotations.Size <= 0 || l.Annotations.Size > prefetchMaxBlob || seen[l.Blob] || !isSHA256(l.Blob) {
			continue
		}
		if len(out) == prefetchMaxBlobs || total+l.Annotations.Size > prefetchMaxTotal {
			break
		}
		seen[l.Blob] = true
		total += l.Annotations.Size
		out = append(out, l.Blob)
	}
	return out
}

func isSHA256(d string) bool {
	hexPart, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hexPart) != 64 {
		return false
	}
	_, err := hex.DecodeString(hexPart)
	return err == nil && strings.ToLower(hexPart) == hexPart
}

// startPrefetch reads the index whose lookup BuildKit just made (call, answered with the
// signed URL in answer) and fetches its small layers in the background.
func (p *Proxy) startPrefetch(call *twirpCall, ref entryRef, answer []byte) {
	signed, _, err := signedURLOf(answer, "signed_download_url")
	if err != nil || signed == "" || ref.Version == "" {
		return
	}
	p.work.Add(1)
	go func() {
		defer p.work.Done()
		index, err := p.getWhole(p.ctx, signed, maxIndexBytes)
		if err != nil {
			return
		}
		for _, dgst := range smallLayers(index) {
			bref := entryRef{Key: blobKeyV1 + dgst, Version: ref.Version}
			p.mu.Lock()
			if _, ok := p.prefetch[bref]; ok {
				p.mu.Unlock()
				continue // another scope's index named it too
			}
			pf := &prefetched{done: make(chan struct{})}
			p.prefetch[bref] = pf
			p.mu.Unlock()
			p.fetchAhead(call, bref, dgst, pf)
		}
	}()
}

// fetchAhead looks bref up as BuildKit would (go-actions-cache loadV2: the key, itself as
// the only restore key, the version) with BuildKit's own credentials, and downloads it.
func (p *Proxy) fetchAhead(index *twirpCall, bref entryRef, dgst string, pf *prefetched) {
	defer close(pf.done)
	body, err := json.Marshal(struct {
		Key         string   `json:"key"`
		RestoreKeys []string `json:"restore_keys"`
		Version     string   `json:"version"`
	}{bref.Key, []string{bref.Key}, bref.Version})
	if err != nil {
		return
	}
	call := &twirpCall{method: "GetCacheEntryDownloadURL", header: index.header, body: body}
	status, _, answer, err := p.send(p.ctx, call)
	if err != nil || status != http.StatusOK {
		return
	}
	signed, _, err := signedURLOf(answer, "signed_download_url")
	if err != nil || signed == "" {
		return
	}
	data, err := p.getWhole(p.ctx, signed, prefetchMaxBlob)
	if err != nil {
		return
	}
	if sum := sha256.Sum256(data); "sha256:"+hex.EncodeToString(sum[:]) != dgst {
		return // not the layer the index names: BuildKit asks the storage itself
	}
	pf.answer, pf.data, pf.ok = answer, data, true
}

// getWhole GETs a blob of at most limit bytes.
func (p *Proxy) getWhole(ctx context.Context, signed string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, signed, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("x-ms-version", "2025-01-05")
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		return nil, &statusError{status: resp.StatusCode, code: resp.Header.Get("x-ms-error-code")}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("more than %d bytes", limit)
	}
	p.downloaded.Add(int64(len(data)))
	return data, nil
}

// answerPrefetched answers BuildKit's lookup of a layer fetched ahead, waiting for the
// fetch if it is still running. It returns false when there is none, or it failed: the
// lookup then goes to the service.
func (p *Proxy) answerPrefetched(w http.ResponseWriter, r *http.Request, call *twirpCall, ref entryRef) bool {
	p.mu.Lock()
	pf := p.prefetch[ref]
	p.mu.Unlock()
	if pf == nil {
		return false
	}
	select {
	case <-pf.done:
	case <-r.Context().Done():
		return false
	}
	if !pf.ok {
		return false
	}
	answer, ok := p.rewriteAnswerHeld(call.method, pf.answer, "http://"+r.Host, call, pf.data)
	if !ok {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(answer)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(answer)
	return true
}

// serveHeld answers a GET of a layer fetched ahead, whole or a range of it, as the
// storage would.
func (p *Proxy) serveHeld(w http.ResponseWriter, r *http.Request, s *session) {
	start, end, ranged, ok := requestedRange(r)
	total := int64(len(s.held))
	if !ok || ranged && start >= total {
		w.Header().Set("Content-Range", "bytes */"+strconv.FormatInt(total, 10))
		azureError(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The range specified is invalid for the current size of the resource.")
		return
	}
	if end < 0 || end > total-1 {
		end = total - 1
	}
	p.blobsDown.Add(1)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("x-ms-blob-type", "BlockBlob")
	writeRangeHead(w, start, end, total, ranged)
	_, _ = io.Copy(w, bytes.NewReader(s.held[start:end+1]))
}
