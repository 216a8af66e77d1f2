package idmap

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/moby/sys/user"
)

// testdataHost reads the host identity files of testdata/host.
func testdataHost(dir string) hostFiles {
	return hostFiles{
		lookupUID: func(uid int) (user.User, error) {
			us, err := user.ParsePasswdFileFilter(filepath.Join(dir, "passwd"), func(u user.User) bool { return u.Uid == uid })
			if err != nil {
				return user.User{}, err
			}
			if len(us) == 0 {
				return user.User{}, user.ErrNoPasswdEntries
			}
			return us[0], nil
		},
		subUID: filepath.Join(dir, "subuid"),
		subGID: filepath.Join(dir, "subgid"),
	}
}

func TestReadHost(t *testing.T) {
	tests := []struct {
		name  string
		uid   int
		gid   int
		files hostFiles
		want  Host
	}{{
		name:  "by name and by uid, junk and count 0 dropped",
		uid:   1001,
		gid:   1001,
		files: testdataHost("testdata/host"),
		want: Host{
			UID: 1001, GID: 1001, Groups: []int{1001, 27},
			Name: "hprtest", Home: "/home/hprtest",
			SubUIDs: []IDRange{{HostID: 100000, Count: 65536}, {HostID: 300000, Count: 1000}},
			SubGIDs: []IDRange{{HostID: 100000, Count: 65536}},
		},
	}, {
		name:  "uid without passwd entry matched by uid",
		uid:   4242,
		gid:   4242,
		files: testdataHost("testdata/host"),
		want: Host{
			UID: 4242, GID: 4242, Groups: []int{1001, 27},
			SubUIDs: []IDRange{{HostID: 500000, Count: 65536}},
			SubGIDs: []IDRange{{HostID: 500000, Count: 65536}},
		},
	}, {
		name: "no subid files",
		uid:  1002,
		gid:  1002,
		files: hostFiles{
			lookupUID: testdataHost("testdata/host").lookupUID,
			subUID:    "testdata/nonexistent/subuid",
			subGID:    "testdata/nonexistent/subgid",
		},
		want: Host{UID: 1002, GID: 1002, Groups: []int{1001, 27}, Name: "alice", Home: "/home/alice"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readHost(tt.uid, tt.gid, []int{1001, 27}, tt.files)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("readHost() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadHostLookupError(t *testing.T) {
	files := testdataHost("testdata/host")
	files.lookupUID = func(int) (user.User, error) { return user.User{}, errors.New("disk on fire") }
	_, err := readHost(1001, 1001, nil, files)
	if err == nil || !strings.Contains(err.Error(), "looking up uid 1001") {
		t.Fatalf("readHost() error = %v, want a lookup error", err)
	}
}

func TestCurrentHost(t *testing.T) {
	h, err := CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Validate(); err != nil {
		t.Errorf("CurrentHost() is not valid: %v", err)
	}
}

func TestHostValidate(t *testing.T) {
	tests := []struct {
		name    string
		h       Host
		wantErr string
	}{
		{"ok", Host{UID: 1001, GID: 1001, SubUIDs: []IDRange{{HostID: 100000, Count: 65536}}}, ""},
		{"root", Host{}, ""},
		{"negative uid", Host{UID: -1, GID: 1001}, "must not be negative"},
		{"negative gid", Host{UID: 1001, GID: -1}, "must not be negative"},
		{"negative group", Host{UID: 1001, GID: 1001, Groups: []int{-5}}, "invalid host group -5"},
		{"empty subuid range", Host{UID: 1001, GID: 1001, SubUIDs: []IDRange{{HostID: 100000}}}, "invalid subuid range"},
		{"subgid at 0", Host{UID: 1001, GID: 1001, SubGIDs: []IDRange{{Count: 10}}}, "invalid subgid range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkErr(t, tt.h.Validate(), tt.wantErr)
		})
	}
}

// checkErr fails unless err is nil when want is empty, or contains want.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("got no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

// TestNoEngineImports keeps idmap pure: it must build without any engine
// library.
func TestNoEngineImports(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list -deps listed nothing")
	}
	for _, d := range deps {
		for _, banned := range []string{"github.com/docker/", "github.com/containers/", "github.com/moby/moby"} {
			if strings.Contains(d, banned) {
				t.Errorf("idmap depends on engine library %s", d)
			}
		}
	}
}
