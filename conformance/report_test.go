package conformance

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sampleReport has a passing engine, a failing one and one not tested.
func sampleReport() Report {
	plan := idmap.Plan{Mode: idmap.DockerRootful, Override: idmap.OverrideAuto, User: "2000:2000", UID: 2000, GID: 2000,
		BuildUID: 2000, BuildGID: 2000, HostUID: 2000, HostGID: 2000, HostUserUID: 2000, HostUserGID: 2000,
		UserName: "me", Home: "/home/me", CreateHome: true}
	rootless := plan
	rootless.Mode = idmap.DockerRootless
	return NewReport([]EngineReport{
		{
			Endpoint: "unix:///var/run/docker.sock", Mode: idmap.DockerRootful, Version: "20.10.24", Image: "hpr-probe:0123456789ab",
			Plan: &plan, Pass: true, Seconds: 1.25,
			Checks: []Check{
				{ID: CheckCreate, Description: description(CheckCreate), Pass: true, Detail: "it is owned by you (2000:2000)"},
				{ID: CheckWalk, Description: description(CheckWalk), Pass: true, Detail: "all 40 paths are owned by you (2000:2000)"},
			},
		},
		{
			Endpoint: "unix:///run/user/2000/docker.sock", Mode: idmap.DockerRootless, Version: "20.10.24", Image: "hpr-probe:0123456789ab",
			Plan: &rootless, Pass: false, Seconds: 0.5,
			Checks: []Check{
				{ID: CheckCreate, Description: description(CheckCreate), Detail: "app/created.txt is owned by 101999 = container uid 2000 under rootless Docker: <&> \"quoted\""},
				{ID: CheckNested, Description: description(CheckNested), Detail: "app/created.txt is owned by 101999 = container uid 2000 under rootless Docker: <&> \"quoted\""},
				{ID: CheckWalk, Description: description(CheckWalk), Pass: true, Detail: "all 40 paths are owned by you (2000:2000)"},
			},
		},
		{Endpoint: "unix:///nowhere.sock", Error: "engine unreachable: dial unix /nowhere.sock: connect: no such file or directory"},
	})
}

func TestReportJSONShape(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	// One object, and nothing after it.
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	var top map[string]any
	if err := dec.Decode(&top); err != nil {
		t.Fatal(err)
	}
	if dec.More() {
		t.Error("more than one JSON value")
	}
	if diff := cmp.Diff([]string{"engines", "pass"}, keys(top)); diff != "" {
		t.Errorf("top-level keys (-want +got)\n%s", diff)
	}
	if top["pass"] != false {
		t.Errorf("pass = %v, want false", top["pass"])
	}
	engines := top["engines"].([]any)
	if len(engines) != 3 {
		t.Fatalf("%d engines, want 3", len(engines))
	}
	e0 := engines[0].(map[string]any)
	for _, k := range []string{"endpoint", "mode", "version", "plan", "pass", "checks"} {
		if _, ok := e0[k]; !ok {
			t.Errorf("engine object has no %q: %v", k, keys(e0))
		}
	}
	plan := e0["plan"].(map[string]any)
	if plan["mode"] != "docker-rootful" || plan["user"] != "2000:2000" || plan["host_uid"] != float64(2000) {
		t.Errorf("plan = %v", plan)
	}
	c0 := e0["checks"].([]any)[0].(map[string]any)
	if diff := cmp.Diff([]string{"description", "detail", "id", "pass"}, keys(c0)); diff != "" {
		t.Errorf("check keys (-want +got)\n%s", diff)
	}
	e2 := engines[2].(map[string]any)
	if e2["pass"] != false || e2["error"] == "" || e2["plan"] != nil {
		t.Errorf("untested engine = %v", e2)
	}
	if cs, ok := e2["checks"].([]any); !ok || len(cs) != 0 {
		t.Errorf("untested engine's checks = %v, want []", e2["checks"])
	}
}

func TestEmptyReport(t *testing.T) {
	r := NewReport(nil)
	var buf bytes.Buffer
	if err := r.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "{\n  \"pass\": false,\n  \"engines\": []\n}\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if r.Tested() != 0 {
		t.Errorf("Tested() = %d", r.Tested())
	}
}

func TestReportPass(t *testing.T) {
	r := sampleReport()
	if r.Pass || r.Tested() != 2 {
		t.Errorf("Pass = %v, Tested = %d; want false, 2", r.Pass, r.Tested())
	}
	ok := NewReport(r.Engines[:1])
	if !ok.Pass {
		t.Error("a report of one passing engine does not pass")
	}
}

func TestJUnit(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteJUnit(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.junit.xml", buf.Bytes())

	var suites junitSuites
	if err := xml.Unmarshal(buf.Bytes(), &suites); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	type row struct{ Class, Name, Outcome string }
	var got []row
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			outcome := "pass"
			if c.Failure != nil {
				outcome = "failure: " + c.Failure.Message
			}
			if c.Error != nil {
				outcome = "error"
			}
			got = append(got, row{c.Classname, c.Name, outcome})
		}
	}
	want := []row{
		{"docker-rootful", "create", "pass"},
		{"docker-rootful", "walk", "pass"},
		{"docker-rootless", "create", `failure: app/created.txt is owned by 101999 = container uid 2000 under rootless Docker: <&> "quoted"`},
		{"docker-rootless", "nested", `failure: app/created.txt is owned by 101999 = container uid 2000 under rootless Docker: <&> "quoted"`},
		{"docker-rootless", "walk", "pass"},
		{"unix:///nowhere.sock", "setup", "error"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("test cases (-want +got)\n%s", diff)
	}
	if suites.Tests != 6 || suites.Failures != 2 || suites.Errors != 1 {
		t.Errorf("tests=%d failures=%d errors=%d, want 6 2 1", suites.Tests, suites.Failures, suites.Errors)
	}
}

func TestTable(t *testing.T) {
	var buf bytes.Buffer
	if err := sampleReport().WriteTable(&buf); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.table.txt", buf.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got)\n%s", path, diff)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
