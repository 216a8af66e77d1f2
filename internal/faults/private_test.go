//go:build integration && root

package faults

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
)

// gatedCmd runs until the file go appears in the project (the test's
// word to end), marking with started that it runs; it ends at once on
// SIGINT, SIGTERM or SIGHUP with the code a shell killed by it would have.
var gatedCmd = []string{"sh", "-c", `trap "exit 130" INT; trap "exit 143" TERM; trap "exit 129" HUP; touch started; while [ ! -e go ]; do sleep 0.05; done`}

// privateRun is hpr run as the test user where only the podman binary can
// give it an engine: no supplementary groups (the rootful engines'
// sockets refuse it) and the private store's HOME and runtime directory
// (no rootless socket answers there), so detection starts the user's
// private podman service in XDG_RUNTIME_DIR/hpr.
type privateRun struct {
	u tester
	privateStore
}

func newPrivateRun(t *testing.T, u tester) privateRun {
	t.Helper()
	testenv.Need(t, "podman-rootless") // rootless podman works for the user
	p := privateRun{u: u, privateStore: u.privateStore(t)}
	t.Cleanup(func() { p.stopLeft(t) })
	return p
}

// privateStore is where the private-service tests' podman keeps its
// containers: a HOME of the test user's own (with the user's
// containers.conf and storage.conf, and the base image) and one runtime
// directory. Not the store of the harness's rootless podman: a container
// whose network namespace lives in a runtime directory that is gone makes
// every `podman ps` of its store fail. Made once per test binary; TestMain
// removes it, containers first, and only then its runtime directory.
type privateStore struct {
	home, xdg string
}

// baseTar is the harness's tarball of the base image.
func baseTar(t *testing.T) string {
	t.Helper()
	tar := os.Getenv("HPR_BASE_TAR")
	if tar == "" {
		t.Fatal("HPR_BASE_TAR names no base image tarball (scripts/engines.sh's env file sets it)")
	}
	return tar
}

// importBase are `podman import`'s arguments that make the base image of
// tarball tar as scripts/engines.sh does.
func importBase(tar string) []string {
	return []string{"import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "--change", `CMD ["bash"]`, tar, base}
}

var (
	privateOnce  sync.Once
	privateMade  privateStore
	privateErr   error
	privateOwner tester
)

func (u tester) privateStore(t *testing.T) privateStore {
	t.Helper()
	tar := baseTar(t)
	privateOnce.Do(func() {
		privateOwner = u
		privateMade, privateErr = u.makePrivateStore(tar)
	})
	if privateErr != nil {
		t.Fatal(privateErr)
	}
	return privateMade
}

func (u tester) makePrivateStore(tar string) (privateStore, error) {
	top, err := os.MkdirTemp("", "hprpriv")
	if err != nil {
		return privateStore{}, err
	}
	s := privateStore{home: filepath.Join(top, "home"), xdg: filepath.Join(top, "xdg")}
	conf := filepath.Join(s.home, ".config", "containers")
	for _, d := range []string{top, s.home, filepath.Join(s.home, ".config"), conf, s.xdg} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return s, err
		}
		if err := os.Chown(d, u.uid, u.gid); err != nil {
			return s, err
		}
	}
	os.Chmod(top, 0o755)
	for _, f := range []string{"containers.conf", "storage.conf"} {
		if data, err := os.ReadFile(filepath.Join(u.home, ".config", "containers", f)); err == nil {
			if err := os.WriteFile(filepath.Join(conf, f), data, 0o644); err != nil {
				return s, err
			}
		}
	}
	if out, err := u.podmanIn(s, importBase(tar)...); err != nil {
		return s, fmt.Errorf("importing %s into the private store: %v\n%s", base, err, out)
	}
	return s, nil
}

// podmanIn runs the podman CLI as the test user on store s.
func (u tester) podmanIn(s privateStore, args ...string) ([]byte, error) {
	cmd := exec.Command("podman", args...)
	cmd.Dir = "/"
	cmd.Env = []string{"HOME=" + s.home, "USER=" + u.name, "PATH=/usr/local/bin:/usr/bin:/bin", "XDG_RUNTIME_DIR=" + s.xdg}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	return cmd.CombinedOutput()
}

// removePrivateStore removes the private store, if a test made it: its
// containers and images (podman system reset, as the user, whose files
// under subordinate ids only podman can remove), the pause process, and
// then its directories.
func removePrivateStore() {
	s := privateMade
	if s.home == "" {
		return
	}
	u := privateOwner
	if out, err := u.podmanIn(s, "system", "reset", "--force"); err != nil {
		fmt.Fprintf(os.Stderr, "removing the private store %s: podman system reset: %v\n%s", s.home, err, out)
		return // leave it rather than strand what podman could not remove
	}
	killPause(s.xdg)
	os.RemoveAll(filepath.Dir(s.home))
}

