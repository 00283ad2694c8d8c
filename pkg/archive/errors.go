// Package archive turns a directory into a zstd-compressed PAX tar stream and back.
//
// Archives come back from a cache service, so Extract treats them as hostile: it never
// follows a symbolic link, never writes outside its target directory, refuses device
// nodes and links that point out of the directory, and caps how much it unpacks. Every
// way an archive can be refused is an *Error, so callers can warn and carry on without
// the cache.
package archive

import (
	"fmt"
)

// ErrorKind says why an archive was refused.
type ErrorKind int

const (
	// Corrupt: the stream is not a valid zstd-compressed tar (garbage, truncated,
	// checksum mismatch, missing end-of-archive marker).
	Corrupt ErrorKind = iota + 1
	// Unsafe: an entry would escape the target directory or create something a
	// cache never needs (device nodes, absolute paths, links pointing outside).
	Unsafe
	// TooLarge: the archive exceeds a Limits cap (bytes, entries, zstd window).
	TooLarge
)

func (k ErrorKind) String() string {
	switch k {
	case Corrupt:
		return "corrupt archive"
	case Unsafe:
		return "unsafe archive"
	case TooLarge:
		return "archive too large"
	}
	return "bad archive"
}

// Error is returned when the archive itself is at fault (as opposed to the local disk).
// The cache entry that produced it is unusable; the caller should fall back to a cold
// build step.
type Error struct {
	Kind   ErrorKind
	Entry  string // the entry at fault as named in the archive; empty for stream-level problems
	Reason string
	Err    error // underlying decoder error, if any
}

func (e *Error) Error() string {
	msg := e.Kind.String()
	if e.Entry != "" {
		msg += fmt.Sprintf(": entry %q", e.Entry)
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

func corrupt(reason string, err error) *Error {
	return &Error{Kind: Corrupt, Reason: reason, Err: err}
}

func unsafeEntry(entry, reason string) *Error {
	return &Error{Kind: Unsafe, Entry: entry, Reason: reason}
}

func tooLarge(entry, reason string) *Error {
	return &Error{Kind: TooLarge, Entry: entry, Reason: reason}
}
