package buildrecord

import (
	"bytes"
	"fmt"
	digest "github.com/opencontainers/go-digest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warmbuild/warmbuild/pkg/builder"
	"github.com/warmbuild/warmbuild/pkg/report"
)

const appDockerfile = `FROM python:3.12-slim
ARG APP_VERSION
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
RUN echo "$APP_VERSION" > /version
`

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// run makes the record of a build of dir in which the steps from firstRan on ran.
func run(t *testing.T, dir, dockerfile string, args map[string]string, base string, firstRan int) (*Record, *report.Miss, bool) {
	t.Helper()
	names := []string{"[2/6] WORKDIR /app", "[3/6] COPY requirements.txt .", "[4/6] RUN pip install -r requirements.txt", "[5/6] COPY . .", `[6/6] RUN echo "$APP_VERSION" > /version`}
	var st builder.StepStats
	for i, n := range names {
		if strings.Contains(n, "WORKDIR") {
			continue // not counted
		}
		st.Steps = append(st.Steps, builder.Step{Name: n, Index: i + 2, Cached: i+2 < firstRan, Digest: digest.Digest("sha256:" + fmt.Sprint(i))})
	}
	st.Bases = map[string]string{"": base}
	ig, err := Ignore(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := Make(Source{Steps: st, Dockerfile: []byte(dockerfile), ContextDir: dir, Ignore: NewIgnore(ig), BuildArgs: args, Budget: DefaultBudget()})
	if err != nil {
		t.Fatal(err)
	}
	anyCached := firstRan > 3
	return rec, FirstMiss(Facts{Steps: st.Steps, ReadScopes: []string{"warmbuild-main"}}), anyCached
}

const python = "docker.io/library/python:3.12-slim@sha256:aaa"

func TestRecordSaysWhatChanged(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"requirements.txt": "flask\n", "app/main.py": "print(1)\n", "app/views.py": "v\n", ".dockerignore": "*.log\n", "debug.log": "x"})
	prev, _, _ := run(t, dir, appDockerfile, map[string]string{"APP_VERSION": "1"}, python, 99)

	t.Run("files", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"app/main.py": "print(2)\n", "app/new.py": "n\n", "debug.log": "changed, but ignored"})
		defer writeFiles(t, dir, map[string]string{"app/main.py": "print(1)\n"})
		defer os.Remove(filepath.Join(dir, "app/new.py"))
		cur, miss, cached := run(t, dir, appDockerfile, map[string]string{"APP_VERSION": "1"}, python, 5)
		Explain(prev, cur, miss, cached)
		if miss.Step != "[5/6] COPY . ." || miss.Reason != report.MissFiles || strings.Join(miss.Files, " ") != "app/main.py app/new.py" || miss.Detail != "1 changed, 1 added, 0 removed" {
			t.Errorf("miss %+v", miss)
		}
	})
	t.Run("requirements", func(t *testing.T) {
		writeFiles(t, dir, map[string]string{"requirements.txt": "flask\nrequests\n"})
		defer writeFiles(t, dir, map[string]string{"requirements.txt": "flask\n"})
		cur, miss, cached := run(t, dir, appDockerfile, map[string]string{"APP_VERSION": "1"}, python, 3)
		Explain(prev, cur, miss, cached)
		if miss.Step != "[3/6] COPY requirements.txt ." || miss.Reason != report.MissFiles || strings.Join(miss.Files, " ") != "requirements.txt" {
			t.Errorf("miss %+v", miss)
		}
	})
	t.Run("build-arg", func(t *testing.T) {
		cur, miss, cached := run(t, dir, appDockerfile, map[string]string{"APP_VERSION": "2"}, python, 6)
		Explain(prev, cur, miss, cached)
		if miss.Reason != report.MissBuildArg || !strings.Contains(miss.Detail, "APP_VERSION") {
			t.Errorf("miss %+v", miss)
		}
		var b bytes.Buffer
		if err := cur.Encode(&b); err != nil || strings.Contains(b.String(), `"2"`) {
			t.Errorf("the record holds the value: %s %v", b.String(), err)
		}
	})
	t.Run("dockerfile", func(t *testing.T) {
		df := strings.Replace(appDockerfile, "pip install -r", "pip install --upgrade -r", 1)
		cur, miss, cached := run(t, dir, df, map[string]string{"APP_VERSION": "1"}, python, 4)
		Explain(prev, cur, miss, cached)
		if miss.Reason != report.MissDockerfile {
			t.Errorf("miss %+v", miss)
		}
	})
	t.Run("base-image", func(t *testing.T) {
		cur, miss, cached := run(t, dir, appDockerfile, map[string]string{"APP_VERSION": "1"}, "docker.io/library/python:3.12-slim@sha256:bbb", 3)
		Explain(prev, cur, miss, cached)
		if miss.Reason != report.MissBaseImage || !strings.Contains(miss.Detail, "sha256:bbb") {
			t.Errorf("miss %+v", miss)
		}
	})
	t.Run("evicted", func(t *testing.T) {
		cur, miss, cached := run(t, dir, appDockerfile, map[string]string{"APP_VERSION": "1"}, python, 3)
		if miss.Reason != report.MissCold {
			t.Fatalf("without a record: %+v", miss)
		}
		Explain(prev, cur, miss, cached)
		if miss.Reason != report.MissEvicted {
			t.Errorf("miss %+v", miss)
		}
	})
}

