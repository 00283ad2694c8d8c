package report

import (
	"crypto/rand"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Everything the action prints that it did not write itself (cache keys and messages from
// the cache service, mount ids and paths from the Dockerfile, file names from a cache
// archive, error texts) is escaped here before it reaches the log, a file command or the
// job summary, so that no value can issue a workflow command, replace another output or
// break the summary's tables.

// LogText makes text safe to print as plain log lines. The runner reads every line of a
// step's output as a workflow command when, after leading white space, it starts with
// "::" (actions/runner src/Runner.Common/ActionCommand.cs, TryParseV2), and when it holds
// "##[" anywhere (the older form, TryParse); it splits lines at "\n" and at "\r". LogText
// puts a backslash before each such marker, so "key\n::error::x" prints as two lines, the
// second `\::error::x`, and issues nothing. Text without markers is unchanged.
func LogText(s string) string {
	if !strings.Contains(s, "::") && !strings.Contains(s, "##[") {
		return s
	}
	var b strings.Builder
	lineStart := true
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n' || r == '\r':
			lineStart = true
		case lineStart && unicode.IsSpace(r):
			// still at the line's start for the runner, whose TrimStart drops white space
		case lineStart && strings.HasPrefix(s[i:], "::"):
			b.WriteByte('\\')
			lineStart = false
		case r == '[' && strings.HasSuffix(s[:i], "##"):
			b.WriteByte('\\')
			lineStart = false
		default:
			lineStart = false
		}
		b.WriteString(s[i : i+size]) // as it was, invalid UTF-8 included
		i += size
	}
	return b.String()
}

// Workflow commands (annotations, groups, masks) are written by go-githubactions, whose
// Command.String escapes the message and properties as @actions/core's escapeData and
// escapeProperty do (actions/toolkit packages/core/src/command.ts): "%", "\r", "\n" (and
// ":" and "," in properties) become %25, %0D, %0A, %3A, %2C, so a message stays one line.

// TableText makes text safe inside a Markdown table cell (GitHub Flavored Markdown): it
// stays in its cell (pipes escaped, line breaks made spaces) and cannot open a link, an
// image, raw HTML, a code span or emphasis.
func TableText(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		switch r {
		case '\\', '`', '*', '[', ']', '<', '>', '|', '~':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TableCode is s as a code span inside a Markdown table cell: a fence longer than any run
// of backticks in s, pipes escaped (GFM splits cells before it reads code spans, and
// turns `\|` back into `|`), line breaks made spaces.
func TableCode(s string) string {
	return codeSpan(strings.ReplaceAll(oneLine(s), "|", `\|`))
}

// Code is s as a code span outside a table (a heading).
func Code(s string) string { return codeSpan(oneLine(s)) }

func codeSpan(s string) string {
	longest, run := 0, 0
	for _, r := range s {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", longest+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") || s == "" {
		s = " " + s + " " // CommonMark strips one space from each side
	}
	return fence + s + fence
}

func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}

// outputRecord is one name=value of $GITHUB_OUTPUT as @actions/core writes it
// (packages/core/src/file-command.ts, prepareKeyValueMessage): a heredoc whose delimiter
// is new for every value, so no value can end its record early and set other outputs.
func outputRecord(name, value string) (string, error) {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return "", err
	}
	id[6] = id[6]&0x0f | 0x40 // a version 4 UUID, as crypto.randomUUID() makes
	id[8] = id[8]&0x3f | 0x80
	delimiter := fmt.Sprintf("ghadelimiter_%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:])
	if strings.Contains(name, delimiter) || strings.ContainsAny(name, "\r\n=") || strings.Contains(name, "<<") {
		return "", fmt.Errorf("output name %q cannot be written to GITHUB_OUTPUT", name)
	}
	if strings.Contains(value, delimiter) {
		return "", fmt.Errorf("output %s: the value contains its delimiter %q", name, delimiter)
	}
	return name + "<<" + delimiter + "\n" + value + "\n" + delimiter + "\n", nil
}

// signature is the sig= parameter of a signed storage URL (an Azure SAS), plain or
// URL-encoded, as pkg/cacheservice's Redact finds it.
var signature = regexp.MustCompile(`(?i)sig(=|%3D)[^&\s"'<>` + "`" + `]*`)

// CutSignatures replaces every sig= value in s. The cache service client redacts its own
// errors and masks the URLs it gets; this is for text from elsewhere (BuildKit's gha
// backend) that may quote a signed URL warmbuild never saw.
func CutSignatures(s string) string {
	return signature.ReplaceAllString(s, "sig${1}REDACTED")
}
