package imageload

import (
	"strings"
	"testing"
)

// The Engine's answer to POST /images/load, as Docker Engine 20.10 writes it (quiet=0):
// progress messages, then one stream line per image; an error mid-stream fails the load.
func TestTheEnginesAnswerSaysWhatWasLoaded(t *testing.T) {
	var logged []string
	logf := func(f string, a ...any) { logged = append(logged, a[0].(string)) }
	answer := `{"status":"Loading layer","progressDetail":{"current":512,"total":1024},"progress":"[=====>     ]","id":"0b1c"}
{"stream":"Loaded image: app:1\n"}
{"stream":"Loaded image: app:latest\n"}
`
	loaded, err := readResponse(strings.NewReader(answer), logf)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(loaded, " ") != "app:1 app:latest" {
		t.Errorf("loaded = %q", loaded)
	}
	if strings.Join(logged, "|") != "Loaded image: app:1|Loaded image: app:latest" {
		t.Errorf("logged = %q, want the stream lines, no progress", logged)
	}

	loaded, err = readResponse(strings.NewReader(`{"stream":"Loaded image ID: sha256:4a5b\n"}`), nil)
	if err != nil || len(loaded) != 1 || loaded[0] != "sha256:4a5b" {
		t.Errorf("an image without a name: %q, %v", loaded, err)
	}
}

func TestAnErrorInTheEnginesAnswerFailsTheLoad(t *testing.T) {
	for name, answer := range map[string]string{
		"errorDetail":          `{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}`,
		"error text only":      `{"error":"unexpected EOF"}`,
		"after a loaded image": "{\"stream\":\"Loaded image: a:1\\n\"}\n{\"errorDetail\":{\"message\":\"unexpected EOF\"}}",
	} {
		if _, err := readResponse(strings.NewReader(answer), nil); err == nil || !strings.Contains(err.Error(), "unexpected EOF") {
			t.Errorf("%s: err = %v, want the Engine's error", name, err)
		}
	}
	if _, err := readResponse(strings.NewReader(""), nil); err == nil {
		t.Error("an answer that names nothing loaded must fail the load")
	}
	if _, err := readResponse(strings.NewReader(`{"stream":"Loaded`), nil); err == nil {
		t.Error("a cut answer must fail the load")
	}
}

// The Engine's answer is read as outside input: whatever it holds, readResponse returns
// an error or the names it loaded, each one line, and never panics.
func FuzzReadResponse(f *testing.F) {
	f.Add(`{"stream":"Loaded image: app:1\n"}`)
	f.Add(`{"status":"Loading layer","progressDetail":{"current":512,"total":1024},"id":"0b1c"}` + "\n" + `{"stream":"Loaded image ID: sha256:4a5b\n"}`)
	f.Add(`{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}`)
	f.Add(`{"stream":"Loaded`)
	f.Add(`[1,2]{"stream":null}`)
	f.Fuzz(func(t *testing.T, answer string) {
		loaded, err := readResponse(strings.NewReader(answer), func(string, ...any) {})
		if err == nil && len(loaded) == 0 {
			t.Fatal("no error and nothing loaded")
		}
		for _, name := range loaded {
			if strings.Contains(name, "\n") {
				t.Fatalf("a loaded name spans lines: %q", name)
			}
		}
	})
}
