package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// result is how one hpr run ended.
type result struct {
	code  int // -1: ended by a signal (SIGKILL)
	took  time.Duration
	rssKB int64
	tail  string // the last line of its output, for failures
	// missed: the run ended before the phase its signal was meant for;
	// hung: it did not end within a minute of the signal (it was killed).
	missed, hung bool
}

// phase is a point in an hpr run, marked by a line of its output: a
// HPR_TRACE=1 step, or the container command's own "running".
type phase struct{ name, mark string }

var phases = []phase{
	{"project found", "hpr trace: project"},
	{"engine detected", "hpr trace: detect engine"},
	{"planned", "hpr trace: plan"},
	{"created", "hpr trace: create"},
	{"attached", "hpr trace: attach"},
	{"started", "hpr trace: start"},
	{"running", "running"},
}

// signalledCmd ends at once on SIGINT, SIGTERM or SIGHUP, as a shell killed
// by it would, and says when it runs.
const signalledCmd = `trap "exit 130" INT; trap "exit 143" TERM; trap "exit 129" HUP; echo running; sleep 1 & wait`

// command is hpr run of cmd in dir on endpoint, as the soak's user.
func (c config) command(dir, endpoint string, trace bool, cmd ...string) *exec.Cmd {
	x := exec.Command(c.hpr, append([]string{"run", "--engine", endpoint, "--image", "debian:bookworm-slim", "--"}, cmd...)...)
	x.Dir = dir
	x.Env = []string{"HOME=" + c.user.Home, "USER=" + c.user.Name, "LOGNAME=" + c.user.Name,
		"PATH=/usr/local/bin:/usr/bin:/bin", "XDG_RUNTIME_DIR=/run/user/" + itoa(c.user.UID)}
	if trace {
		x.Env = append(x.Env, "HPR_TRACE=1")
	}
	x.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(c.user.UID), Gid: uint32(c.user.GID), Groups: c.user.Groups}}
	return x
}

// run runs hpr run -- cmd to its end.
func (c config) run(ctx context.Context, dir, endpoint string, cmd ...string) result {
	x := c.command(dir, endpoint, false, cmd...)
	var out bytes.Buffer
	x.Stdout, x.Stderr = &out, &out
	start := time.Now()
	err := x.Run()
	return ended(x, err, time.Since(start), out.String())
}

// signalled runs hpr run of signalledCmd and sends it sig as soon as its
// output reaches the phase at. A run still going 90 s after its start is
// killed and counted as hung.
func (c config) signalled(ctx context.Context, dir, endpoint string, sig syscall.Signal, at phase) result {
	x := c.command(dir, endpoint, true, "sh", "-c", signalledCmd)
	pr, pw := io.Pipe()
	x.Stdout, x.Stderr = pw, pw
	start := time.Now()
	if err := x.Start(); err != nil {
		return result{code: -2, tail: err.Error()}
	}
	hung := make(chan bool, 1)
	watchdog := time.AfterFunc(90*time.Second, func() { hung <- true; x.Process.Kill() })
	done := make(chan error, 1)
	go func() { err := x.Wait(); pw.Close(); done <- err }()
	var out strings.Builder
	sent := false
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if !sent && strings.HasPrefix(sc.Text(), at.mark) {
			x.Process.Signal(sig)
			sent = true
		}
	}
	err := <-done
	watchdog.Stop()
	r := ended(x, err, time.Since(start), out.String())
	r.missed = !sent
	select {
	case r.hung = <-hung:
	default:
	}
	return r
}

func ended(x *exec.Cmd, err error, took time.Duration, out string) result {
	r := result{code: -2, took: took}
	if x.ProcessState != nil {
		r.code = x.ProcessState.ExitCode()
		if ru, ok := x.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rssKB = ru.Maxrss
		}
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	r.tail = lines[len(lines)-1]
	if err != nil && x.ProcessState == nil {
		r.tail = err.Error()
	}
	return r
}
