package layercache

import (
	"path"
	"strings"

	"github.com/distribution/reference"
	"github.com/warmbuild/warmbuild/pkg/cachepolicy"
)

// DefaultScope names an image's caches when the user gives no cache-scope, so that two
// images built in one repository never share (and overwrite) a cache:
//
//   - from the first tag's repository path without the registry: ghcr.io/org/app:1.0 → org-app
//     (the same image pushed to two registries keeps one scope; org/api and org/web differ);
//   - without tags, from the Dockerfile's path: services/api/Dockerfile → services-api,
//     docker/worker.Dockerfile → docker-worker, a top-level Dockerfile → dockerfile;
//   - the build target, when there is one, is appended: org-app-test.
//
// reason says where the scope came from, for the job summary.
func DefaultScope(tags []string, dockerfile, target string) (scope, reason string) {
	var base string
	switch {
	case len(tags) > 0 && strings.TrimSpace(tags[0]) != "":
		base, reason = imagePath(strings.TrimSpace(tags[0])), "from the first tag "+strings.TrimSpace(tags[0])
	default:
		base, reason = dockerfileName(dockerfile), "from the Dockerfile path "+dockerfile
		if dockerfile == "" {
			reason = "no tags and no Dockerfile path"
		}
	}
	if target != "" {
		base += "-" + target
		reason += " and the target " + target
	}
	return cachepolicy.Scope(base, ""), reason
}

// imagePath is the repository path of an image reference without registry, tag or digest.
func imagePath(tag string) string {
	named, err := reference.ParseNormalizedNamed(tag)
	if err != nil {
		// Not a valid reference (inputs reports that); use what the user wrote.
		name, _, _ := strings.Cut(tag, "@")
		if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
			name = name[:i]
		}
		return name
	}
	return strings.TrimPrefix(reference.Path(named), "library/")
}

func dockerfileName(p string) string {
	p = path.Clean(strings.ReplaceAll(p, `\`, "/"))
	p = strings.TrimLeft(p, "./")
	dir, file := path.Split(p)
	name := file
	switch {
	case strings.EqualFold(file, "Dockerfile"):
		name = ""
	case strings.HasSuffix(strings.ToLower(file), ".dockerfile"):
		name = file[:len(file)-len(".dockerfile")]
	case strings.HasPrefix(strings.ToLower(file), "dockerfile."):
		name = file[len("dockerfile."):]
	}
	s := strings.Trim(strings.ReplaceAll(path.Join(dir, name), "/", "-"), "-")
	if s == "" || s == "." {
		return "dockerfile"
	}
	return s
}
