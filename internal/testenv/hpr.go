package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// Ran is how one command (hpr, or a script over ssh) ended.
type Ran struct {
	Code           int
	Stdout, Stderr string
}

// RunHpr runs the hpr binary bin in dir with extra environment env and
// returns how it ended; an error means it could not be run at all. Safe in
// goroutines, unlike Hpr.
func RunHpr(bin, dir string, env []string, stdin io.Reader, args ...string) (Ran, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return Ran{ee.ExitCode(), out.String(), errb.String()}, nil
	}
	if err != nil {
		return Ran{}, fmt.Errorf("running hpr %q: %w", args, err)
	}
	return Ran{0, out.String(), errb.String()}, nil
}

// Hpr runs the binary under test (Bin) in dir with extra environment env,
// and returns its exit code and output; hpr that cannot be run at all
// fails the test.
func Hpr(t testing.TB, dir string, env []string, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	r, err := RunHpr(Bin(t), dir, env, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return r.Code, r.Stdout, r.Stderr
}

// Owner returns the uid and gid that own path, as this host sees them; a
// symlink's own, not its target's.
func Owner(t testing.TB, path string) (uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}
