// Package cachetest has stand-ins for the GitHub Actions cache service for
// tests: a v2 (twirp) server whose blobs live in a real Azurite, and the
// nektos/act v1 server started in-process. Other packages' tests can use them
// with cacheservice.FromEnv(server.Getenv).
package cachetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"github.com/warmbuild/warmbuild/internal/stackenv"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
)

// Azurite's well-known development account.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// StackValue reads a variable of the local test stack: the process
// environment first, then $WARMBUILD_STACK/env (default
// /var/tmp/warmbuild-stack/env, lines of KEY=value, optionally "export" and
// quotes). It returns "" when neither has it.
func StackValue(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	env, err := stackenv.Read()
	if err != nil {
		return ""
	}
	return env[name]
}

// StackUnavailable skips the test, or fails it when WARMBUILD_REQUIRE_STACK=1
// (so CI never skips silently).
func StackUnavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("WARMBUILD_REQUIRE_STACK") == "1" {
		t.Fatalf("%s (WARMBUILD_REQUIRE_STACK=1; start it with scripts/stack/azurite.sh)", msg)
	}
	t.Skipf("%s; start it with scripts/stack/azurite.sh", msg)
}

// Azurite is a reachable Azurite blob service, reached with the dev
// account's shared key.
type Azurite struct {
	// URL is the account's blob endpoint, e.g. http://127.0.0.1:10000/devstoreaccount1.
	URL  string
	cred *blob.SharedKeyCredential
}

// FindAzurite returns the Azurite of the local stack (AZURITE_BLOB_URL), or
// skips the test (fails it under WARMBUILD_REQUIRE_STACK=1) when there is
// none or it does not answer.
func FindAzurite(t testing.TB) *Azurite {
	t.Helper()
	u := strings.TrimRight(StackValue("AZURITE_BLOB_URL"), "/")
	if u == "" {
		StackUnavailable(t, "AZURITE_BLOB_URL is not set in the environment nor in $WARMBUILD_STACK/env")
		return nil
	}
	az, err := ConnectAzurite(context.Background(), u)
	if err != nil {
		StackUnavailable(t, "%v", err)
		return nil
	}
	return az
}

// ConnectAzurite checks that the Azurite blob endpoint u answers and returns it.
func ConnectAzurite(ctx context.Context, u string) (*Azurite, error) {
	u = strings.TrimRight(u, "/")
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?comp=list", nil)
	if err != nil {
		return nil, fmt.Errorf("AZURITE_BLOB_URL %q: %w", u, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("Azurite at %s does not answer: %w", u, err)
	}
	resp.Body.Close()
	cred, err := blob.NewSharedKeyCredential(AzuriteAccount, AzuriteKey)
	if err != nil {
		return nil, fmt.Errorf("Azurite credential: %w", err)
	}
	return &Azurite{URL: u, cred: cred}, nil
}

// clientOptions keeps the SDK's own retries short: test servers should fail
// fast and visibly.
func clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: 2, TryTimeout: 30 * time.Second, RetryDelay: 100 * time.Millisecond}}
}

// NewContainer creates a container with a random name and returns its name.
func (a *Azurite) NewContainer(ctx context.Context) (string, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	name := "cachetest-" + hex.EncodeToString(b[:])
	c, err := container.NewClientWithSharedKeyCredential(a.URL+"/"+name, a.cred, &container.ClientOptions{ClientOptions: clientOptions()})
	if err != nil {
		return "", err
	}
	if _, err := c.Create(ctx, nil); err != nil {
		return "", fmt.Errorf("create container %s in Azurite: %w", name, err)
	}
	return name, nil
}

// DeleteContainer removes a container and its blobs.
func (a *Azurite) DeleteContainer(ctx context.Context, name string) error {
	c, err := container.NewClientWithSharedKeyCredential(a.URL+"/"+name, a.cred, &container.ClientOptions{ClientOptions: clientOptions()})
	if err != nil {
		return err
	}
	_, err = c.Delete(ctx, nil)
	return err
}

// SignedURL returns the blob's URL with a service SAS signed by the account
// key, as the cache service hands out: permissions "r" to download, "cw" to
// upload.
func (a *Azurite) SignedURL(containerName, blobName, permissions string, ttl time.Duration) (string, error) {
	qp, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-time.Minute).UTC(),
		ExpiryTime:    time.Now().Add(ttl).UTC(),
		Permissions:   permissions,
		ContainerName: containerName,
		BlobName:      blobName,
	}.SignWithSharedKey(a.cred)
	if err != nil {
		return "", fmt.Errorf("sign SAS for %s/%s: %w", containerName, blobName, err)
	}
	return a.URL + "/" + containerName + "/" + blobName + "?" + qp.Encode(), nil
}

// BlobSize returns the size of a committed blob.
func (a *Azurite) BlobSize(ctx context.Context, containerName, blobName string) (int64, error) {
	b, err := blob.NewClientWithSharedKeyCredential(a.URL+"/"+containerName+"/"+blobName, a.cred, &blob.ClientOptions{ClientOptions: clientOptions()})
	if err != nil {
		return 0, err
	}
	props, err := b.GetProperties(ctx, nil)
	if err != nil {
		return 0, err
	}
	if props.ContentLength == nil {
		return 0, fmt.Errorf("blob %s/%s: no Content-Length", containerName, blobName)
	}
	return *props.ContentLength, nil
}

// PutBlob uploads r as a block blob (streamed by the SDK).
func (a *Azurite) PutBlob(ctx context.Context, containerName, blobName string, r io.Reader) error {
	b, err := blockblob.NewClientWithSharedKeyCredential(a.URL+"/"+containerName+"/"+blobName, a.cred, &blockblob.ClientOptions{ClientOptions: clientOptions()})
	if err != nil {
		return err
	}
	_, err = b.UploadStream(ctx, r, nil)
	return err
}
