package cachepolicy

import "io"

// InputFromEnv fills the GITHUB_* fields and the cache mode (ACTIONS_CACHE_MODE) of an
// Input from the runner's environment and reads the event payload from r (the file at
// GITHUB_EVENT_PATH; nil when there is none).
// The caller adds SaveOn, Mode and, if it knows better than the payload, DefaultBranch.
//
// The action reads the runner once, in pkg/runnerenv (runnerenv.Env.PolicyInput, then
// WithPayload); InputFromEnv serves tests that hold a getenv.
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
	return in.WithPayload(r)
}

// WithPayload returns in with the event payload read from r (the file at
// GITHUB_EVENT_PATH); nil r leaves it empty.
func (in Input) WithPayload(r io.Reader) (Input, error) {
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
