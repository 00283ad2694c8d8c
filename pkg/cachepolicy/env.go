package cachepolicy

import "io"

// InputFromEnv fills the GITHUB_* fields and the cache mode (ACTIONS_CACHE_MODE) of an
// Input from the runner's environment and reads the event payload from r (the file at
// GITHUB_EVENT_PATH; nil when there is none).
// The caller adds SaveOn, Mode and, if it knows better than the payload, DefaultBranch.
func InputFromEnv(getenv func(string) string, r io.Reader) (Input, error) {
	in := Input{
		EventName:  getenv("GITHUB_EVENT_NAME"),
		Ref:        getenv("GITHUB_REF"),
		RefName:    getenv("GITHUB_REF_NAME"),
		RefType:    getenv("GITHUB_REF_TYPE"),
		BaseRef:    getenv("GITHUB_BASE_REF"),
		HeadRef:    getenv("GITHUB_HEAD_REF"),
		Repository: getenv("GITHUB_REPOSITORY"),
	}
	in.Access, in.AccessWarning = AccessFromEnv(getenv)
	if r == nil {
		return in, nil
	}
	data, err := ReadPayload(r)
	if err != nil {
		return Input{}, err
	}
	in.Payload = data
	return in, nil
}
