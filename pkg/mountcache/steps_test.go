package mountcache

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// stepKey discovers dockerfile, hashes the context files (only requirements.txt by
// mount-cache-hash-files, so files the steps read are found through the steps) and returns
// the key and coverage of its first auto-selected cache.
func stepKey(t *testing.T, dockerfile string, buildArgs map[string]string, files map[string]string) (string, StepsHash) {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	ms, err := Discover([]byte(dockerfile), Options{Platform: testPlatform, BuildArgs: buildArgs})
	if err != nil {
		t.Fatal(err)
	}
	sel, _ := Selector{}.Select(ms)
	if len(sel) == 0 {
		t.Fatalf("auto selects nothing in\n%s", dockerfile)
	}
	c := Caches(sel)[0]
	fh, err := HashFiles(context.Background(), dir, hashGlobs(t, "requirements.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sh, err := HashSteps(context.Background(), dir, false, fh, c)
	if err != nil {
		t.Fatal(err)
	}
	return Key(c.Mounts[0], testPlatform, sh.Hash), sh
}

// Issue 18: a key covers every input of the step that decides what pip fetches, so
// adding a package to `pip install a b` gives a new key (a partial hit that is injected)
// instead of an exact hit that skips the injection while pip runs cold.
func TestKeyCoversTheStepsInputs(t *testing.T) {
	const head = "FROM python:3.12-slim\n"
	run := func(cmd string) string { return "RUN --mount=type=cache,target=/root/.cache/pip " + cmd + "\n" }
	base, baseCov := stepKey(t, head+run("pip install --target=/pkgs a b"), nil, nil)
	if len(baseCov.Uncovered) != 0 {
		t.Errorf("a command naming its packages is covered: %q", baseCov.Uncovered)
	}
	if again, _ := stepKey(t, head+run("pip install --target=/pkgs a b"), nil, nil); again != base {
		t.Errorf("the same step gives another key: %s, %s", base, again)
	}
	for _, tc := range []struct {
		name, dockerfile string
		buildArgs        map[string]string
	}{
		{"a package added", head + run("pip install --target=/pkgs a b c"), nil},
		{"a version pinned", head + run("pip install --target=/pkgs a==1.0 b"), nil},
		{"an index option", head + run("pip install --index-url http://127.0.0.1:3141/simple --target=/pkgs a b"), nil},
		{"a constraint option", head + run("pip install -c /etc/pip-constraints.txt --target=/pkgs a b"), nil},
		{"an ENV pip reads", head + "ENV PIP_EXTRA_INDEX_URL=http://127.0.0.1:3141/simple\n" + run("pip install --target=/pkgs a b"), nil},
		{"a build-arg value the command uses", head + "ARG B=b\n" + run("pip install --target=/pkgs a $B"), map[string]string{"B": "b==2.0"}},
		{"an instruction before the step", head + "RUN apt-get update\n" + run("pip install --target=/pkgs a b"), nil},
		{"another base image", "FROM python:3.13-slim\n" + run("pip install --target=/pkgs a b"), nil},
	} {
		if k, _ := stepKey(t, tc.dockerfile, tc.buildArgs, nil); k == base {
			t.Errorf("%s: same key %s as `pip install a b`", tc.name, k)
		}
	}
	// A build-arg's value changes the key too, but is never in it.
	argDf := head + "ARG B=b\n" + run("pip install --target=/pkgs a $B")
	k1, _ := stepKey(t, argDf, map[string]string{"B": "secret-looking-value"}, nil)
	k2, _ := stepKey(t, argDf, map[string]string{"B": "b==3"}, nil)
	if k1 == k2 || strings.Contains(k1, "secret") {
		t.Errorf("build-arg values: %s, %s", k1, k2)
	}
}

func TestKeyCoversRequirementFilesTheStepReads(t *testing.T) {
	for _, name := range []string{"dev-requirements.txt", "poetry-requirements.txt", "requirements/prod.txt"} {
		df := fmt.Sprintf("FROM python:3.12-slim\nCOPY %s /tmp/reqs.txt\nRUN --mount=type=cache,target=/root/.cache/pip pip install -r /tmp/reqs.txt\n", name)
		k1, cov := stepKey(t, df, nil, map[string]string{name: "a==1\n"})
		k2, _ := stepKey(t, df, nil, map[string]string{name: "a==1\nb==2\n"})
		if k1 == k2 {
			t.Errorf("%s: a package added to it gives the same key", name)
		}
		if len(cov.Uncovered) != 0 || strings.Join(cov.Files, ",") != name {
			t.Errorf("%s: files %v, uncovered %q", name, cov.Files, cov.Uncovered)
		}
	}
	// Bind-mounted requirement files count as well.
	df := "FROM python:3.12-slim\nRUN --mount=type=bind,source=dev-requirements.txt,target=/r.txt --mount=type=cache,target=/root/.cache/pip pip install -r /r.txt\n"
	k1, _ := stepKey(t, df, nil, map[string]string{"dev-requirements.txt": "a\n"})
	k2, _ := stepKey(t, df, nil, map[string]string{"dev-requirements.txt": "a\nb\n"})
	if k1 == k2 {
		t.Errorf("bind-mounted requirements: same key")
	}
}

func TestKeySaysWhatItCannotCover(t *testing.T) {
	copyAll := "FROM python:3.12-slim\nCOPY . /app\nRUN --mount=type=cache,target=/root/.cache/pip pip install /app\n"
	k1, cov := stepKey(t, copyAll, nil, map[string]string{"app.py": "print(1)\n", "pyproject.toml": "[project]\n"})
	k2, _ := stepKey(t, copyAll, nil, map[string]string{"app.py": "print(2)\n", "pyproject.toml": "[project]\n"})
	if k1 == k2 || len(cov.Uncovered) != 0 {
		t.Errorf("COPY . of a small context: keys %s %s, uncovered %q", k1, k2, cov.Uncovered)
	}
	big := map[string]string{}
	for i := range maxStepFiles + 1 {
		big[fmt.Sprintf("src/f%d.py", i)] = "x"
	}
	if _, cov := stepKey(t, copyAll, nil, big); len(cov.Uncovered) != 1 || !strings.Contains(cov.Uncovered[0], "the whole build context") {
		t.Errorf("COPY . of a big context: uncovered %q", cov.Uncovered)
	}
	// Files .dockerignore leaves out never reach BuildKit, so they do not key the cache.
	ign := map[string]string{"app.py": "print(1)\n", ".dockerignore": ".git\n*.log\n", ".git/HEAD": "ref: a\n", "debug.log": "1"}
	i1, _ := stepKey(t, copyAll, nil, ign)
	ign[".git/HEAD"], ign["debug.log"] = "ref: b\n", "2"
	if i2, _ := stepKey(t, copyAll, nil, ign); i1 != i2 {
		t.Errorf("a change to files .dockerignore leaves out gives a new key")
	}
	remote := "FROM python:3.12-slim\nADD https://example.invalid/reqs.txt /r.txt\nRUN --mount=type=cache,target=/root/.cache/pip pip install -r /r.txt\n"
	if _, cov := stepKey(t, remote, nil, nil); len(cov.Uncovered) != 1 || !strings.Contains(cov.Uncovered[0], "line 2: ADD https://example.invalid/reqs.txt") {
		t.Errorf("ADD of a URL: uncovered %q", cov.Uncovered)
	}
	fromStage := "FROM python:3.12-slim AS build\nCOPY . /src\nRUN pip wheel -w /w /src\nFROM python:3.12-slim\nCOPY --from=build /w /w\nRUN --mount=type=cache,target=/root/.cache/pip pip install /w/*.whl\n"
	s1, _ := stepKey(t, fromStage, nil, map[string]string{"setup.py": "1"})
	s2, _ := stepKey(t, fromStage, nil, map[string]string{"setup.py": "2"})
	if s1 == s2 {
		t.Errorf("COPY --from a stage reading the context: a change there gives the same key")
	}
}
