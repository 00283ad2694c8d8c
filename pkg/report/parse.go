package report

import (
	"bufio"
	"io"
	"os"
	"strings"
)

// ParseOutputs reads a GITHUB_OUTPUT file back: "name<<DELIMITER" records with the value on
// the lines up to DELIMITER, and plain "name=value" lines. It is what the runner does with
// the file, and what tests and the benchmarks use to read a run's outputs.
func ParseOutputs(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		name, delim, ok := strings.Cut(line, "<<")
		if !ok {
			if k, v, ok := strings.Cut(line, "="); ok {
				out[k] = v
			}
			continue
		}
		var val []string
		for sc.Scan() && sc.Text() != delim {
			val = append(val, sc.Text())
		}
		out[name] = strings.Join(val, "\n")
	}
	return out, sc.Err()
}

// ParseOutputsFile is ParseOutputs of the file at path (GITHUB_OUTPUT after a step).
func ParseOutputsFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseOutputs(f)
}
