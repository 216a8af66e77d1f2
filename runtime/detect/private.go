package detect

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// PrivateServiceIdle is how long a private podman service started by hpr
// lives without a client (`podman system service --time`): if hpr itself is
// killed, the service still goes away on its own.
const PrivateServiceIdle = 60

var errNoPodman = errors.New("podman is not installed")

// startPrivatePodman starts `podman system service` on a socket of hpr's own
// and opens it. Closing the returned Engine stops the service (by its pid).
func startPrivatePodman(ctx context.Context, xdg string) (*Engine, error) {
	bin, err := exec.LookPath("podman")
	if err != nil {
		return nil, errNoPodman
	}
	if xdg == "" {
		xdg = fmt.Sprintf("/run/user/%d", os.Getuid())
	}
	dir := filepath.Join(xdg, "hpr")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		// No runtime dir (e.g. root without /run/user): fall back to a temp dir.
		if dir, err = os.MkdirTemp("", "hpr-podman-"); err != nil {
			return nil, fmt.Errorf("making a directory for a private podman socket: %w", err)
		}
	}
	sock := filepath.Join(dir, fmt.Sprintf("podman-%d.sock", os.Getpid()))
	uri := "unix://" + sock
	cmd := exec.Command(bin, "system", "service", fmt.Sprintf("--time=%d", PrivateServiceIdle), uri)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting a private podman service: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = os.Remove(sock)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := runtime.Ping(ctx, uri); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("%w: a private podman service on %s did not answer within 5 s", runtime.ErrUnreachable, uri)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e, err := Open(ctx, uri, idmap.KindPodman)
	if err != nil {
		stop()
		return nil, err
	}
	e.Source = "private podman service (started by hpr)"
	e.stop = stop
	return e, nil
}
