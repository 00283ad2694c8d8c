package cacheservice

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfterIsReadAsSecondsOrHTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	later := now.Add(90 * time.Second)
	tests := []struct {
		header string
		want   time.Duration
		ok     bool
	}{
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"120", 2 * time.Minute, true},
		{later.Format(http.TimeFormat), 90 * time.Second, true},
		{later.Format(time.RFC850), 90 * time.Second, true},      // obsolete form HTTP still allows
		{later.Format(time.ANSIC), 90 * time.Second, true},       // asctime form
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true}, // a date in the past: no wait
		{"99999999999999999999999", maxRetryAfterValue, true},    // absurd but a wait: longer than any budget
		{"soon", 0, false},
		{"-3", 0, false},
		{"+3", 0, false},
		{"1.5", 0, false},
		{"3 s", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.header, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %s, %v; want %s, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestErrorAnswersKeepTheServiceMessage(t *testing.T) {
	tests := []struct {
		name, body       string
		wantCode, wantIn string
	}{
		{"twirp", `{"code":"already_exists","msg":"cache entry exists"}`, "already_exists", "cache entry exists"},
		{"azure", "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>AuthenticationFailed</Code><Message>Signature did not match\nRequestId:1</Message></Error>", "AuthenticationFailed", "Signature did not match"},
		{"v1", `{"message":"Cache already exists","typeKey":"ArtifactCacheItemAlreadyExistsException"}`, "ArtifactCacheItemAlreadyExistsException", "Cache already exists"},
		{"act", `{"error":"cache 3: not reserved"}`, "", "cache 3: not reserved"},
		{"text", "upstream connect error", "", "upstream connect error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := &http.Response{StatusCode: 409, Header: http.Header{}, Body: nopCloser{strings.NewReader(tt.body)}}
			e := statusErrorFrom("op", resp, time.Now())
			if e.Code != tt.wantCode || !strings.Contains(e.Message, tt.wantIn) || strings.Contains(e.Message, "RequestId") {
				t.Errorf("got code %q message %q, want code %q and a message with %q", e.Code, e.Message, tt.wantCode, tt.wantIn)
			}
		})
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func TestBackoffGrowsAndStaysWithinJitteredCap(t *testing.T) {
	c := &Client{retry: RetryPolicy{MaxAttempts: 10, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second}}
	for attempt, base := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		base *= time.Millisecond
		for range 50 {
			d := c.backoff(attempt + 1)
			if d < base/2 || d > base*3/2 {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt+1, d, base/2, base*3/2)
			}
		}
	}
}
