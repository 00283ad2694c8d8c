package ghaaccel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Write-behind of layer blobs.
//
// BuildKit's gha exporter saves its blobs one after another (gha.go Finalize: "TODO: push
// parallel"), and each Save is CreateCacheEntry, the blocks, Put Block List and
// FinalizeCacheEntryUpload in turn: far from the storage every layer costs its round trips
// on top of its bytes. A blob's commit (the list once its blocks landed, then the
// finalize) is what nothing but the cache's index depends on, so for BuildKit's blob keys
// it happens here in the background: Put Block List and FinalizeCacheEntryUpload are
// answered as soon as they are held, and BuildKit goes on to its next layer while the
// last one's blocks are still on the way.
//
// The index is the barrier. BuildKit writes it last (SaveMutable), and a reader only
// finds blobs through it, so its CreateCacheEntry waits until every blob before it was
// committed at the storage and finalized at the service; if one was not, the reservation
// is refused and the index not written: the cache is never an index naming a blob the
// storage lacks. BuildKit then reports the export failed, as it would have for the blob.
// A lookup of a blob still being committed (a layer appearing twice) waits for it too.

// blobKeyPrefix is how BuildKit's gha backend names layer blobs (moby/buildkit
// cache/remotecache/gha/gha.go blobKeyPrefix: "buildkit-blob-" + version + "-"); every
// other key (its index, "index-<scope>-...#n") is committed in the request, as it came.
const blobKeyPrefix = "buildkit-blob-"

// entryRef is the key and version a twirp call names.
type entryRef struct {
	Key     string `json:"key"`
	Version string `json:"version"`
}

func refOf(body []byte) entryRef {
	var ref entryRef
	_ = json.Unmarshal(body, &ref) // untrusted and optional: a call without them has no write-behind
	return ref
}

func (ref entryRef) isBlob() bool { return strings.HasPrefix(ref.Key, blobKeyPrefix) }

// behindCommit is one blob's commit in the background.
type behindCommit struct {
	ref      entryRef
	finalize chan *twirpCall // BuildKit's FinalizeCacheEntryUpload
	done     chan struct{}   // closed when committed and finalized, or failed
	err      error           // set before done closes
}

func closed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// putBlockListBehind answers a blob's Put Block List at once and commits it at the
// storage once every block landed, then finalizes it when BuildKit asks.
func (p *Proxy) putBlockListBehind(w http.ResponseWriter, r *http.Request, s *session) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
	if err != nil {
		azureError(w, http.StatusBadRequest, "InvalidInput", "read block list")
		return
	}
	target, header := withQuery(s.current(), r.URL.RawQuery), storageHeader(r)
	commit := func() error {
		s.pending.Wait()
		s.mu.Lock()
		failed := s.failed
		s.mu.Unlock()
		if failed != nil {
			return fmt.Errorf("a block could not be uploaded: %w", failed)
		}
		if err := p.putWithRetries(p.ctx, target, header, body); err != nil {
			return fmt.Errorf("put block list: %w", err)
		}
		return nil
	}
	if !p.behindCommit(s, commit) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		p.putBlockList(w, r, s)
		return
	}
	answerPut(w, r)
}

// putBlobBehind is the same for a blob azblob sends whole (Put Blob: its UploadStream
// does that for a stream smaller than one block, i.e. most small layers): the bytes are
// held (under the budget) and put in the background.
func (p *Proxy) putBlobBehind(w http.ResponseWriter, r *http.Request, s *session) {
	data, release, ok := p.hold(w, r, "short blob body")
	if !ok {
		return
	}
	target, header := withQuery(s.current(), r.URL.RawQuery), storageHeader(r)
	commit := func() error {
		defer release()
		if err := p.putHeld(target, header, data); err != nil {
			return fmt.Errorf("put blob: %w", err)
		}
		return nil
	}
	if !p.behindCommit(s, commit) {
		if err := commit(); err != nil {
			azureError(w, http.StatusBadGateway, "ServerBusy", "layer cache accelerator: "+redacted(err))
			return
		}
		p.blobsUp.Add(1)
	}
	answerPut(w, r)
}

// answerPut answers a Put Block List or Put Blob as the storage does. What azblob reads of
// it: the status, and x-ms-request-id (go-actions-cache's uploadV2 logs *resp.RequestID).
func answerPut(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-request-id", "ghaaccel")
	if v := r.Header.Get("x-ms-version"); v != "" {
		w.Header().Set("x-ms-version", v)
	}
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusCreated)
}

