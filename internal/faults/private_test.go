//go:build integration && root

package faults

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
// sockets refuse it) and a runtime directory of its own, empty (no rootless
// socket answers), so detection starts the user's private podman service
// in XDG_RUNTIME_DIR/hpr.
type privateRun struct {
	u   tester
	xdg string
}

func newPrivateRun(t *testing.T, u tester) privateRun {
	t.Helper()
	testenv.Need(t, "podman-rootless") // the same user's store
	xdg := u.dir(t)
	if err := os.Chmod(xdg, 0o700); err != nil {
		t.Fatal(err)
	}
	p := privateRun{u: u, xdg: xdg}
	t.Cleanup(func() { p.stopLeft(t) })
	return p
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
	r := p.u.start(t, runAs{dir: dir, xdg: p.xdg, noGroups: true}, append([]string{"run", "--image", base, "--"}, gatedCmd...)...)
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

// services are the pids of the podman services on the private socket.
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
	return pids
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
		t.Errorf("%s: the private podman service still runs (pids %v)", when, pids)
	}
	if _, err := runtime.Ping(context.Background(), "unix://"+p.socket()); err == nil {
		t.Errorf("%s: something still answers on %s", when, p.socket())
	}
}

// stopLeft stops what a failed test left running: the private service and
// the rootless pause process of the test's runtime directory.
func (p privateRun) stopLeft(t *testing.T) {
	for _, pid := range p.services(t) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if data, err := os.ReadFile(filepath.Join(p.xdg, "libpod", "tmp", "pause.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
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
