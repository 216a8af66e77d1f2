package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/runtime"
)

func TestSecurityOptions(t *testing.T) {
	tests := []struct {
		name                   string
		entries                []string
		wantRootless, wantUser bool
	}{
		{"rootful", []string{"name=apparmor", "name=seccomp,profile=default", "name=cgroupns"}, false, false},
		{"rootless", []string{"name=seccomp,profile=default", "name=rootless", "name=cgroupns"}, true, false},
		{"userns-remap", []string{"name=seccomp,profile=default", "name=userns"}, false, true},
		{"combined entry", []string{"name=seccomp,profile=default,name=userns"}, false, true},
		{"not a name field", []string{"profile=name=rootless", "rootless"}, false, false},
		{"none", nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, u := securityOptions(tt.entries)
			if r != tt.wantRootless || u != tt.wantUser {
				t.Errorf("securityOptions(%q) = %v, %v; want %v, %v", tt.entries, r, u, tt.wantRootless, tt.wantUser)
			}
		})
	}
}

func TestNew(t *testing.T) {
	for _, ep := range []string{"", "/var/run/docker.sock", "unix://", "ssh://me:secret@host", "npipe:////./pipe/docker_engine"} {
		if _, err := New(ep); err == nil {
			t.Errorf("New(%q) succeeded, want an error", ep)
		}
	}
	if _, err := New("npipe:////./pipe/docker_engine"); !errors.Is(err, runtime.ErrUnsupported) {
		t.Errorf("New(npipe://...) = %v, want ErrUnsupported", err)
	}
	e, err := New("unix:///nonexistent/docker.sock")
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Endpoint(); got != "unix:///nonexistent/docker.sock" {
		t.Errorf("Endpoint() = %q", got)
	}
}

func TestTranslate(t *testing.T) {
	e := &Engine{endpoint: "tcp://192.0.2.1:2375"}
	opErr := func(errno syscall.Errno) error {
		return fmt.Errorf("wrapped: %w", &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", errno)})
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"not found", fmt.Errorf("No such image: x: %w", cerrdefs.ErrNotFound), runtime.ErrNotFound},
		{"conflict", fmt.Errorf("name in use: %w", cerrdefs.ErrConflict), runtime.ErrConflict},
		{"attach to a missing container", errors.New("unable to upgrade to tcp, received 404"), runtime.ErrNotFound},
		{"attach refused otherwise", errors.New("unable to upgrade to tcp, received 500"), nil},
		{"refused", opErr(syscall.ECONNREFUSED), runtime.ErrUnreachable},
		{"no socket", opErr(syscall.ENOENT), runtime.ErrUnreachable},
		{"eacces", opErr(syscall.EACCES), runtime.ErrPermission},
		{"daemon went away", fmt.Errorf("reading: %w", io.EOF), runtime.ErrUnreachable},
		{"other", fmt.Errorf("reading: %w", errors.New("x")), nil},
		{"deadline", context.DeadlineExceeded, runtime.ErrUnreachable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := e.translate(tt.err)
			if tt.want == nil {
				if got != tt.err {
					t.Errorf("translate(%v) = %v, want it unchanged", tt.err, got)
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("translate(%v) = %v, want it to wrap %v", tt.err, got, tt.want)
			}
			if !strings.Contains(got.Error(), tt.err.Error()) {
				t.Errorf("translate(%v) = %q lost the client's text", tt.err, got)
			}
		})
	}
	if err := e.translate(context.Canceled); err != context.Canceled {
		t.Errorf("translate(Canceled) = %v, want it unchanged", err)
	}
}

// TestUnreachable dials endpoints where no daemon answers, through the real
// client.
func TestUnreachable(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, socket, why string
	}{
		{"no socket", filepath.Join(dir, "missing.sock"), "no socket at"},
		{"stale socket", stale, "nothing is listening"},
		{"not a socket", plain, "is not a socket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New("unix://" + tt.socket)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			start := time.Now()
			_, err = e.Info(context.Background())
			if !errors.Is(err, runtime.ErrUnreachable) {
				t.Fatalf("Info() = %v, want ErrUnreachable", err)
			}
			if !strings.Contains(err.Error(), tt.socket) || !strings.Contains(err.Error(), tt.why) {
				t.Errorf("Info() = %q, want it to name %s and say %q", err, tt.socket, tt.why)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Info() took %v to fail, want under 2s", d)
			}
		})
	}
}

func TestStartError(t *testing.T) {
	e := &Engine{endpoint: "unix:///x"}
	tests := []struct {
		msg  string
		want error
	}{
		{`OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuch": executable file not found in $PATH: unknown`, runtime.ErrCommandNotFound},
		{`OCI runtime create failed: unable to start container process: exec: "/nope": stat /nope: no such file or directory: unknown`, runtime.ErrCommandNotFound},
		{`OCI runtime create failed: unable to start container process: exec: "/etc/passwd": permission denied: unknown`, runtime.ErrCommandNotExecutable},
		{`OCI runtime create failed: unable to start container process: exec: "/etc": is a directory: unknown`, runtime.ErrCommandNotExecutable},
		{`error mounting "/x" to rootfs at "/app": no such file or directory`, nil},
	}
	for _, tt := range tests {
		got := e.startError(errors.New(tt.msg))
		for _, s := range []error{runtime.ErrCommandNotFound, runtime.ErrCommandNotExecutable} {
			if errors.Is(got, s) != (s == tt.want) {
				t.Errorf("startError(%q) = %v, want it to wrap %v", tt.msg, got, tt.want)
			}
		}
	}
}

func TestMergeEnv(t *testing.T) {
	got := mergeEnv([]string{"HOME=/mine", "A=1"}, []string{"USER=alice", "HOME=/home/alice"})
	want := []string{"HOME=/mine", "A=1", "USER=alice"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("mergeEnv() (-want +got):\n%s", diff)
	}
}
