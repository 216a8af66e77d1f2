package detect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// PrivateServiceIdle is how long a private podman service started by hpr
// lives without a client (`podman system service --time`): the last line
// of defence when no hpr is left to stop it.
const PrivateServiceIdle = 60

var errNoPodman = errors.New("podman is not installed")

// A user has at most one private podman service: on one socket in
// $XDG_RUNTIME_DIR/hpr, with the pid of the service beside it. Every hpr
// that uses it holds a shared lock on the lock file for as long as it does;
// starting it, and stopping it, take the lock exclusively. The hpr that
// finds itself the last user when it closes the engine stops the service,
// so it is gone when hpr ends by exit, Ctrl-C, SIGTERM or SIGHUP; a
// SIGKILLed hpr's lock goes with it, and the next hpr reuses the service
// and stops it in turn.
type privateService struct {
	dir  string // $XDG_RUNTIME_DIR/hpr (or a temporary directory)
	lock *os.File
}

func (p privateService) socket() string  { return filepath.Join(p.dir, "podman.sock") }
func (p privateService) pidFile() string { return filepath.Join(p.dir, "podman.pid") }
func (p privateService) uri() string     { return "unix://" + p.socket() }

// startPrivatePodman opens the user's private podman service, starting it
// when it is not running. Closing the returned Engine stops the service
// unless another hpr still uses it.
func startPrivatePodman(ctx context.Context, xdg string) (*Engine, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, errNoPodman
	}
	p, err := openPrivate(xdg)
	if err != nil {
		return nil, err
	}
	if err := p.share(ctx, bin); err != nil {
		p.release()
		return nil, err
	}
	e, err := Open(ctx, p.uri(), idmap.KindPodman)
	if err != nil {
		p.close()
		return nil, err
	}
	e.Source = "private podman service (started by hpr)"
	e.stop = p.close
	return e, nil
}

// share takes the shared lock on a running service, starting the service
// first (under the exclusive lock) when nothing answers on its socket.
func (p privateService) share(ctx context.Context, bin string) error {
	fd := int(p.lock.Fd())
	if err := syscall.Flock(fd, syscall.LOCK_SH); err != nil {
		return fmt.Errorf("locking the private podman service: %w", err)
	}
	if _, err := runtime.Ping(ctx, p.uri()); err == nil {
		return nil
	}
	// Converting to exclusive drops the shared lock first, so two hprs
	// doing this at once queue rather than wait for each other; the one
	// that comes second finds the service the first started.
	if err := syscall.Flock(fd, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking the private podman service: %w", err)
	}
	if _, err := runtime.Ping(ctx, p.uri()); err != nil {
		if err := p.start(ctx, bin); err != nil {
			return err
		}
	}
	if err := syscall.Flock(fd, syscall.LOCK_SH); err != nil {
		return fmt.Errorf("locking the private podman service: %w", err)
	}
	return nil
}

// openPrivate opens the private service's lock file under xdg.
func openPrivate(xdg string) (privateService, error) {
	if xdg == "" {
		xdg = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	p := privateService{dir: filepath.Join(xdg, "hpr")}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		// No runtime dir (e.g. root without /run/user): a directory of
		// hpr's own in the temporary directory, one per user.
		p.dir = filepath.Join(os.TempDir(), fmt.Sprintf("hpr-podman-%d", os.Getuid()))
		if err := os.MkdirAll(p.dir, 0o700); err != nil {
			return p, fmt.Errorf("making a directory for a private podman socket: %w", err)
		}
	}
	f, err := os.OpenFile(filepath.Join(p.dir, "podman.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return p, fmt.Errorf("locking the private podman service: %w", err)
	}
	p.lock = f
	return p, nil
}

// start starts the service (the caller holds the lock exclusively) and
// waits for it to answer.
func (p privateService) start(ctx context.Context, bin string) error {
	p.stopService() // one that no longer answers
	_ = os.Remove(p.socket())
	cmd := exec.Command(bin, "system", "service", fmt.Sprintf("--time=%d", PrivateServiceIdle), p.uri())
	// Its own process group: a Ctrl-C meant for the container's hpr is
	// hpr's to handle, and hpr stops the service when it is done.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Dir = "/"
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting a private podman service: %w", err)
	}
	go func() { _ = cmd.Wait() }() // reap it whenever it ends
	if err := os.WriteFile(p.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("starting a private podman service: %w", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := runtime.Ping(ctx, p.uri()); err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stopService()
			return fmt.Errorf("%w: a private podman service on %s did not answer within 5 s", runtime.ErrUnreachable, p.uri())
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// close stops the service when no other hpr uses it, and lets it go.
func (p privateService) close() {
	if syscall.Flock(int(p.lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil {
		p.stopService()
	}
	p.release()
}

func (p privateService) release() { p.lock.Close() }

// stopService stops the service whose pid the pid file names, if that
// process's group still holds a podman service on this socket (a stale pid
// file may name another process by now), and waits a few seconds for it
// to go. It signals the whole process group hpr started the service in: a
// rootless podman re-executes itself into its user namespace, so the
// service is two processes, and a signal to the outer one alone was seen to
// end it and leave the inner one serving.
func (p privateService) stopService() {
	data, err := os.ReadFile(p.pidFile())
	if err != nil {
		return
	}
	defer os.Remove(p.pidFile())
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 || !serviceGroup(pid, p.uri()) {
		return
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !serviceGroup(pid, p.uri()) {
			_ = os.Remove(p.socket())
			return
		}
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = os.Remove(p.socket())
}

// serviceGroup reports whether process group pgid has a live (not zombie)
// `podman system service` on uri.
func serviceGroup(pgid int, uri string) bool {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return false
	}
	for _, d := range procs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if g, ok := liveGroup(pid); ok && g == pgid && isService(pid, uri) {
			return true
		}
	}
	return false
}

// liveGroup is pid's process group, and whether pid is alive (not a zombie).
func liveGroup(pid int) (int, bool) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	i := strings.LastIndexByte(string(stat), ')')
	if i < 0 {
		return 0, false
	}
	// After the command: state, ppid, pgrp, ...
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 3 || f[0] == "Z" {
		return 0, false
	}
	pgrp, err := strconv.Atoi(f[2])
	return pgrp, err == nil
}

// isService reports whether pid's command line is `podman system service`
// on uri.
func isService(pid int, uri string) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return len(args) > 2 && args[1] == "system" && args[2] == "service" && args[len(args)-2] == uri
}
