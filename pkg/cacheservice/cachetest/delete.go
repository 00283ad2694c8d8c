package cachetest

// Delete removes the entries match selects and returns them: what GitHub's
// REST API does to the cache service's entries (DELETE /repos/{owner}/{repo}/actions/caches
// by key or by id; pkg/ghapi/ghapitest serves it over this server's entries, issue 17).
// Unlike Evict it selects by anything an entry has (exact key, scope, id). The blobs stay
// in Azurite until Close; no lookup finds the entries.
func (s *V2Server) Delete(match func(Entry) bool) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.entries[:0]
	var deleted []Entry
	for _, e := range s.entries {
		if match(*e) {
			deleted = append(deleted, *e)
			continue
		}
		kept = append(kept, e)
	}
	clear(s.entries[len(kept):])
	s.entries = kept
	return deleted
}