// A context too large for the budget is not hashed: the record says so, and a miss names
// only the step.
func TestHashingStopsAtItsBudget(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"requirements.txt": "flask\n", "a": "1", "b": "2", "c": "3"})
	var st builder.StepStats
	st.Steps = []builder.Step{{Name: "[3/6] COPY requirements.txt .", Index: 3}, {Name: "[5/6] COPY . .", Index: 5}}
	rec, err := Make(Source{Steps: st, Dockerfile: []byte(appDockerfile), ContextDir: dir, Budget: &Budget{Deadline: time.Now().Add(time.Minute), MaxFiles: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Steps[0].Files["requirements.txt"] == "" || rec.Steps[1].Files != nil || !strings.Contains(rec.Steps[1].FilesSkipped, "too large") {
		t.Errorf("record %+v", rec.Steps)
	}
}

func TestDecodeRefusesWhatIsNotARecord(t *testing.T) {
	for _, in := range []string{"", "{", `{"v":2,"steps":[]}`, `{"v":1,"steps":[{"index":-1}]}`, strings.Repeat(" ", MaxBytes+1)} {
		if _, err := Decode(strings.NewReader(in)); err == nil {
			t.Errorf("Decode(%.20q) took it", in)
		}
	}
	var b bytes.Buffer
	(&Record{Version: 1, Steps: []Step{{Name: "[2/2] RUN make", Index: 2}}}).Encode(&b)
	if r, err := Decode(&b); err != nil || r.Steps[0].Name != "[2/2] RUN make" {
		t.Errorf("%+v %v", r, err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":1,"steps":[{"name":"[2/2] RUN make","index":2,"files":{"a":"b"}}],"args":{"A":"x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(bytes.NewReader(data))
		if err == nil {
			// Whatever the record says, comparing with it must not panic.
			m := &report.Miss{Step: "[2/2] RUN make"}
			Explain(r, &Record{Version: 1, Steps: []Step{{Name: "[2/2] RUN make", Index: 2, Files: map[string]string{"a": "c"}}}}, m, false)
		}
	})
}

// A local cache directory keeps its record beside the cache; a directory without one has none.
func TestDirStoreKeepsTheRecordBesideTheCache(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	if r, err := (DirStore{}).Read(ctx, dir); r != nil || err != nil {
		t.Fatalf("empty dir: %v %v", r, err)
	}
	want := &Record{Version: 1, Steps: []Step{{Name: "[2/2] RUN make", Index: 2}}, Args: HashArgs(map[string]string{"A": "secret"})}
	if err := (DirStore{}).Write(ctx, dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := (DirStore{}).Read(ctx, dir)
	if err != nil || got.Steps[0].Name != "[2/2] RUN make" || got.Args["A"] == "" {
		t.Errorf("%+v %v", got, err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, FileName))
	if strings.Contains(string(data), "secret") {
		t.Errorf("the record holds a build arg's value: %s", data)
	}
}
