//go:build integration

package main_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
)

// trapScript traps SIGINT, says so, and exits 3; it touches started once
// the trap is set.
const trapScript = `trap 'echo trapped; exit 3' INT; touch started; while :; do sleep 1; done`

// runScript starts hpr run of script (sh -c) on te's engine in a new
// directory, and waits for the script to touch started.
func runScript(t *testing.T, te testenv.Engine, script string) (*proc, string) {
	t.Helper()
	dir := t.TempDir()
	return startUntil(t, dir, "run", "--engine", te.Endpoint, "--image", base, "--", "sh", "-c", script), dir
}

// TestSignalReachesTrap: SIGINT to hpr run reaches a trap inside the
// container, and hpr exits with the command's own status.
func TestSignalReachesTrap(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		p, dir := runScript(t, te, trapScript)
		p.signal(t, os.Interrupt)
		if code := p.end(t, 20*time.Second, "SIGINT"); code != 3 || !strings.Contains(p.out.String(), "trapped") {
			t.Errorf("exit %d, output %q; want the trap's exit 3 and its word", code, p.out.String())
		}
		noneLeft(t, te.Endpoint, dir)
	})
}

// TestSecondInterruptKills: a command that only notes SIGINT keeps running
// after the first; the second Ctrl-C kills it at once — hpr ends well
// before the grace it gives a forwarded signal (runtime.RunOptions.StopGrace)
// — and hpr reports the interrupt (130). The signal is not passed on a
// second time.
func TestSecondInterruptKills(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		p, dir := runScript(t, te, `trap 'echo noted-INT' INT; touch started; while :; do sleep 1; done`)
		p.signal(t, os.Interrupt)
		p.waitOutput(t, "the first SIGINT to reach the command", 20*time.Second, "noted-INT")
		p.signal(t, os.Interrupt)
		// Without the second signal hpr would end after the grace; half of
		// it tells the two apart.
		if code := p.end(t, 5*time.Second, "the second SIGINT"); code != 130 {
			t.Errorf("exit %d after the second SIGINT, want 130", code)
		}
		if n := strings.Count(p.out.String(), "noted-INT"); n != 1 {
			t.Errorf("the command noted SIGINT %d times, want once: the second must kill, not be passed on; output %q", n, p.out.String())
		}
		noneLeft(t, te.Endpoint, dir)
	})
}

// TestExecForwardsSignals: SIGINT to hpr exec reaches the exec'd command —
// a trap inside runs and its exit status is hpr's; a command without one
// dies of it and hpr exits 130 — and nothing of the exec is left running.
func TestExecForwardsSignals(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "hpr.toml"), "[image]\nref = \"debian:bookworm-slim\"\n")
		run := startUntil(t, dir, "run", "--engine", te.Endpoint, "--", "sh", "-c", trapScript)

		ex := startUntil(t, subdir(t, dir, "trap"), "exec", "--engine", te.Endpoint, "--", "sh", "-c", trapScript)
		ex.signal(t, os.Interrupt)
		if code := ex.end(t, 20*time.Second, "SIGINT"); code != 3 || !strings.Contains(ex.out.String(), "trapped") {
			t.Errorf("trap: exit %d, output %q; want the trap's exit 3 and its word", code, ex.out.String())
		}

		ex = startUntil(t, subdir(t, dir, "kill"), "exec", "--engine", te.Endpoint, "--", "sh", "-c", "touch started; exec sleep 300")
		ex.signal(t, os.Interrupt)
		if code := ex.end(t, 20*time.Second, "SIGINT"); code != 128+int(syscall.SIGINT) {
			t.Errorf("no trap: exit %d, want %d; output %q", code, 128+int(syscall.SIGINT), ex.out.String())
		}
		// The exec's sleep is gone.
		code, out, errOut := hpr(t, dir, nil, "exec", "--engine", te.Endpoint, "--", "sh", "-c",
			`for d in /proc/[0-9]*; do tr '\0' ' ' <"$d/cmdline"; echo; done`)
		if code != 0 || contains(strings.Split(out, "\n"), "sleep 300 ") {
			t.Errorf("after SIGINT to hpr exec: exit %d, processes:\n%s%s", code, out, errOut)
		}
		run.signal(t, os.Interrupt)
		if code := run.end(t, 20*time.Second, "SIGINT"); code != 3 {
			t.Errorf("hpr run ended %d after SIGINT, want its trap's 3", code)
		}
	})
}

// subdir makes directory name in dir.
func subdir(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.Mkdir(p, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSignalWhileFindingEngine: SIGINT, SIGTERM or SIGHUP while hpr waits
// for an engine's answer (here a socket that accepts and never answers)
// ends hpr at once with the signal's code, 128+N, and no error of the call
// it cut short: make soak saw "engine unreachable … interrupt signal
// received" and exit 125 in that phase.
func TestSignalWhileFindingEngine(t *testing.T) {
	testenv.NonRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			l, err := net.Listen("unix", filepath.Join(dir, "silent.sock"))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			accepted := make(chan net.Conn, 1)
			go func() {
				if c, err := l.Accept(); err == nil {
					accepted <- c
				}
			}()
			p := startHpr(t, dir, "run", "--engine", "unix://"+l.Addr().String(), "--image", base, "--", "true")
			select {
			case c := <-accepted:
				defer c.Close()
			case <-time.After(20 * time.Second):
				t.Fatalf("hpr did not connect to the engine's socket; output:\n%s", p.out.String())
			}
			p.signal(t, sig)
			if code := p.end(t, 5*time.Second, sig.String()); code != 128+int(sig) || p.out.String() != "" {
				t.Errorf("exit %d, output %q; want %d and nothing said", code, p.out.String(), 128+int(sig))
			}
		})
	}
}
