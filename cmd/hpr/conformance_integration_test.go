//go:build integration

package main_test

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/conformance"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
)

func decodeReport(t *testing.T, out string) conformance.Report {
	t.Helper()
	var r conformance.Report
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("hpr conformance --json did not print a report: %v\n%s", err, out)
	}
	if dec.More() {
		t.Errorf("hpr conformance --json printed more than one object:\n%s", out)
	}
	return r
}

// assertEmpty fails when hpr left anything in its temporary directory.
func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("hpr conformance left %s in its temporary directory", filepath.Join(dir, e.Name()))
	}
}

// TestConformanceEveryEngine: as the test user, hpr conformance --json
// passes every check on every engine of the harness, named by endpoint, and
// writes JUnit XML with a test case per engine and check.
func TestConformanceEveryEngine(t *testing.T) {
	testenv.NonRoot(t)
	engines := testenv.Engines(t)
	args := []string{"conformance", "--json", "--junit", filepath.Join(t.TempDir(), "conformance.xml")}
	for _, e := range engines {
		args = append(args, "--engine", e.Endpoint)
	}
	tmp := t.TempDir()
	start := time.Now()
	code, out, errOut := testenv.Hpr(t, t.TempDir(), []string{"TMPDIR=" + tmp}, nil, args...)
	wall := time.Since(start)
	rep := decodeReport(t, out)
	for _, e := range rep.Engines {
		t.Logf("%-20s %5.2fs  pass=%v", e.Mode, e.Seconds, e.Pass)
		if e.Error != "" {
			t.Errorf("%s (%s) not tested: %s", e.Mode, e.Endpoint, e.Error)
		}
		for _, c := range e.Checks {
			if !c.Pass {
				t.Errorf("%s: %s failed: %s", e.Mode, c.ID, c.Detail)
			}
		}
		if e.Plan == nil {
			t.Errorf("%s: the report has no plan", e.Mode)
		}
		if len(e.Checks) != len(conformance.Checks) {
			t.Errorf("%s: %d checks, want %d", e.Mode, len(e.Checks), len(conformance.Checks))
		}
	}
	t.Logf("hpr conformance on %d engines: %.2fs wall", len(rep.Engines), wall.Seconds())
	if code != 0 || !rep.Pass {
		t.Errorf("exit %d, pass %v; want 0, true (stderr %q)", code, rep.Pass, errOut)
		for _, e := range rep.Engines {
			for _, c := range e.Checks {
				if !c.Pass {
					t.Logf("%s: %s: %s", e.Mode, c.ID, c.Detail)
				}
			}
		}
	}
	seen := map[idmap.Mode]bool{}
	for _, e := range rep.Engines {
		seen[e.Mode] = true
		// What conformance judged, seen from the host without it: a
		// container on the engine hpr tested lands files as the user.
		landsAsMe(t, e.Endpoint)
	}
	for _, e := range engines {
		if !seen[e.Mode] {
			t.Errorf("%s (%s) is not in the report", e.Mode, e.Endpoint)
		}
	}
	assertEmpty(t, tmp)

	data, err := os.ReadFile(args[3])
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests  int `xml:"tests,attr"`
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name      string    `xml:"name,attr"`
				Classname string    `xml:"classname,attr"`
				Failure   *struct{} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("JUnit XML: %v\n%s", err, data)
	}
	if want := len(engines) * len(conformance.Checks); suites.Tests != want {
		t.Errorf("JUnit XML has %d test cases, want %d", suites.Tests, want)
	}
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			if c.Classname != s.Name || c.Failure != nil {
				t.Errorf("JUnit test case %s/%s (suite %s): failure %v", c.Classname, c.Name, s.Name, c.Failure != nil)
			}
		}
	}
}

// TestConformanceProjectRunAsRoot: a project whose hpr.toml says [run]
// user = "root" lands files as root on rootful Docker, and hpr conformance,
// run in the project, says so and exits 1 — and still leaves nothing
// behind.
func TestConformanceProjectRunAsRoot(t *testing.T) {
	testenv.NonRoot(t)
	endpoint := testenv.Need(t, idmap.DockerRootful).Endpoint
	dir := filepath.Join(t.TempDir(), "rooty")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	toml := "[image]\nref = \"debian:bookworm-slim\"\n\n[run]\nuser = \"root\"\n"
	if err := os.WriteFile(filepath.Join(dir, "hpr.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// From a subdirectory: the project is found walking up.
	code, out, errOut := testenv.Hpr(t, filepath.Join(dir, "sub"), []string{"TMPDIR=" + tmp}, nil, "conformance", "--json", "--engine", endpoint)
	if code != 1 {
		t.Errorf("exit %d, want 1 (stderr %q)\n%s", code, errOut, out)
	}
	rep := decodeReport(t, out)
	if rep.Pass || len(rep.Engines) != 1 {
		t.Fatalf("pass %v with %d engines; want a failing report of one engine\n%s", rep.Pass, len(rep.Engines), out)
	}
	e := rep.Engines[0]
	if e.Image != "debian:bookworm-slim" || e.Plan == nil || e.Plan.Override != idmap.OverrideRoot {
		t.Errorf("checked image %q with plan %+v; want debian:bookworm-slim with the root override", e.Image, e.Plan)
	}
	byID := map[string]conformance.Check{}
	for _, c := range e.Checks {
		byID[c.ID] = c
	}
	for _, id := range []string{conformance.CheckCreate, conformance.CheckNested, conformance.CheckWalk, conformance.CheckImageUser} {
		c := byID[id]
		if c.Pass || !strings.Contains(c.Detail, "owned by root = container root under rootful Docker") {
			t.Errorf("%s: pass %v, detail %q; want a failure naming root", id, c.Pass, c.Detail)
		}
	}
	if c := byID[conformance.CheckNoLeftovers]; !c.Pass {
		t.Errorf("%s: %s", c.ID, c.Detail)
	}
	// The root-owned files were removed by a container running as root.
	assertEmpty(t, tmp)

	// The table says the same, for a person.
	code, out, _ = testenv.Hpr(t, dir, []string{"TMPDIR=" + t.TempDir()}, nil, "conformance", "--engine", endpoint)
	if code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, `[run] user = "root"`) {
		t.Errorf("table: exit %d\n%s", code, out)
	}
}

// TestConformanceImage: --image runs the same probe, bind-mounted, in the
// base image of the harness, and it passes on every engine.
func TestConformanceImage(t *testing.T) {
	testenv.NonRoot(t)
	args := []string{"conformance", "--json", "--image", "debian:bookworm-slim"}
	for _, e := range testenv.Engines(t) {
		args = append(args, "--engine", e.Endpoint)
	}
	tmp := t.TempDir()
	code, out, errOut := testenv.Hpr(t, t.TempDir(), []string{"TMPDIR=" + tmp}, nil, args...)
	rep := decodeReport(t, out)
	for _, e := range rep.Engines {
		if e.Image != "debian:bookworm-slim" {
			t.Errorf("%s checked %q, want debian:bookworm-slim", e.Mode, e.Image)
		}
		if e.Error != "" {
			t.Errorf("%s not tested: %s", e.Mode, e.Error)
		}
		for _, c := range e.Checks {
			if !c.Pass {
				t.Errorf("%s: %s failed: %s", e.Mode, c.ID, c.Detail)
			}
		}
	}
	if code != 0 {
		t.Errorf("exit %d, want 0 (stderr %q)", code, errOut)
	}
	assertEmpty(t, tmp)
}
