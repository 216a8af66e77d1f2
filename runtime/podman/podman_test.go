package podman

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containers/podman/v5/pkg/errorhandling"

	"github.com/hostpersist/hpr/runtime"
)

// fakeService serves handler on a unix socket as a Podman 4.3.1 service
// and returns its endpoint.
func fakeService(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "podman.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_ping") {
			w.Header().Set("Libpod-API-Version", "4.3.1")
			fmt.Fprint(w, "OK")
			return
		}
		handler(w, r)
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return "unix://" + sock
}

// apiErr answers like libpod's utils.Error.
func apiErr(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"cause":%q,"message":%q,"response":%d}`, msg, msg, code)
}

func TestNewUnreachable(t *testing.T) {
	dir := t.TempDir()
	// A socket that accepts and never answers.
	silent := filepath.Join(dir, "silent.sock")
	l, err := net.Listen("unix", silent)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	// A socket file nobody listens on.
	refused := filepath.Join(dir, "refused.sock")
	l2, err := net.Listen("unix", refused)
	if err != nil {
		t.Fatal(err)
	}
	l2.(*net.UnixListener).SetUnlinkOnClose(false)
	l2.Close()

	for _, sock := range []string{filepath.Join(dir, "missing.sock"), refused, silent} {
		t.Run(filepath.Base(sock), func(t *testing.T) {
			endpoint := "unix://" + sock
			t0 := time.Now()
			_, err := New(t.Context(), endpoint)
			took := time.Since(t0)
			if !errors.Is(err, runtime.ErrUnreachable) || !strings.Contains(err.Error(), endpoint) {
				t.Errorf("New() error = %v, want ErrUnreachable naming %s", err, endpoint)
			}
			if took > runtime.DialTimeout+500*time.Millisecond {
				t.Errorf("New() took %v, want about %v at most", took, runtime.DialTimeout)
			}
		})
	}
}

func TestNewCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := New(ctx, fakeService(t, nil))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("New(cancelled) error = %v, want context.Canceled", err)
	}
}

func TestNewNotPodman(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "OK") })}
	go srv.Serve(l)
	defer srv.Close()
	if _, err := New(t.Context(), "unix://"+sock); !errors.Is(err, runtime.ErrUnsupported) {
		t.Errorf("New(docker socket) error = %v, want ErrUnsupported", err)
	}
	if _, err := New(t.Context(), "npipe:////./pipe/podman-machine-default"); !errors.Is(err, runtime.ErrUnsupported) {
		t.Errorf("New(npipe) error = %v, want ErrUnsupported", err)
	}
}

func TestTranslate(t *testing.T) {
	endpoint := fakeService(t, func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasSuffix(p, "/images/gone/json"):
			apiErr(w, 404, "gone: image not known")
		case strings.HasSuffix(p, "/volumes/v/exists"):
			w.WriteHeader(404)
		case strings.HasSuffix(p, "/volumes/create"):
			apiErr(w, 409, "volume with name v already exists: volume already exists")
		case strings.HasSuffix(p, "/containers/nocmd/start"):
			apiErr(w, 500, `runc: runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH: OCI runtime attempted to invoke a command that was not found`)
		case strings.HasSuffix(p, "/containers/noexec/start"):
			apiErr(w, 500, `runc: exec: "/etc/passwd": permission denied: OCI permission denied`)
		case strings.HasSuffix(p, "/containers/gone/start"):
			apiErr(w, 404, "no container with name or ID \"gone\" found: no such container")
		case strings.HasSuffix(p, "/containers/busy/json"):
			apiErr(w, 409, "container is busy")
		case strings.HasSuffix(p, "/containers/slow/wait"):
			<-r.Context().Done()
		default:
			apiErr(w, 500, "unexpected "+p)
		}
	})
	e, err := New(t.Context(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ctx := t.Context()

	_, err = e.Image(ctx, "gone")
	var model *errorhandling.ErrorModel
	if !errors.Is(err, runtime.ErrNotFound) || !errors.As(err, &model) || !strings.Contains(err.Error(), "image not known") {
		t.Errorf("Image(gone) = %v, want ErrNotFound keeping the client's error", err)
	}
	if created, err := e.EnsureVolume(ctx, runtime.VolumeSpec{Name: "v"}); err != nil || created {
		t.Errorf("EnsureVolume racing another creator = %v, %v; want false, nil", created, err)
	}
	if err := e.Start(ctx, "nocmd"); !errors.Is(err, runtime.ErrCommandNotFound) {
		t.Errorf("Start(nocmd) = %v, want ErrCommandNotFound", err)
	}
	if err := e.Start(ctx, "noexec"); !errors.Is(err, runtime.ErrCommandNotExecutable) {
		t.Errorf("Start(noexec) = %v, want ErrCommandNotExecutable", err)
	}
	if err := e.Start(ctx, "gone"); !errors.Is(err, runtime.ErrNotFound) || errors.Is(err, runtime.ErrCommandNotFound) {
		t.Errorf("Start(gone) = %v, want ErrNotFound only", err)
	}
	if err := e.Signal(ctx, "x", 15); err == nil || errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Signal() = %v, want a plain error", err)
	}

	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := e.Wait(wctx, "slow"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait(deadline) = %v, want DeadlineExceeded", err)
	}
	if took := time.Since(t0); took > time.Second {
		t.Errorf("Wait returned %v after its context ended", took)
	}

	e.Close()
	if _, err := e.Image(ctx, "x"); err == nil {
		t.Error("Image after Close succeeded")
	}
}

func TestClassifySocketErrors(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "podman.sock")
	if err := os.WriteFile(sock, nil, 0o660); err != nil {
		t.Fatal(err)
	}
	e := &Engine{endpoint: "unix://" + sock, socket: sock}
	dial := func(errno syscall.Errno) error {
		return fmt.Errorf("wrapped: %w", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", errno)})
	}
	tests := []struct {
		err  error
		want error
	}{
		{dial(syscall.EACCES), runtime.ErrPermission},
		{dial(syscall.ECONNREFUSED), runtime.ErrUnreachable},
		{dial(syscall.ENOENT), runtime.ErrUnreachable},
		{fmt.Errorf("reading: %w", syscall.ECONNRESET), runtime.ErrUnreachable},
		{&errorhandling.ErrorModel{Message: "x", ResponseCode: 409}, runtime.ErrConflict},
		{errors.New("404 Not Found"), runtime.ErrNotFound},
		{&errorhandling.ErrorModel{Message: `creating container storage: the container name "x" is already in use by 3bc5. You have to remove that container to be able to reuse that name: that name is already in use`, ResponseCode: 500}, runtime.ErrConflict},
		{errors.New("something else"), nil},
	}
	for _, tt := range tests {
		got := e.translate(t.Context(), tt.err)
		if tt.want == nil {
			if got != tt.err {
				t.Errorf("translate(%v) = %v, want it unchanged", tt.err, got)
			}
			continue
		}
		if !errors.Is(got, tt.want) || !errors.Is(got, tt.err) {
			t.Errorf("translate(%v) = %v, want %v wrapping the original", tt.err, got, tt.want)
		}
	}
	got := e.translate(t.Context(), dial(syscall.EACCES)).Error()
	if !strings.Contains(got, sock) || !strings.Contains(got, "group") {
		t.Errorf("permission message %q does not name the socket and its group", got)
	}
}
