package cacheservice

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestRetryAfterIsReadAsSecondsOrHTTPDate(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		header string
		want   time.Duration
	}{
		{"7", 7 * time.Second},
		{" 0 ", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0}, // a date in the past: no wait
		{"soon", 0},
		{"-3", 0},
		{"", 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.header, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tt.header, got, tt.want)
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
