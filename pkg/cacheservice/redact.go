package cacheservice

import (
	"net/url"
	"regexp"
	"strings"
)

// Signed storage URLs are credentials: the query of an Azure SAS URL (or of an
// Enterprise Server's archive location) carries the signature that lets anyone
// read, or write, that blob until it expires. Go's HTTP client quotes the whole
// URL in its errors (*url.Error: `Put "https://…?…&sig=…": connection reset by
// peer`), so every error of an HTTP exchange leaves this package through redact,
// and every signed URL an answer hands out is passed to the WithMask callback
// before the first request to it.

// Redacted replaces the query of a URL in messages.
const Redacted = "REDACTED"

var (
	// urlWithSecret finds URLs; redactURL leaves those without a query, fragment
	// or user information as they are.
	urlWithSecret = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>` + "`" + `]*`)
	// sigParam is a signature outside of a whole URL (a query alone, or encoded).
	sigParam = regexp.MustCompile(`(?i)sig(=|%3D)[^&\s"'<>` + "`" + `]*`)
)

// Redact returns s with the query and user information of every URL in it
// replaced by REDACTED, and any sig= value too. Use it on text that may quote
// a storage URL and comes from outside this package (an HTTP client's error,
// a program's output).
func Redact(s string) string {
	if !strings.Contains(s, "://") && !strings.Contains(strings.ToLower(s), "sig") {
		return s
	}
	s = urlWithSecret.ReplaceAllStringFunc(s, redactURL)
	return sigParam.ReplaceAllString(s, "sig${1}"+Redacted)
}

// redactURL keeps a URL's scheme, host and path (which say where the request
// went) and drops its query, fragment and user information.
func redactURL(u string) string {
	rest, frag, hasFrag := strings.Cut(u, "#")
	base, query, hasQuery := strings.Cut(rest, "?")
	if scheme, hostPath, ok := strings.Cut(base, "://"); ok {
		host, path, hasPath := strings.Cut(hostPath, "/")
		if i := strings.LastIndex(host, "@"); i >= 0 {
			host = Redacted + "@" + host[i+1:]
		}
		base = scheme + "://" + host
		if hasPath {
			base += "/" + path
		}
	}
	switch {
	case hasQuery && query != "":
		return base + "?" + Redacted
	case hasFrag && frag != "":
		return base + "#" + Redacted
	}
	return base
}

// redactedError is an error whose message quoted a secret URL: Error() is the
// redacted message, while errors.Is and errors.As still see the cause.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact makes err safe to print anywhere. The *url.Errors in its chain get
// their URL redacted in place (so one found with errors.As is safe too); a
// message that still quotes a secret (an answer's body, a wrapped string) is
// replaced by its redaction.
func redact(err error) error {
	if err == nil {
		return nil
	}
	walkErrors(err, func(e error) {
		if ue, ok := e.(*url.Error); ok {
			ue.URL = redactURL(ue.URL)
		}
	})
	msg := err.Error()
	if safe := Redact(msg); safe != msg {
		return &redactedError{msg: safe, err: err}
	}
	return err
}

// walkErrors calls f on err and on everything it wraps.
func walkErrors(err error, f func(error)) {
	for depth := 0; err != nil && depth < 100; depth++ {
		f(err)
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walkErrors(e, f)
			}
			return
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		default:
			return
		}
	}
}

// Secrets returns the parts of a signed URL to hide from logs: the URL itself,
// its query, and each signature value (raw and decoded). A URL without a query
// or user information carries no credential, and gives nothing.
func Secrets(rawURL string) []string {
	base, query, _ := strings.Cut(rawURL, "?")
	userinfo := false
	if _, hostPath, ok := strings.Cut(base, "://"); ok {
		host, _, _ := strings.Cut(hostPath, "/")
		userinfo = strings.Contains(host, "@")
	}
	if query == "" && !userinfo {
		return nil
	}
	out := []string{rawURL}
	if query != "" {
		out = append(out, query)
	}
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if !strings.EqualFold(k, "sig") || v == "" {
			continue
		}
		out = append(out, v)
		if dec, err := url.QueryUnescape(v); err == nil && dec != v {
			out = append(out, dec)
		}
	}
	return out
}

// maskURL hands the secrets of a signed URL an answer just gave to the
// WithMask callback.
func (c *Client) maskURL(u string) {
	for _, s := range Secrets(u) {
		c.mask(s)
	}
}
