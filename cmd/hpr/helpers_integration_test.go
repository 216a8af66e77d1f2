//go:build integration

package main_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// base is the image every engine of the harness holds.
const base = "debian:bookworm-slim"

// hpr runs the binary under test in dir and returns its exit code and output.
func hpr(t *testing.T, dir string, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return testenv.Hpr(t, dir, nil, stdin, args...)
}

// proc is an hpr process the test started and talks to while it runs.
type proc struct {
	cmd  *exec.Cmd
	out  *testenv.Buffer // stdout and stderr
	done chan struct{}   // closed when it has exited
}

// startHpr starts hpr in dir; it is killed when the test ends.
func startHpr(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	return startHprEnv(t, dir, nil, args...)
}

// startHprEnv is startHpr with extra environment variables.
func startHprEnv(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t), args...)
	cmd.Dir = dir
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	out := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	return watch(t, cmd, out)
}

// watch starts cmd, whose output goes to out, as a proc; it is killed
// when the test ends.
func watch(t *testing.T, cmd *exec.Cmd, out *testenv.Buffer) *proc {
	t.Helper()
	p := &proc{cmd: cmd, out: out, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// signal sends s to hpr.
func (p *proc) signal(t *testing.T, s os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(s); err != nil {
		t.Fatalf("signalling hpr: %v", err)
	}
}

// waitFor waits until cond holds, polling, for at most d. It fails the test
// at once when hpr exits first: whatever it was to do will not happen.
func (p *proc) waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	if err := until(d, p.done, cond); err != nil {
		t.Fatalf("%s: %v; hpr's output:\n%s", what, err, p.out.String())
	}
}

// waitOutput waits for s in hpr's output, as waitFor does.
func (p *proc) waitOutput(t *testing.T, what string, d time.Duration, s string) {
	t.Helper()
	p.waitFor(t, what, d, func() bool { return strings.Contains(p.out.String(), s) })
}

// waitFile waits for path to exist, as waitFor does.
func (p *proc) waitFile(t *testing.T, what string, d time.Duration, path string) {
	t.Helper()
	p.waitFor(t, what, d, func() bool { _, err := os.Stat(path); return err == nil })
}

// end waits at most d for hpr to exit and returns its exit code; it fails
// the test if hpr is still running then.
func (p *proc) end(t *testing.T, d time.Duration, after string) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		t.Fatalf("hpr still running %v after %s; output:\n%s", d, after, p.out.String())
		return 0
	}
}

// errEnded is until's answer when the process it watches ended first.
var errEnded = errors.New("the process ended first")

// until polls cond until it holds, ended is closed (errEnded) or d passes.
func until(d time.Duration, ended <-chan struct{}, cond func() bool) error {
	deadline := time.After(d)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ended:
			if cond() {
				return nil
			}
			return errEnded
		case <-deadline:
			return fmt.Errorf("not within %v", d)
		case <-tick.C:
		}
	}
	return nil
}

// copyTree copies src into a new temp directory and returns it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "_site" || d.Name() == ".jekyll-cache" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// leftContainers lists the containers of project dir on the engine.
func leftContainers(t *testing.T, endpoint, dir string) []runtime.Container {
	t.Helper()
	ctx := context.Background()
	e, err := detect.Open(ctx, endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Podman removes a container by itself after its exit: that may still
	// be under way when hpr has returned.
	cs, err := runtime.Settle(ctx, e, map[string]string{runtime.LabelProject: real}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// noneLeft fails the test when a container of project dir is left on the
// engine.
func noneLeft(t *testing.T, endpoint, dir string) {
	t.Helper()
	if left := leftContainers(t, endpoint, dir); len(left) > 0 {
		t.Errorf("containers left: %+v", left)
	}
}

// startUntil starts hpr (run or exec) in dir and waits for its command to
// touch started there: from then on the command runs.
func startUntil(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := startHpr(t, dir, args...)
	p.waitFile(t, "the command to start", 60*time.Second, filepath.Join(dir, "started"))
	return p
}

// assertOwnedByMe walks root, which must exist, and fails for every path
// not owned by the test user. It returns how many paths it saw.
func assertOwnedByMe(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := walkStat(root, func(p string, _ fs.FileInfo, st *syscall.Stat_t) error {
		if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, os.Getuid(), os.Getgid())
		}
		n++
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	return n
}

// walkStat calls f with the lstat of every path under root, root included.
func walkStat(root string, f func(p string, fi fs.FileInfo, st *syscall.Stat_t) error) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		return f(p, fi, fi.Sys().(*syscall.Stat_t))
	})
}

func wantMine(t *testing.T, path string) {
	t.Helper()
	if uid, gid := testenv.Owner(t, path); uid != os.Getuid() || gid != os.Getgid() {
		t.Errorf("%s owned by %d:%d, want %d:%d", path, uid, gid, os.Getuid(), os.Getgid())
	}
}

// landsAsMe runs a container on endpoint with hpr run and checks, from the
// host, that the file it writes is the test user's.
func landsAsMe(t *testing.T, endpoint string) {
	t.Helper()
	dir := t.TempDir()
	if code, _, errOut := hpr(t, dir, nil, "run", "--engine", endpoint, "--image", base, "--", "touch", "landed"); code != 0 {
		t.Errorf("hpr run on %s: exit %d, %q", endpoint, code, errOut)
		return
	}
	wantMine(t, filepath.Join(dir, "landed"))
}

// contains reports whether one of lines is s.
func contains(lines []string, s string) bool {
	for _, l := range lines {
		if l == s {
			return true
		}
	}
	return false
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
