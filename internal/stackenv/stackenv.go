// Package stackenv reads the variables of the local test stack, which
// scripts/stack/up.sh writes to $WARMBUILD_STACK/env (default
// /var/tmp/warmbuild-stack/env): lines of KEY=value, optionally "export" and
// quotes, "#" comments. Tests, benchmarks and the cache service test server
// find the stack's daemons through it.
package stackenv

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Path is the env file of the stack.
func Path() string {
	dir := os.Getenv("WARMBUILD_STACK")
	if dir == "" {
		dir = "/var/tmp/warmbuild-stack"
	}
	return filepath.Join(dir, "env")
}

// Read returns the stack's variables; the error says how to start the stack.
func Read() (map[string]string, error) {
	f, err := os.Open(Path())
	if err != nil {
		return nil, fmt.Errorf("the local stack is not up (%v); run scripts/stack/up.sh", err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export "))
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return env, sc.Err()
}
