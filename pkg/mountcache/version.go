package mountcache

import (
	"strconv"

	"github.com/warmbuild/warmbuild/pkg/cacheservice"
)

// EntryVersion is the cache service version of a cache's entries. It names the archive
// layout (tar+zstd of the mount's content, paths relative to its root) and the BuildKit
// directory: mounts with one id but other owners or modes are other directories, so they
// get other versions and never restore each other's files. (actions/cache cannot restore
// these entries whatever the version: its archives hold workspace-relative paths.)
func EntryVersion(c Cache) string {
	parts := []string{"warmbuild-mount-v1", "id=" + c.CacheID}
	if c.UID != nil {
		parts = append(parts, "uid="+strconv.FormatUint(*c.UID, 10))
	}
	if c.GID != nil {
		parts = append(parts, "gid="+strconv.FormatUint(*c.GID, 10))
	}
	if c.Mode != nil {
		parts = append(parts, "mode="+c.Mode.String())
	}
	return cacheservice.Version(parts, cacheservice.CompressionZstdWithoutLong)
}
