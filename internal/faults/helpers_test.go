//go:build integration && root

package faults

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
)

// base is the image every engine of the harness holds.
const base = "debian:bookworm-slim"

func TestMain(m *testing.M) {
	code := m.Run()
	removePrivateStore()
	os.Exit(code)
}

// tester is the harness's non-root test user, whom the tests run hpr as.
type tester struct {
	uid, gid int
	groups   []uint32 // supplementary groups: docker, hpr-podman
	name     string
	home     string
}

// testUser is the harness's test user (HPR_TEST_USER, as scripts/test.sh
// passes it on). The tests need root: they restart engines, mount
// filesystems and read daemons' /proc files.
func testUser(t *testing.T) tester {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the fault tests run as root (scripts/test.sh's root phase): they restart engines and mount filesystems")
	}
	fu, err := LookupUser(os.Getenv("HPR_TEST_USER"))
	if err != nil {
		t.Fatalf("%v (scripts/test.sh sets HPR_TEST_USER)", err)
	}
	return tester{uid: fu.UID, gid: fu.GID, groups: fu.Groups, name: fu.Name, home: fu.Home}
}

// runAs is how hpr is run as the test user.
type runAs struct {
	dir string
	// xdg is XDG_RUNTIME_DIR; default /run/user/UID.
	xdg string
	// noGroups drops the supplementary groups, so that the rootful
	// engines' sockets refuse the user.
	noGroups bool
	env      []string
}

// cmd is hpr (HPR_BIN) with args, run as the test user with a clean,
// login-like environment and HPR_TRACE=1.
func (u tester) cmd(t *testing.T, o runAs, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t), args...)
	cmd.Dir = o.dir
	xdg := o.xdg
	if xdg == "" {
		xdg = fmt.Sprintf("/run/user/%d", u.uid)
	}
	cmd.Env = append([]string{
		"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name,
		"PATH=/usr/local/bin:/usr/bin:/bin", "XDG_RUNTIME_DIR=" + xdg, "HPR_TRACE=1",
	}, o.env...)
	groups := u.groups
	if o.noGroups {
		groups = []uint32{}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: groups}}
	return cmd
}

// dir makes a directory the test user owns, removed after the test.
func (u tester) dir(t *testing.T) string {
	t.Helper()
	return u.dirIn(t, workRoot(t))
}

// dirIn makes a directory the test user owns below parent, removed after
// the test.
func (u tester) dirIn(t *testing.T, parent string) string {
	t.Helper()
	d, err := os.MkdirTemp(parent, "p")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(d, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// workRoot is a directory every user may enter, for the test user's
// directories (t.TempDir is root's, 0700).
func workRoot(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parent is 0700 too.
	if err := os.Chmod(filepath.Dir(d), 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// write writes content to path, owned by the test user.
func (u tester) write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
}

// hprRun is one hpr process: its combined output, and its end.
type hprRun struct {
	cmd  *exec.Cmd
	out  *testenv.Buffer
	done chan struct{}
}

// start starts hpr as the test user; it is killed if still running when the
// test ends.
func (u tester) start(t *testing.T, o runAs, args ...string) *hprRun {
	t.Helper()
	r := &hprRun{cmd: u.cmd(t, o, args...), out: &testenv.Buffer{}, done: make(chan struct{})}
	r.cmd.Stdout, r.cmd.Stderr = r.out, r.out
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		select {
		case <-r.done:
		default:
			r.cmd.Process.Kill()
			<-r.done
		}
	})
	return r
}

// run runs hpr as the test user to its end, within limit.
func (u tester) run(t *testing.T, o runAs, limit time.Duration, args ...string) (int, string) {
	t.Helper()
	r := u.start(t, o, args...)
	return r.exit(t, limit, "hpr "+strings.Join(args, " ")), r.out.String()
}

// await polls cond until it holds; it fails the test when hpr ends first
// or limit passes.
func (r *hprRun) await(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		select {
		case <-r.done:
			if cond() {
				return
			}
			t.Fatalf("hpr ended before %s; output:\n%s", what, r.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v; hpr's output:\n%s", what, limit, r.out.String())
		}
	}
}

// awaitOutput waits for s in hpr's output, as await does.
func (r *hprRun) awaitOutput(t *testing.T, what string, limit time.Duration, s string) {
	t.Helper()
	r.await(t, what, limit, func() bool { return strings.Contains(r.out.String(), s) })
}

// awaitFile waits for path to exist, as await does.
func (r *hprRun) awaitFile(t *testing.T, what string, limit time.Duration, path string) {
	t.Helper()
	r.await(t, what, limit, func() bool { return fileExists(path) })
}

// exit waits at most limit for hpr to end and returns its exit code; it
// fails the test when hpr is still running then.
func (r *hprRun) exit(t *testing.T, limit time.Duration, after string) int {
	t.Helper()
	select {
	case <-r.done:
		return r.cmd.ProcessState.ExitCode()
	case <-time.After(limit):
		t.Fatalf("hpr still running %v after %s (it must not hang); output:\n%s", limit, after, r.out.String())
		return 0
	}
}

// lastLine is hpr's last line of output that is not a trace line.
func (r *hprRun) lastLine() string {
	lines := strings.Split(strings.TrimSpace(r.out.String()), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if !strings.HasPrefix(lines[i], "hpr trace: ") {
			return lines[i]
		}
	}
	return ""
}

// restart restarts the harness's engine mode with scripts/engines.sh and
// returns how long that took. The script is HPR_ENGINES_SCRIPT (root's
// tree, as scripts/test.sh passes it), not the test user's copy of it.
func restart(t *testing.T, mode idmap.Mode) time.Duration {
	t.Helper()
	script := os.Getenv("HPR_ENGINES_SCRIPT")
	if script == "" {
		script = filepath.Join(testenv.Src(t), "scripts", "engines.sh")
	}
	start := time.Now()
	cmd := exec.Command("bash", script, "restart", string(mode))
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("engines.sh restart %s: %v\n%s", mode, err, out)
	}
	return time.Since(start)
}

// state reads what engine te holds; see Read.
func state(t *testing.T, te testenv.Engine) State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Read(ctx, te.Mode, te.Endpoint)
	if err != nil {
		t.Fatalf("reading %s: %v", te.Mode, err)
	}
	return s
}

// settled waits, for at most limit, until engine te holds nothing beyond
// before (Podman removes exited containers by itself, shortly after hpr
// returns), and fails the test naming what is left if it does not.
func settled(t *testing.T, te testenv.Engine, before State, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		left := before.Leftovers(state(t, te))
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s holds more than before the test, %v after it: %s", te.Mode, limit, strings.Join(left, ", "))
			return
		}
		time.Sleep(200 * time.Millisecond) // polling the engine's state, not waiting for an event hpr reports
	}
}

// isEngineFailure reports whether hpr's last line is one line of hpr's own
// naming the engine's endpoint.
func isEngineFailure(line, endpoint string) error {
	if !strings.HasPrefix(line, "hpr: ") {
		return errors.New("the last line is not hpr's")
	}
	if !strings.Contains(line, strings.TrimPrefix(endpoint, "unix://")) {
		return fmt.Errorf("the last line does not name the engine %s", endpoint)
	}
	return nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
