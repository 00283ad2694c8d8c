package cacheservice_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
	"github.com/warmbuild/warmbuild/pkg/cacheservice/cachetest"
)

// github.com answers a reservation it does not grant with ok: false and a message; only
// 409 already_exists means the key exists. A denied write must come back as an error that
// carries GitHub's words, not as "someone saved it first".
func TestRefusedReservationIsAnErrorWithTheServicesMessageNotARace(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c := newClient(t, srv.Getenv)
	untouched := iotest.ErrReader(errors.New("the stream was read"))

	srv.Inject(cachetest.Fault{Op: cachetest.CreateCacheEntry, Refuse: cachetest.WriteDenied})
	res, err := c.Save(context.Background(), "pip-denied", version, untouched)
	if err == nil || res.AlreadyExists {
		t.Fatalf("Save refused with ok: false = %+v, %v; want an error, not AlreadyExists", res, err)
	}
	if !strings.Contains(err.Error(), cachetest.WriteDenied) {
		t.Errorf("error %q does not carry the service's message %q", err, cachetest.WriteDenied)
	}
	if msg, ok := cacheservice.WriteDenied(err); !ok || msg != cachetest.WriteDenied {
		t.Errorf("WriteDenied(%v) = %q, %v", err, msg, ok)
	}
	var re *cacheservice.RefusedError
	if !errors.As(err, &re) || re.Op != "CreateCacheEntry" {
		t.Errorf("error %v is not a *RefusedError of CreateCacheEntry", err)
	}
	if n := len(srv.CallsTo(cachetest.CreateCacheEntry)); n != 1 {
		t.Errorf("%d CreateCacheEntry calls, want 1: a refusal is not retried", n)
	}

	// A quota refusal is a refusal too, but not a denied write.
	quota := "cache storage quota exceeded for this repository"
	srv.Inject(cachetest.Fault{Op: cachetest.CreateCacheEntry, Refuse: quota})
	_, err = c.Save(context.Background(), "pip-quota", version, untouched)
	if err == nil || !strings.Contains(err.Error(), quota) {
		t.Errorf("quota refusal: %v; want an error with %q", err, quota)
	}
	if _, ok := cacheservice.WriteDenied(err); ok {
		t.Errorf("a quota refusal is not a denied write: %v", err)
	}
	if len(srv.Entries()) != 0 {
		t.Errorf("entries after refusals: %+v", srv.Entries())
	}
}

// A token that may not read gets a twirp 403 "cache read denied: ..." on the lookup: an
// error the caller can tell apart (a miss with a warning), asked once, not retried.
func TestDeniedReadIsAnErrorTheCallerCanTellApart(t *testing.T) {
	srv := cachetest.StartV2(t, cachetest.V2Options{})
	c := newClient(t, srv.Getenv)
	srv.Inject(cachetest.Fault{Op: cachetest.GetCacheEntryDownloadURL, Deny: cachetest.ReadDenied})
	e, err := c.Restore(context.Background(), "pip-abc", []string{"pip-"}, version)
	if err == nil || e != nil {
		t.Fatalf("Restore with a denied read = %+v, %v; want an error", e, err)
	}
	msg, ok := cacheservice.ReadDenied(err)
	if !ok || msg != cachetest.ReadDenied {
		t.Errorf("ReadDenied(%v) = %q, %v", err, msg, ok)
	}
	if calls := srv.CallsTo(cachetest.GetCacheEntryDownloadURL); len(calls) != 1 || calls[0].Status != http.StatusForbidden || calls[0].Code != "permission_denied" {
		t.Errorf("lookup calls %+v, want one 403 permission_denied", calls)
	}
	if _, ok := cacheservice.WriteDenied(err); ok {
		t.Error("a denied read is not a denied write")
	}
}

// The v1 service (GitHub Enterprise Server) denies a write with a 403 on the reserve; an
// answer without a cache id is a refusal; only 409 is a key that exists.
func TestV1ReserveAnswersAreToldApart(t *testing.T) {
	answer := func(status int, body any) *httptest.Server {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/_apis/artifactcache/caches") {
				t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
				http.Error(w, "no", http.StatusNotFound)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(body)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	client := func(srv *httptest.Server) *cacheservice.Client {
		return newClient(t, func(k string) string {
			switch k {
			case "ACTIONS_CACHE_URL":
				return srv.URL + "/"
			case "GITHUB_SERVER_URL":
				return "https://ghes.example.com"
			}
			return ""
		})
	}
	untouched := iotest.ErrReader(errors.New("the stream was read"))
	denied := "cache write denied: read-only token issued for untrusted trigger"

	c := client(answer(http.StatusForbidden, map[string]string{"message": denied, "typeKey": "CacheWriteDeniedException"}))
	res, err := c.Save(context.Background(), "pip-v1", version, untouched)
	if msg, ok := cacheservice.WriteDenied(err); !ok || msg != denied || res.AlreadyExists {
		t.Errorf("v1 403: %+v, %v; want a denied write with %q", res, err, denied)
	}

	c = client(answer(http.StatusOK, map[string]any{}))
	res, err = c.Save(context.Background(), "pip-v1", version, untouched)
	var re *cacheservice.RefusedError
	if !errors.As(err, &re) || res.AlreadyExists {
		t.Errorf("v1 answer without cacheId: %+v, %v; want a *RefusedError, not AlreadyExists", res, err)
	}

	c = client(answer(http.StatusConflict, map[string]string{"message": "Cache already exists.", "typeKey": "ArtifactCacheItemAlreadyExistsException"}))
	res, err = c.Save(context.Background(), "pip-v1", version, untouched)
	if err != nil || !res.AlreadyExists {
		t.Errorf("v1 409: %+v, %v; want AlreadyExists", res, err)
	}
}
