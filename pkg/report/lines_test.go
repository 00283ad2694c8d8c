package report

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// A mask issued while BuildKit's progress has a line open (a step's log text, its newline
// still to come) starts a line of its own: the runner would print it as text otherwise,
// and with it the value it hides.
func TestAMaskIssuedMidLineStartsALineOfItsOwn(t *testing.T) {
	var out strings.Builder
	r := New(&out, func(string) string { return "" })
	progress := r.Writer()
	fmt.Fprintf(progress, "#9 %s", "3.930 Collecting wb-heavy-15")
	r.Mask("se=2026-12-02T13%3A31%3A31Z&sig=s3cr3tSignature")
	fmt.Fprintln(progress, "")
	r.Infof("after")
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "s3cr3tSignature") && !strings.HasPrefix(line, "::add-mask::") {
			t.Errorf("the masked value is on a line the runner prints as text: %q\nlog:\n%s", line, out.String())
		}
	}
	if !strings.Contains(out.String(), "#9 3.930 Collecting wb-heavy-15\n") {
		t.Errorf("the progress line was cut:\n%s", out.String())
	}
}

// Progress and commands from several goroutines: every command still starts a line.
func TestCommandsFromManyWritersStartTheirLines(t *testing.T) {
	var out strings.Builder
	r := New(&out, func(string) string { return "" })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				if i%2 == 0 {
					fmt.Fprintf(r.Writer(), "#%d log %d", i, j)
					fmt.Fprintln(r.Writer(), "")
				} else {
					r.Mask(fmt.Sprintf("secret-%d-%d", i, j))
				}
			}
		})
	}
	wg.Wait()
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "secret-") && !strings.HasPrefix(line, "::add-mask::") {
			t.Fatalf("a mask is mid-line: %q", line)
		}
	}
}
