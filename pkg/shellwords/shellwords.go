// Package shellwords reads the shell text of a Dockerfile RUN far enough to tell which
// programs it starts and with which arguments. It is not a shell: quotes are dropped and
// operators end a command, which is all the mount-cache detection and the pitfall check
// need, and it never runs or expands anything.
package shellwords

import "strings"

// Commands splits shell text into the words of each simple command: quotes are dropped
// ("pip" and pip run the same program), line continuations joined, and ;, &, |, (, ), {,
// }, backquotes, newlines and "$(" end a command.
func Commands(cmd string) [][]string {
	cmd = strings.ReplaceAll(cmd, "\\\n", " ")
	var (
		out     [][]string
		words   []string
		current strings.Builder
	)
	endWord := func() {
		if current.Len() > 0 {
			words = append(words, current.String())
			current.Reset()
		}
	}
	endCommand := func() {
		endWord()
		if len(words) > 0 {
			out = append(out, words)
			words = nil
		}
	}
	for _, r := range cmd {
		switch r {
		case ' ', '\t', '\r':
			endWord()
		case ';', '&', '|', '(', ')', '{', '}', '\n', '`':
			endCommand()
		case '"', '\'':
		case '$':
			// "$(" starts a command; the "(" case ends the current one.
			endWord()
		default:
			current.WriteRune(r)
		}
	}
	endCommand()
	return out
}

// Program drops what comes before the program a simple command runs: variable
// assignments, and wrappers such as sudo or env with their options. It returns the
// program and its arguments, or nothing when the command only sets variables.
func Program(words []string) []string {
	i := 0
	for i < len(words) && (isAssignment(words[i]) || wrapper(words[i]) || (i > 0 && wrapper(words[i-1]) && strings.HasPrefix(words[i], "-"))) {
		i++
	}
	return words[i:]
}

// wrapper reports whether a word runs the words after it as a command (or, for the shell's
// keywords and set, comes before one).
func wrapper(w string) bool {
	switch w {
	case "sudo", "env", "exec", "time", "nice", "nohup", "command", "then", "do", "else", "!", "set":
		return true
	}
	return false
}

func isAssignment(w string) bool {
	name, _, ok := strings.Cut(w, "=")
	if !ok || name == "" {
		return false
	}
	for i, r := range name {
		if r != '_' && !(r >= 'A' && r <= 'Z') && !(r >= 'a' && r <= 'z') && !(i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
