package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// ev writes one test2json event line.
func ev(action, pkg, test, output string) string {
	var b strings.Builder
	b.WriteString(`{"Action":"` + action + `","Package":"github.com/hostpersist/hpr/` + pkg + `"`)
	if test != "" {
		b.WriteString(`,"Test":"` + test + `"`)
	}
	if output != "" {
		b.WriteString(`,"Output":` + strings.ReplaceAll(`"`+output+`\n"`, "\t", `\t`))
	}
	return b.String() + "}\n"
}

const allowlist = `# comment
doctor TestScanDirUnreadable root reads every directory
`

func TestReport(t *testing.T) {
	for _, c := range []struct {
		name     string
		events   string
		require  bool
		wantCode int
		want     string
	}{{
		name: "subtests count, an allowed skip with its reason",
		events: ev("run", "cmd/hpr", "TestA", "") +
			ev("run", "cmd/hpr", "TestA/one", "") +
			ev("pass", "cmd/hpr", "TestA/one", "") +
			ev("run", "cmd/hpr", "TestA/two", "") +
			ev("pass", "cmd/hpr", "TestA/two", "") +
			ev("pass", "cmd/hpr", "TestA", "") +
			ev("run", "doctor", "TestScanDirUnreadable", "") +
			ev("output", "doctor", "TestScanDirUnreadable", "=== RUN   TestScanDirUnreadable") +
			ev("output", "doctor", "TestScanDirUnreadable", "    fs_test.go:99: root reads every directory") +
			ev("output", "doctor", "TestScanDirUnreadable", "--- SKIP: TestScanDirUnreadable (0.00s)") +
			ev("skip", "doctor", "TestScanDirUnreadable", "") +
			ev("pass", "doctor", "", ""),
		require: true,
		want: `skipped (1):
  doctor TestScanDirUnreadable: fs_test.go:99: root reads every directory [allowed: root reads every directory]
3 passed, 0 failed, 1 skipped
`,
	}, {
		name: "a skip not in the list fails the run only under require",
		events: ev("run", "cmd/hpr", "TestB/podman-rootful", "") +
			ev("output", "cmd/hpr", "TestB/podman-rootful", "    x_test.go:1: no engine") +
			ev("skip", "cmd/hpr", "TestB/podman-rootful", ""),
		want: `skipped (1):
  cmd/hpr TestB/podman-rootful: x_test.go:1: no engine [NOT ALLOWED: not in skips.txt]
0 passed, 0 failed, 1 skipped
`,
	}, {
		name: "the same under require",
		events: ev("run", "cmd/hpr", "TestB/podman-rootful", "") +
			ev("skip", "cmd/hpr", "TestB/podman-rootful", ""),
		require:  true,
		wantCode: 1,
		want: `skipped (1):
  cmd/hpr TestB/podman-rootful: (no reason given) [NOT ALLOWED: not in skips.txt]
1 skip(s) not in skips.txt: with HPR_REQUIRE_ENGINES=1 that fails the run
0 passed, 0 failed, 1 skipped
`,
	}, {
		name: "a test that never ended and a failed one",
		events: ev("run", "conformance", "TestRun", "") +
			ev("run", "conformance", "TestRun/docker-rootful", "") +
			ev("fail", "conformance", "TestRun/docker-rootful", "") +
			ev("output", "conformance", "", "panic: test timed out after 30m0s") +
			ev("fail", "conformance", "", ""),
		wantCode: 1,
		want: `failed (2):
  conformance TestRun (never ended: its test binary died or timed out)
  conformance TestRun/docker-rootful
0 passed, 2 failed, 0 skipped
`,
	}, {
		name: "a package that failed outside any test counts once",
		events: ev("run", "runtime/podman", "TestX", "") +
			ev("pass", "runtime/podman", "TestX", "") +
			ev("output", "runtime/podman", "", "FAIL") +
			ev("fail", "runtime/podman", "", ""),
		wantCode: 1,
		want: `failed (1):
  runtime/podman (failed outside any test: see its output above)
1 passed, 1 failed, 0 skipped
`,
	}} {
		t.Run(c.name, func(t *testing.T) {
			list, err := parseAllowlist(strings.NewReader(allowlist), "skips.txt")
			if err != nil {
				t.Fatal(err)
			}
			tl := newTally()
			if err := tl.read(strings.NewReader(c.events), nil); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			code := report(tl, list, "skips.txt", c.require, &out)
			if diff := cmp.Diff(c.want, out.String()); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if code != c.wantCode {
				t.Errorf("exit code %d, want %d", code, c.wantCode)
			}
		})
	}
}

func TestStreamPrintsFailuresAsTheyEnd(t *testing.T) {
	events := ev("run", "cmd/hpr", "TestA", "") +
		ev("run", "cmd/hpr", "TestA/docker-rootful", "") +
		ev("output", "cmd/hpr", "TestA/docker-rootful", "    a_test.go:10: exit 125") +
		ev("fail", "cmd/hpr", "TestA/docker-rootful", "") +
		ev("fail", "cmd/hpr", "TestA", "") +
		ev("run", "cmd/hpr", "TestB", "") +
		ev("pass", "cmd/hpr", "TestB", "") +
		"not an event\n" +
		ev("run", "cmd/hpr", "TestC", "") +
		ev("output", "cmd/hpr", "TestC", "fatal error: stack overflow")
	tl := newTally()
	var out bytes.Buffer
	p := &progress{t: tl, out: &out, each: true}
	if err := tl.read(strings.NewReader(events), p.ended); err != nil {
		t.Fatal(err)
	}
	p.unended()
	want := `FAIL  cmd/hpr TestA (0.0s)
  --- FAIL TestA/docker-rootful
      a_test.go:10: exit 125
ok    cmd/hpr TestB (0.0s)
FAIL  cmd/hpr TestC (never ended: its test binary died or timed out)
    fatal error: stack overflow
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	if got := tl.packages[notJSON].Output; len(got) != 1 || got[0] != "not an event" {
		t.Errorf("lines that are not events: %q", got)
	}
}

func TestElapsedCountsParallelSubtests(t *testing.T) {
	events := `{"Time":"2026-11-28T10:00:00Z","Action":"run","Package":"p","Test":"TestA"}
{"Time":"2026-11-28T10:00:00Z","Action":"run","Package":"p","Test":"TestA/sub"}
{"Time":"2026-11-28T10:00:42Z","Action":"pass","Package":"p","Test":"TestA/sub","Elapsed":42}
{"Time":"2026-11-28T10:00:42Z","Action":"pass","Package":"p","Test":"TestA","Elapsed":0}
`
	tl := newTally()
	if err := tl.read(strings.NewReader(events), nil); err != nil {
		t.Fatal(err)
	}
	if got := tl.test("p", "TestA").Elapsed; got != 42 {
		t.Errorf("TestA took %vs, want 42 (its parallel subtest's time)", got)
	}
}

func TestParseAllowlistErrors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"doctor TestX\n", "skips.txt:1: want PACKAGE TEST-REGEXP WHY"},
		{"# c\n\ndoctor Test( why\n", "skips.txt:3: error parsing regexp"},
	} {
		_, err := parseAllowlist(strings.NewReader(c.in), "skips.txt")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("parseAllowlist(%q) = %v, want an error with %q", c.in, err, c.want)
		}
	}
}