// killPause kills the rootless pause process of runtime directory xdg.
func killPause(xdg string) {
	if data, err := os.ReadFile(filepath.Join(xdg, "libpod", "tmp", "pause.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// start starts hpr run of gatedCmd in the project dir (a new one when
// dir is "") and waits until the command runs; it returns the run and its
// project.
func (p privateRun) start(t *testing.T, dir string) (*hprRun, string) {
	t.Helper()
	if dir == "" {
		dir = p.u.dir(t)
	}
	os.Remove(filepath.Join(dir, "started"))
	r := p.u.start(t, runAs{dir: dir, xdg: p.xdg, noGroups: true, env: []string{"HOME=" + p.home}}, append([]string{"run", "--image", base, "--"}, gatedCmd...)...)
	r.awaitFile(t, "the container's command to run", 2*time.Minute, filepath.Join(dir, "started"))
	return r, dir
}

// finish tells the command of the run in dir to end, and checks that hpr
// exits 0.
func (p privateRun) finish(t *testing.T, r *hprRun, dir string) {
	t.Helper()
	p.u.write(t, filepath.Join(dir, "go"), "")
	if code := r.exit(t, time.Minute, "the command ended"); code != 0 {
		t.Errorf("exit %d, want 0; output:\n%s", code, r.out.String())
	}
}

func (p privateRun) socket() string { return filepath.Join(p.xdg, "hpr", "podman.sock") }

// services are the pids of the podman services on the private socket. A
// rootless podman re-executes itself in the user namespace and the first
// process waits for the second: those two are one service, counted by the
// outer process.
func (p privateRun) services(t *testing.T) []int {
	t.Helper()
	uri := "unix://" + p.socket()
	procs, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, d := range procs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", d.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if len(args) >= 3 && filepath.Base(args[0]) == "podman" && slices.Contains(args, "service") && args[len(args)-1] == uri && !zombie(pid) {
			pids = append(pids, pid)
		}
	}
	var outer []int
	for _, pid := range pids {
		if !slices.Contains(pids, parent(pid)) {
			outer = append(outer, pid)
		}
	}
	return outer
}

// parent is pid's parent pid, 0 when it cannot be read.
func parent(pid int) int {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// one fails the test unless exactly one private service runs, and returns
// its pid.
func (p privateRun) one(t *testing.T, when string) int {
	t.Helper()
	pids := p.services(t)
	if len(pids) != 1 {
		t.Fatalf("%s: %d private podman services for one user (pids %v), want 1", when, len(pids), pids)
	}
	return pids[0]
}

// none fails the test when a private service still runs or answers.
func (p privateRun) none(t *testing.T, when string) {
	t.Helper()
	if pids := p.services(t); len(pids) > 0 {
		out, _ := exec.Command("ps", "-eo", "pid,ppid,pgid,stat,lstart,cmd").CombinedOutput()
		t.Errorf("%s: the private podman service still runs (pids %v)\n%s", when, pids, out)
	}
	if _, err := runtime.Ping(context.Background(), "unix://"+p.socket()); err == nil {
		t.Errorf("%s: something still answers on %s", when, p.socket())
	}
}

// stopLeft stops what a failed test left running: the private service and
// the rootless pause process of the store's runtime directory (its
// containers go with the store).
func (p privateRun) stopLeft(t *testing.T) {
	for _, pid := range p.services(t) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	killPause(p.xdg)
}

func zombie(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || strings.HasPrefix(strings.TrimSpace(string(stat[i+1:])), "Z")
}

// TestPrivateServiceEnds: the private podman service hpr starts when only
// the podman binary is there is gone once hpr ends — by the command's exit,
// Ctrl-C (SIGINT), SIGTERM or SIGHUP — with the exit code of that end.
func TestPrivateServiceEnds(t *testing.T) {
	u := testUser(t)
	t.Run("exit", func(t *testing.T) {
		p := newPrivateRun(t, u)
		r, dir := p.start(t, "")
		p.one(t, "while hpr runs")
		p.finish(t, r, dir)
		p.none(t, "after hpr's exit")
	})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			p := newPrivateRun(t, u)
			r, _ := p.start(t, "")
			p.one(t, "while hpr runs")
			r.cmd.Process.Signal(sig)
			if code := r.exit(t, time.Minute, sig.String()); code != 128+int(sig) {
				t.Errorf("exit %d after %v, want %d; output:\n%s", code, sig, 128+int(sig), r.out.String())
			}
			p.none(t, "after hpr ended by "+sig.String())
		})
	}
}

// TestPrivateServiceAfterSIGKILL: a SIGKILLed hpr cannot stop its private
// service; the next hpr reuses that service (never a second one) and stops
// it when it ends.
func TestPrivateServiceAfterSIGKILL(t *testing.T) {
	u := testUser(t)
	p := newPrivateRun(t, u)
	r, dir := p.start(t, "")
	pid := p.one(t, "while hpr runs")
	r.cmd.Process.Kill()
	r.exit(t, 10*time.Second, "SIGKILL")
	if got := p.one(t, "after SIGKILL of hpr"); got != pid {
		t.Fatalf("the service changed from pid %d to %d", pid, got)
	}
	// The next hpr run of the same project: it also removes the container
	// the killed one left.
	r2, _ := p.start(t, dir)
	if got := p.one(t, "while the next hpr runs"); got != pid {
		t.Errorf("the next hpr uses service %d, not the one left running (%d)", got, pid)
	}
	p.finish(t, r2, dir)
	p.none(t, "after the next hpr's exit")
}

// TestPrivateServiceShared: two hprs of one user at once share one private
// service; it outlives the first to end and is stopped by the last.
func TestPrivateServiceShared(t *testing.T) {
	u := testUser(t)
	p := newPrivateRun(t, u)
	a, dirA := p.start(t, "")
	b, dirB := p.start(t, "")
	pid := p.one(t, "while two hprs run")
	p.finish(t, a, dirA)
	if got := p.one(t, "after the first hpr's exit"); got != pid {
		t.Errorf("the service changed from pid %d to %d while the second hpr used it", pid, got)
	}
	p.finish(t, b, dirB)
	p.none(t, "after both hprs' exit")
}
