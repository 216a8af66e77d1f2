package rundir

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPath(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", "/run/user/7")
	if got, want := Path(), "/run/user/7/hpr"; got != want {
		t.Errorf("Path() = %q, want %q", got, want)
	}
	t.Setenv("XDG_RUNTIME_DIR", "")
	if got, want := Path(), filepath.Join(os.TempDir(), fmt.Sprintf("hpr-%d", os.Getuid())); got != want {
		t.Errorf("Path() without XDG_RUNTIME_DIR = %q, want %q", got, want)
	}
}

// Make gives a directory only where it is private: the user's own,
// writable by no one else, no symlink.
func TestMake(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, run string)
		wantErr string
	}{
		{"made", func(*testing.T, string) {}, ""},
		{"world-writable parent", func(t *testing.T, run string) {
			mkdir(t, filepath.Join(run, "hpr"), 0o777)
		}, "written by others"},
		{"world-writable itself", func(t *testing.T, run string) {
			mkdir(t, filepath.Join(run, "hpr"), 0o700)
			mkdir(t, filepath.Join(run, "hpr", "sub"), 0o777)
		}, "written by others"},
		{"symlink", func(t *testing.T, run string) {
			if err := os.Symlink(t.TempDir(), filepath.Join(run, "hpr")); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := t.TempDir()
			t.Setenv("XDG_RUNTIME_DIR", run)
			tc.prepare(t, run)
			got, err := Make("sub")
			if tc.wantErr == "" {
				if want := filepath.Join(run, "hpr", "sub"); err != nil || got != want {
					t.Errorf("Make = %q, %v; want %q", got, err, want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Make = %q, %v; want an error saying %q", got, err, tc.wantErr)
			}
		})
	}
}

func mkdir(t *testing.T, d string, mode os.FileMode) {
	t.Helper()
	if err := os.Mkdir(d, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}
