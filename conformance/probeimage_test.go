package conformance

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

func TestCheckStatic(t *testing.T) {
	// This test binary is built with CGO_ENABLED=0, like hpr.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckStatic(self); err != nil {
		t.Errorf("CheckStatic(test binary): %v (run the tests with CGO_ENABLED=0)", err)
	}

	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh to serve as a dynamically linked binary")
	}
	err = CheckStatic(sh)
	if err == nil {
		t.Skipf("%s is static here", sh)
	}
	for _, want := range []string{"dynamically linked", "make build", "CGO_ENABLED=0 go build", "-tags '" + buildTags + "'"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	notELF := writeTemp(t, "#!/bin/sh\n")
	if err := CheckStatic(notELF); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("CheckStatic(a script) = %v, want an error saying how to build", err)
	}
}

func TestLoadBinary(t *testing.T) {
	self, _ := os.Executable()
	b, err := loadBinary(self)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Digest) != 64 || !strings.HasPrefix(b.probeRef(), "hpr-probe:"+b.Digest[:12]) || len(b.probeRef()) != len("hpr-probe:")+12 {
		t.Errorf("digest %q, ref %q", b.Digest, b.probeRef())
	}
	if got, want := b.userProbeRef(1000), b.probeRef()+"-user1000"; got != want {
		t.Errorf("userProbeRef = %q, want %q", got, want)
	}
}

func TestOtherUID(t *testing.T) {
	for host, want := range map[int]int{1000: 1001, 2000: 1000, 0: 1000, 1001: 1000} {
		if got := otherUID(host); got != want || got == host {
			t.Errorf("otherUID(%d) = %d, want %d", host, got, want)
		}
	}
}

func TestProbeTar(t *testing.T) {
	bin := binary{Path: writeTemp(t, "not really an executable"), Digest: strings.Repeat("ab", 32)}
	var buf bytes.Buffer
	if err := writeProbeTar(&buf, bin); err != nil {
		t.Fatal(err)
	}
	type entry struct {
		Name    string
		Type    byte
		Mode    int64
		UID     int
		Content string
	}
	var got []entry
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		got = append(got, entry{h.Name, h.Typeflag, h.Mode, h.Uid, string(b)})
	}
	want := []entry{
		{".hpr/", tar.TypeDir, 0o755, 0, ""},
		{".hpr/hpr", tar.TypeReg, 0o755, 0, "not really an executable"},
		{"etc/", tar.TypeDir, 0o755, 0, ""},
		{"etc/passwd", tar.TypeReg, 0o644, 0, probePasswd},
		{"etc/group", tar.TypeReg, 0o644, 0, probeGroup},
		{"tmp/", tar.TypeDir, 0o1777, 0, ""},
		{"app/", tar.TypeDir, 0o755, 0, ""},
		{"root/", tar.TypeDir, 0o700, 0, ""},
		{"home/", tar.TypeDir, 0o755, 0, ""},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("probe image tar (-want +got)\n%s", diff)
	}
	if ProbePath != "/.hpr/hpr" {
		t.Errorf("ProbePath %q is not where the tar puts the binary", ProbePath)
	}
}

func TestProbeChanges(t *testing.T) {
	got := probeChanges("v1.2 \"x\"", "1000:1000")
	want := []string{
		"ENV PATH=/.hpr:/usr/local/bin:/usr/bin:/bin",
		`ENTRYPOINT ["/.hpr/hpr"]`,
		`CMD ["probe"]`,
		"WORKDIR /app",
		`LABEL io.hpr.version="v1.2 \"x\""`,
		fmt.Sprintf(`LABEL io.hpr.uid="%d"`, os.Getuid()),
		"USER 1000:1000",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if c := probeChanges("dev", ""); len(c) != 6 {
		t.Errorf("without a user: %q", c)
	}
}

// A probe image another user's hpr imported (on an engine users share) is
// not this user's to remove; one from before the label may be anyone's.
func TestOwnProbe(t *testing.T) {
	for _, c := range []struct {
		labels map[string]string
		want   bool
	}{
		{map[string]string{runtime.LabelUID: "2000"}, true},
		{map[string]string{runtime.LabelUID: "2001"}, false},
		{map[string]string{runtime.LabelUID: ""}, false},
		{nil, true},
	} {
		if got := ownProbe(runtime.Image{Labels: c.labels}, 2000); got != c.want {
			t.Errorf("ownProbe(%v, 2000) = %v, want %v", c.labels, got, c.want)
		}
	}
}

func TestRemapRanges(t *testing.T) {
	uids, gids, err := RemapRanges("testdata/subuid", "testdata/subgid", "dockremap")
	if err != nil {
		t.Fatal(err)
	}
	want := []idmap.IDRange{{HostID: 165536, Count: 65536}}
	if diff := cmp.Diff(want, uids); diff != "" {
		t.Errorf("uids (-want +got)\n%s", diff)
	}
	if diff := cmp.Diff(want, gids); diff != "" {
		t.Errorf("gids (-want +got)\n%s", diff)
	}
	if _, _, err := RemapRanges("testdata/subuid", "testdata/subgid", "nobody"); err == nil {
		t.Error("a user without ranges is not an error")
	}
}

// An error about the ranges names the file it is about: the subgid file
// when that is the one without ranges or unreadable.
func TestRemapRangesNameTheFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	noRanges := writeTemp(t, "hprtest:100000:65536\n")
	for _, tc := range []struct {
		name, subuid, subgid, want string
	}{
		{"subuid unreadable", missing, "testdata/subgid", missing},
		{"subgid unreadable", "testdata/subuid", missing, missing},
		{"no ranges in subuid", noRanges, "testdata/subgid", noRanges},
		{"no ranges in subgid", "testdata/subuid", noRanges, noRanges},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := RemapRanges(tc.subuid, tc.subgid, "dockremap")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("RemapRanges(%s, %s) = %v, want an error naming %s", tc.subuid, tc.subgid, err, tc.want)
			}
			for _, other := range []string{tc.subuid, tc.subgid} {
				if other != tc.want && err != nil && strings.Contains(err.Error(), other) {
					t.Errorf("error %q names %s too", err, other)
				}
			}
		})
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(content); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}
