package buildrecord

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// Store keeps one record per layer cache scope, next to that cache.
type Store interface {
	// Read returns the scope's newest record, nil without one.
	Read(ctx context.Context, scope string) (*Record, error)
	Write(ctx context.Context, scope string, r *Record) error
}

// keyPrefix and the version make a gha record its own small entry of the Actions cache,
// keyed by the scope: "warmbuild-buildrecord-<scope>/<hash of the record>". The slash
// ends the scope, so a prefix lookup of "main/" does not find "main-2/"'s records; the
// hash makes a run whose build is unchanged find its entry there (no new upload).
const keyPrefix = "warmbuild-buildrecord-"

var recordVersion = cacheservice.Version([]string{"warmbuild-buildrecord"}, "json")

// ServiceStore keeps the records of gha scopes in the Actions cache.
type ServiceStore struct{ Client *cacheservice.Client }

func (s ServiceStore) Read(ctx context.Context, scope string) (*Record, error) {
	e, err := s.Client.Restore(ctx, keyPrefix+scope+"/", nil, recordVersion)
	if err != nil || e == nil {
		return nil, err
	}
	if e.Size > MaxBytes {
		return nil, fmt.Errorf("build record %s: %d bytes, more than %d", e.Key, e.Size, MaxBytes)
	}
	rc := e.Open(ctx)
	defer rc.Close()
	return Decode(rc)
}

func (s ServiceStore) Write(ctx context.Context, scope string, r *Record) error {
	commit, err := s.Stage(ctx, scope, r)
	if err != nil {
		return err
	}
	return commit(ctx)
}

// Stage uploads r as Write does and leaves the entry to commit: the reservation and
// the upload are several round trips to the service and its storage, done while
// BuildKit exports; the commit, one call, once the layer cache is known saved. A
// record never committed is never read.
func (s ServiceStore) Stage(ctx context.Context, scope string, r *Record) (commit func(context.Context) error, err error) {
	var b bytes.Buffer // a record is small: hashes and names, bounded by Decode's limits
	if err := r.Encode(&b); err != nil {
		return nil, err
	}
	data := b.Bytes()
	sum := sha256.Sum256(data)
	key := keyPrefix + scope + "/" + hex.EncodeToString(sum[:8])
	st, err := s.Client.Stage(ctx, key, recordVersion, bytes.NewReader(data))
	if err == nil && st.AlreadyExists() {
		// The service answers a reservation never committed as it answers a saved entry
		// (409): a run that staged this record and whose layer cache export then failed
		// holds the key. The record then goes under a key of its own; Read finds the
		// scope's newest either way.
		if e, lerr := s.Client.Restore(ctx, key, nil, recordVersion); lerr == nil && e == nil {
			var nonce [4]byte
			_, _ = rand.Read(nonce[:])
			st, err = s.Client.Stage(ctx, key+"."+hex.EncodeToString(nonce[:]), recordVersion, bytes.NewReader(data))
		}
	}
	if err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := st.Commit(ctx)
		return err
	}, nil
}

// Stager is a Store whose writes can be split in two (ServiceStore).
type Stager interface {
	Stage(ctx context.Context, scope string, r *Record) (commit func(context.Context) error, err error)
}

// DirStore keeps the record of a local cache directory in that directory, beside the
// index.json BuildKit's local cache exporter writes there.
type DirStore struct{}

// FileName is the record's name in a local cache directory.
const FileName = "warmbuild-buildrecord.json"

func (DirStore) Read(_ context.Context, dir string) (*Record, error) {
	f, err := os.Open(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f)
}

func (DirStore) Write(_ context.Context, dir string, r *Record) error {
	tmp, err := os.CreateTemp(dir, ".buildrecord-*")
	if err != nil {
		return fmt.Errorf("write build record: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := r.Encode(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write build record: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write build record: %w", err)
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, FileName))
}
