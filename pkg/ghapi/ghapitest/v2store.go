package ghapitest

import (
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// V2Store makes a Server's endpoints list and delete the entries the cache service
// stand-in really holds, as GitHub's REST API lists and deletes those the cache service
// keeps: an entry deleted through the REST API is gone for the next run's lookups too.
//
// The REST API shows finalized entries only (a reservation has no size yet) with the
// ref they were saved from; the stand-in records no access time, so an entry's
// last_accessed_at is its created_at.
func V2Store(srv *cachetest.V2Server) Store { return v2Store{srv} }

type v2Store struct{ srv *cachetest.V2Server }

func (v v2Store) Caches() []Cache {
	var out []Cache
	for _, e := range v.srv.Entries() {
		if e.Finalized {
			out = append(out, cacheOf(e))
		}
	}
	return out
}

func (v v2Store) Delete(match func(Cache) bool) []Cache {
	var out []Cache
	for _, e := range v.srv.Delete(func(e cachetest.Entry) bool { return e.Finalized && match(cacheOf(e)) }) {
		out = append(out, cacheOf(e))
	}
	return out
}

func cacheOf(e cachetest.Entry) Cache {
	return Cache{ID: e.ID, Ref: e.Scope, Key: e.Key, Version: e.Version, CreatedAt: e.CreatedAt, LastAccessedAt: e.CreatedAt, SizeInBytes: e.Size}
}
