package pitfalls

import "strings"

// simpleCommands splits shell text into the words of each simple command, roughly:
// quotes are dropped, operators and newlines separate commands (the splitter of
// pkg/mountcache/detect.go). It does not need to be a shell, only to find which programs
// a RUN starts and with which arguments.
func simpleCommands(cmd string) [][]string {
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
		default:
			current.WriteRune(r)
		}
	}
	endCommand()
	return out
}

// stripWrappers drops what comes before the program a simple command runs: variable
// assignments and wrappers such as sudo or env (with their options).
func stripWrappers(w []string) []string {
	i := 0
	for i < len(w) && (isAssignment(w[i]) || commandWrapper(w[i]) || (i > 0 && commandWrapper(w[i-1]) && strings.HasPrefix(w[i], "-"))) {
		i++
	}
	return w[i:]
}

func commandWrapper(w string) bool {
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