// behindCommit registers s's blob for write-behind and runs commit, then BuildKit's
// finalize, in the background. It is false (nothing started) when the blob is already
// being committed: a second upload of one reservation, not what go-actions-cache sends,
// goes through in the request.
func (p *Proxy) behindCommit(s *session, commit func() error) bool {
	bc := &behindCommit{ref: s.ref, finalize: make(chan *twirpCall, 1), done: make(chan struct{})}
	p.mu.Lock()
	if prev := p.behind[s.ref]; prev != nil && !closed(prev.done) {
		p.mu.Unlock()
		return false
	}
	p.behind[s.ref] = bc
	p.mu.Unlock()
	p.work.Add(1)
	go func() {
		defer p.work.Done()
		bc.err = commit()
		if bc.err == nil {
			p.blobsUp.Add(1)
			bc.err = p.finalizeWhenAsked(bc)
		}
		if bc.err != nil {
			p.failures.Add(1)
			p.opt.Logf("layer cache: blob %s not saved: %s", bc.ref.Key, redacted(bc.err))
		}
		close(bc.done)
	}()
	return true
}

// finalizeWhenAsked sends BuildKit's finalize of a committed blob to the service.
func (p *Proxy) finalizeWhenAsked(bc *behindCommit) error {
	var call *twirpCall
	select {
	case call = <-bc.finalize:
	case <-p.stopped: // no finalize can come any more
		return errors.New("BuildKit did not finalize the blob")
	case <-p.ctx.Done():
		return errors.New("closed before BuildKit finalized the blob")
	}
	var failed error
	for attempt := range 3 {
		status, _, answer, err := p.send(p.ctx, call)
		if err == nil && status == http.StatusOK {
			var res struct {
				OK bool `json:"ok"`
			}
			if json.Unmarshal(answer, &res) == nil && res.OK {
				return nil
			}
			return fmt.Errorf("FinalizeCacheEntryUpload answered not ok: %.200s", answer)
		}
		if err == nil && status < 500 {
			return fmt.Errorf("FinalizeCacheEntryUpload answered %d: %.200s", status, answer)
		}
		if err != nil {
			failed = err
		} else {
			failed = fmt.Errorf("FinalizeCacheEntryUpload answered %d", status)
		}
		if attempt < 2 {
			if serr := p.opt.sleep(p.ctx, time.Duration(attempt+1)*time.Second); serr != nil {
				return serr
			}
		}
	}
	return failed
}

// finalizeBehind takes BuildKit's finalize of a blob under write-behind and answers it
// as the service does once the commit is certain to be tried; ok is false when the blob
// is not under write-behind (the call then goes to the service now).
func (p *Proxy) finalizeBehind(w http.ResponseWriter, call *twirpCall, ref entryRef) bool {
	if !ref.isBlob() {
		return false
	}
	p.mu.Lock()
	bc := p.behind[ref]
	p.mu.Unlock()
	if bc == nil {
		return false
	}
	select {
	case <-bc.done: // already failed (its blocks or its list): say so now
		if bc.err != nil {
			writeTwirpError(w, http.StatusInternalServerError, "internal", "layer cache accelerator: "+redacted(bc.err))
			return true
		}
		return false
	default:
	}
	select {
	case bc.finalize <- call:
	default: // finalized twice: the second goes through
		return false
	}
	// The service's answer to a finalize (FinalizeCacheEntryUploadResponse); the entry id
	// is the service's, which go-actions-cache only logs.
	data, _ := json.Marshal(map[string]any{"ok": true, "entry_id": "0"})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return true
}

// barrier waits for the write-behind commits a call must see: every one before an index
// reservation (any key BuildKit does not name a blob), the blob's own before its lookup.
// It returns what failed, if anything did, for a reservation to refuse on.
func (p *Proxy) barrier(ctx context.Context, method string, ref entryRef) error {
	var wait []*behindCommit
	p.mu.Lock()
	switch {
	case method == "CreateCacheEntry" && !ref.isBlob():
		for _, bc := range p.behind {
			wait = append(wait, bc)
		}
	case method == "GetCacheEntryDownloadURL" && ref.isBlob():
		if bc := p.behind[ref]; bc != nil {
			wait = append(wait, bc)
		}
	}
	p.mu.Unlock()
	var failed []string
	for _, bc := range wait {
		select {
		case <-bc.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if bc.err != nil {
			failed = append(failed, bc.ref.Key)
		}
	}
	if len(failed) > 0 && method == "CreateCacheEntry" {
		return fmt.Errorf("%d layer blob(s) could not be saved (%s); the cache index is not written, so it never names a missing blob", len(failed), strings.Join(failed, ", "))
	}
	return nil
}
