package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hostpersist/hpr/doctor"
)

// doctorCmd runs the doctor command in dir and returns its exit code and
// output.
func doctorCmd(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	t.Chdir(dir)
	var out, errb bytes.Buffer
	cmd := newDoctorCmd(&streams{in: strings.NewReader(""), out: &out, err: &errb})
	cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	code := 0
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		code = exitCodeFor(err)
		if ee, ok := err.(*exitError); !ok || ee.err != nil {
			errb.WriteString(err.Error())
		}
	}
	return code, out.String(), errb.String()
}

func TestDoctorAllYours(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hpr.toml"), []byte("name = \"clean\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "src", "deep"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs := doctorCmd(t, filepath.Join(dir, "src", "deep"))
	if code != 0 {
		t.Fatalf("hpr doctor = %d, want 0; stdout %q stderr %q", code, out, errs)
	}
	// The project is hpr.toml's directory, not the working directory.
	if want := "All 4 paths under " + dir + " are owned by you"; !strings.Contains(out, want) {
		t.Errorf("hpr doctor printed %q, want it to contain %q", out, want)
	}
}

func TestDoctorBadProject(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hpr.toml"), []byte("nmae = \"typo\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := doctorCmd(t, dir)
	if code != exitFailure || !strings.Contains(errs, "hpr.toml") {
		t.Errorf("hpr doctor with a bad hpr.toml = %d, %q; want %d naming the file", code, errs, exitFailure)
	}
}

func TestDoctorRefusesSlash(t *testing.T) {
	if _, err := os.Stat("/hpr.toml"); err == nil {
		t.Skip("/hpr.toml exists")
	}
	code, _, errs := doctorCmd(t, "/")
	if code != exitFailure || !strings.Contains(errs, "refusing to use /") {
		t.Errorf("hpr doctor in / = %d, %q; want %d refusing", code, errs, exitFailure)
	}
}

func TestDoctorFixInside(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(t.TempDir(), "list")
	if err := os.WriteFile(list, doctor.EncodeList([]doctor.File{{Path: "f"}, {Path: "gone"}}), 0o600); err != nil {
		t.Fatal(err)
	}
	owner := strconv.Itoa(os.Getuid()) + ":" + strconv.Itoa(os.Getgid())
	code, out, errs := doctorCmd(t, dir, "--fix-inside", dir, "--list", list, "--owner", owner)
	if code != 0 {
		t.Fatalf("hpr doctor --fix-inside = %d, %q", code, errs)
	}
	var r doctor.InsideReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("reading the report %q: %v", out, err)
	}
	if r.Kept != 1 || r.Gone != 1 || r.Fixed != 0 || len(r.Failed) != 0 {
		t.Errorf("report = %+v; want f kept (yours already) and gone gone", r)
	}

	for _, bad := range []string{"", "0", "a:b", "-1:0"} {
		if code, _, _ := doctorCmd(t, dir, "--fix-inside", dir, "--list", list, "--owner", bad); code != exitFailure {
			t.Errorf("--owner %q: exit %d, want %d", bad, code, exitFailure)
		}
	}
}

func TestDoctorHelp(t *testing.T) {
	code, out, _ := doctorCmd(t, t.TempDir(), "--help")
	if code != 0 || !strings.Contains(out, "Examples:") || !strings.Contains(out, "hpr doctor --fix") {
		t.Errorf("hpr doctor --help = %d, %q; want examples", code, out)
	}
	if strings.Contains(out, "fix-inside") {
		t.Errorf("hpr doctor --help shows the hidden --fix-inside flag")
	}
}
