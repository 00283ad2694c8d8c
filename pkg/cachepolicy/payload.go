package cachepolicy

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// maxPayloadBytes bounds how much of an event file is read. GitHub caps webhook payloads
// at 25 MB; anything larger is not an event file.
const maxPayloadBytes = 25 << 20

// payload is the part of a webhook event payload the policy needs. Every field is optional:
// act writes `{}`, and a schedule event carries no repository at all.
type payload struct {
	Ref        string     `json:"ref"` // push, workflow_dispatch
	Number     int        `json:"number"`
	Repository *repoInfo  `json:"repository"`
	PR         *prInfo    `json:"pull_request"`
	MergeGroup *mergeInfo `json:"merge_group"`
}

type repoInfo struct {
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
	Fork          bool   `json:"fork"`
	Private       bool   `json:"private"`
}

type prInfo struct {
	Number int       `json:"number"`
	Head   prSideRef `json:"head"`
	Base   prSideRef `json:"base"`
}

type prSideRef struct {
	Ref  string    `json:"ref"`
	Repo *repoInfo `json:"repo"` // null when the head repository was deleted
}

type mergeInfo struct {
	BaseRef string `json:"base_ref"`
	HeadRef string `json:"head_ref"`
}

// ReadPayload reads an event file (the file at GITHUB_EVENT_PATH). It only bounds the size;
// Decide parses the JSON.
func ReadPayload(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxPayloadBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read event payload: %w", err)
	}
	if len(data) > maxPayloadBytes {
		return nil, fmt.Errorf("read event payload: larger than %d bytes, not a GitHub event", maxPayloadBytes)
	}
	return data, nil
}

func parsePayload(data []byte) (payload, error) {
	var p payload
	if len(strings.TrimSpace(string(data))) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, fmt.Errorf("parse event payload: %w", err)
	}
	return p, nil
}

// pullNumberFromRef reads N from refs/pull/N/merge (GITHUB_REF of a pull_request run).
func pullNumberFromRef(ref string) int {
	rest, ok := strings.CutPrefix(ref, "refs/pull/")
	if !ok {
		return 0
	}
	num, _, _ := strings.Cut(rest, "/")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// pullNumberFromQueueBranch reads N from a merge queue branch,
// gh-readonly-queue/<base>/pr-N-<sha>.
func pullNumberFromQueueBranch(branch string) int {
	rest, ok := strings.CutPrefix(branch, "gh-readonly-queue/")
	if !ok {
		return 0
	}
	i := strings.LastIndex(rest, "/pr-")
	if i < 0 {
		return 0
	}
	num, _, _ := strings.Cut(rest[i+len("/pr-"):], "-")
	n, err := strconv.Atoi(num)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
