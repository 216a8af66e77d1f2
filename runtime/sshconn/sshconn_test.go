package sshconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		uri  string
		want Target
	}{
		{"ssh://host", Target{Host: "host"}},
		{"ssh://me@host.example:2222", Target{User: "me", Host: "host.example", Port: "2222"}},
		{"ssh://me@127.0.0.1:22/run/user/1000/podman/podman.sock", Target{User: "me", Host: "127.0.0.1", Port: "22", Path: "/run/user/1000/podman/podman.sock"}},
		{"ssh://[::1]:2222/var/run/docker.sock", Target{Host: "::1", Port: "2222", Path: "/var/run/docker.sock"}},
		{"ssh://host/", Target{Host: "host"}},
	} {
		t.Run(tc.uri, func(t *testing.T) {
			got, err := Parse(tc.uri, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	for _, uri := range []string{
		"tcp://host:2375",
		"ssh://me:secret@host",                        // a password
		"ssh://host?x=1",                              // a query
		"ssh://-oProxyCommand=touch%20x/",             // an option as host
		"ssh://-oProxyCommand=x@host",                 // an option as user
		"ssh://host/run/x.sock;reboot",                // shell in the path
		"ssh://host/run/a%20b.sock",                   // a space in the path
		"ssh://host/run/../etc/x.sock",                // not clean
		"ssh://ho$t/x",                                // not a host name
		"ssh://host/run/user/1000/podman/p.sock#frag", // a fragment
	} {
		if _, err := Parse(uri, Options{}); !errors.Is(err, ErrURL) {
			t.Errorf("Parse(%q) = %v, want ErrURL", uri, err)
		}
	}
	_, err := Parse("ssh://me:secret@host", Options{})
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestArgs(t *testing.T) {
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	findControlAgain(t)
	base := []string{"-o", "BatchMode=yes", "-o", "ConnectTimeout=2", "-T",
		"-o", "ControlMaster=auto", "-o", "ControlPath=" + run + "/hpr/ssh/%C", "-o", "ControlPersist=60"}
	for _, tc := range []struct {
		name string
		t    Target
		kind idmap.Kind
		want []string
	}{
		{"docker default socket", Target{User: "me", Host: "h", Port: "2222"}, idmap.KindDocker,
			append(base, "-l", "me", "-p", "2222", "--", "h", "docker", "system", "dial-stdio")},
		{"docker named socket", Target{Host: "h", Path: "/run/user/7/docker.sock"}, idmap.KindDocker,
			append(base, "--", "h", "docker", "'--host=unix:///run/user/7/docker.sock'", "system", "dial-stdio")},
		{"podman socket", Target{Host: "h", Path: "/run/podman/podman.sock", Options: Options{Identity: "/k/id"}}, idmap.KindPodman,
			append(base, "-i", "/k/id", "-N", "-o", "ExitOnForwardFailure=yes", "-L", "LOCAL:/run/podman/podman.sock", "--", "h")},
		{"unknown kind with a socket", Target{Host: "h", Path: "/s.sock"}, "",
			append(base, "-N", "-o", "ExitOnForwardFailure=yes", "-L", "LOCAL:/s.sock", "--", "h")},
		{"podman machine", Target{User: "core", Host: "127.0.0.1", Port: "50123", Path: "/run/user/501/podman/podman.sock", Options: Options{Machine: true}}, idmap.KindPodman,
			append(base, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-l", "core", "-p", "50123", "-N", "-o", "ExitOnForwardFailure=yes", "-L", "LOCAL:/run/user/501/podman/podman.sock", "--", "127.0.0.1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := commandOf(tc.t, tc.kind)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// commandOf is what reaching kind's engine at t runs, without running it.
func commandOf(t Target, kind idmap.Kind) []string {
	if t.ViaDocker(kind) {
		return t.args(nil, t.dockerCommand()...)
	}
	return t.args([]string{"-N", "-o", "ExitOnForwardFailure=yes", "-L", "LOCAL:" + t.Path})
}

func TestCause(t *testing.T) {
	exit := func(code int) error {
		return exec.Command("sh", "-c", fmt.Sprintf("exit %d", code)).Run()
	}
	for _, tc := range []struct {
		stderr string
		err    error
		want   string
	}{
		{"ssh: connect to host 127.0.0.1 port 2299: Connection refused\r\n", exit(255), "connect to host 127.0.0.1 port 2299: Connection refused"},
		{"hprtest@127.0.0.1: Permission denied (publickey).\n", exit(255), "hprtest@127.0.0.1: Permission denied (publickey)."},
		{"bash: line 1: docker: command not found\n", exit(127), "bash: line 1: docker: command not found (the remote command must be in the PATH of a non-interactive ssh session there)"},
		{"", exit(255), "ssh failed (exit status 255) and said nothing"},
		{"", exit(1), "the remote command exited with status 1 and said nothing"},
	} {
		code := -1
		var ee *exec.ExitError
		if errors.As(tc.err, &ee) {
			code = ee.ExitCode()
		}
		if got := cause(tc.stderr, code, tc.err); got != tc.want {
			t.Errorf("cause(%q) = %q, want %q", tc.stderr, got, tc.want)
		}
	}
}

// fakeSSH puts an "ssh" that runs script (sh) first in PATH.
func fakeSSH(t *testing.T, script string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ssh"), []byte("#!/bin/sh\n"+script+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// A connection whose ssh fails before carrying a byte reads as an *Error
// with ssh's last words; one that worked reads to EOF and passes a half
// close on.
func TestConn(t *testing.T) {
	target := Target{User: "me", Host: "h", Port: "22"}
	t.Run("failure", func(t *testing.T) {
		fakeSSH(t, `echo "Warning: something" >&2; echo "ssh: connect to host h port 22: No route to host" >&2; exit 255`)
		c, err := target.DialDocker(context.Background(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, err = io.ReadAll(c)
		var se *Error
		if !errors.As(err, &se) {
			t.Fatalf("read error %v, want an *Error", err)
		}
		if want := "ssh me@h:22: connect to host h port 22: No route to host"; se.Error() != want {
			t.Errorf("error %q, want %q", se.Error(), want)
		}
	})
	t.Run("echo", func(t *testing.T) {
		fakeSSH(t, `exec cat`)
		c, err := target.DialDocker(context.Background(), "", "")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "ping" {
			t.Errorf("read %q, %v; want ping, nil", got, err)
		}
	})
}

// TestMain lets the test binary stand in for ssh (see fakeTunnelSSH).
func TestMain(m *testing.M) {
	if os.Getenv("HPR_FAKE_SSH") == "tunnel" {
		fakeTunnel()
		return
	}
	os.Exit(m.Run())
}

// fakeTunnel acts as `ssh -N -L LOCAL:REMOTE`: it listens on LOCAL and
// echoes every connection, as if the remote socket were an echo server.
func fakeTunnel() {
	args := os.Args
	if slices.Contains(args, "-O") { // a command to the master: cancel
		os.Exit(0)
	}
	for i, a := range args {
		if a == "-L" && i+1 < len(args) {
			local, _, _ := strings.Cut(args[i+1], ":")
			l, err := net.Listen("unix", local)
			if err != nil {
				fmt.Fprintln(os.Stderr, "bind:", err)
				os.Exit(255)
			}
			for {
				c, err := l.Accept()
				if err != nil {
					os.Exit(0)
				}
				go func() {
					io.Copy(c, c)
					c.Close()
				}()
			}
		}
	}
	fmt.Fprintln(os.Stderr, "no -L")
	os.Exit(255)
}

// fakeTunnelSSH makes "ssh" this test binary acting as a tunnel.
func fakeTunnelSSH(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HPR_FAKE_SSH", "tunnel")
	fakeSSH(t, "exec "+self+` "$@"`)
}

// A tunnel is ready once its socket is there, carries connections to the
// remote socket, removes its socket when closed, and reports an ssh that
// failed, or took too long, with the cause.
func TestTunnel(t *testing.T) {
	target := Target{Host: "h", Path: "/run/podman/podman.sock"}
	ctx := context.Background()
	t.Run("carries", func(t *testing.T) {
		fakeTunnelSSH(t)
		tu, err := target.Tunnel(ctx, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		sock := strings.TrimPrefix(tu.URI(), "unix://")
		c, err := net.Dial("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		c.(*net.UnixConn).CloseWrite()
		got, err := io.ReadAll(c)
		if err != nil || string(got) != "hello" {
			t.Errorf("read %q, %v; want hello, nil", got, err)
		}
		c.Close()
		if err := tu.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s still there after Close: %v", sock, err)
		}
	})
	t.Run("failure", func(t *testing.T) {
		fakeSSH(t, `echo "ssh: connect to host h port 22: Connection refused" >&2; exit 255`)
		_, err := target.Tunnel(ctx, t.TempDir())
		var se *Error
		if !errors.As(err, &se) || se.Error() != "ssh h: connect to host h port 22: Connection refused" {
			t.Errorf("error %v, want ssh's cause", err)
		}
	})
	t.Run("no answer", func(t *testing.T) {
		fakeSSH(t, `exec sleep 60`)
		ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := target.Tunnel(ctx, t.TempDir())
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(se.Error(), "no answer (timed out)") {
			t.Errorf("error %v, want no answer (timed out)", err)
		}
	})
}

// Output returns the remote command's stdout; a failure is an *Error with
// its last words; a context that ends cuts it short.
func TestOutput(t *testing.T) {
	target := Target{Host: "h"}
	t.Run("prints", func(t *testing.T) {
		fakeSSH(t, `echo /run/user/1000/podman/podman.sock`)
		got, err := target.Output(context.Background(), "podman", "info")
		if err != nil || got != "/run/user/1000/podman/podman.sock\n" {
			t.Errorf("Output = %q, %v", got, err)
		}
	})
	t.Run("fails", func(t *testing.T) {
		fakeSSH(t, `echo "bash: line 1: podman: command not found" >&2; exit 127`)
		_, err := target.Output(context.Background(), "podman", "info")
		var se *Error
		if !errors.As(err, &se) || !strings.Contains(se.Cause, "podman: command not found") {
			t.Errorf("error %v, want the remote shell's words", err)
		}
	})
	t.Run("cut short", func(t *testing.T) {
		fakeSSH(t, `exec sleep 60`)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := target.Output(ctx, "true"); err == nil {
			t.Error("no error from a cancelled context")
		}
	})
}

// The control directory is the user's own, writable by no one else, or
// there is none (every ssh logs in anew), and the error says why: a socket
// there carries the connection's traffic. The rules of the directory itself
// are tested in rundir.
func TestControlDir(t *testing.T) {
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	if got, err := controlDir(); err != nil || got != filepath.Join(run, "hpr", "ssh") {
		t.Errorf("controlDir() = %q, %v; want %q", got, err, filepath.Join(run, "hpr", "ssh"))
	}
	if err := os.Chmod(filepath.Join(run, "hpr"), 0o777); err != nil {
		t.Fatal(err)
	}
	if got, err := controlDir(); err == nil || !strings.Contains(err.Error(), "written by others") {
		t.Errorf("controlDir() = %q, %v with a world-writable parent, want none and why", got, err)
	}
	t.Setenv("XDG_RUNTIME_DIR", "/tmp/"+strings.Repeat("x", maxControlDir))
	got, err := controlDir()
	if err == nil || !strings.Contains(err.Error(), "too long") {
		t.Errorf("controlDir() = %q, %v for a path too long for a socket, want none and why", got, err)
	}
	if mux := muxOptions(got, err); mux != nil {
		t.Errorf("muxOptions = %q without a control directory, want none", mux)
	}
	t.Setenv("XDG_RUNTIME_DIR", "/tmp/100%")
	if got, err := controlDir(); err == nil || !strings.Contains(err.Error(), "ControlPath") {
		t.Errorf("controlDir() = %q, %v for a path with %%, want none and why", got, err)
	}
}

// The control directory is found once per process: a later change of the
// environment does not change the options.
func TestMuxArgsOnce(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	findControlAgain(t)
	first := muxArgs()
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if got := muxArgs(); !slices.Equal(got, first) {
		t.Errorf("muxArgs() = %q after XDG_RUNTIME_DIR changed, want %q as found first", got, first)
	}
}

// findControlAgain makes the next muxArgs find the control directory anew,
// in the test's environment, and the tests after this one too.
func findControlAgain(t *testing.T) {
	control = sync.OnceValues(controlDir)
	t.Cleanup(func() { control = sync.OnceValues(controlDir) })
}

// Owner's answer is read into the owner's identity and the login uid.
func TestParseOwner(t *testing.T) {
	h, login, err := parseOwner("owner 2000 2000 hprtest\nlogin 2000\nsubuid 100000 65536\nsubgid 100000 65536\n")
	want := idmap.Host{UID: 2000, GID: 2000, Name: "hprtest", SubUIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}}, SubGIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}}}
	if err != nil || login != 2000 {
		t.Fatalf("parseOwner: login %d, %v", login, err)
	}
	if diff := cmp.Diff(want, h); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
	if h, _, err := parseOwner("owner 0 0 UNKNOWN\nlogin 1000\n"); err != nil || h.Name != "" {
		t.Errorf("an owner without a name: %+v, %v", h, err)
	}
	if _, _, err := parseOwner("login 1000\n"); err == nil {
		t.Error("no owner in the answer, no error")
	}
}

// localSSH makes "ssh" run the remote command here, as the login shell
// would: the words after the destination, joined.
func localSSH(t *testing.T) {
	fakeSSH(t, `while [ "$1" != -- ]; do shift; done; shift 2; exec sh -c "$*"`)
}

// A script reaches the remote sh on its stdin, whatever it holds.
func TestScript(t *testing.T) {
	localSSH(t)
	value := "it's \"quoted\" $HOME `x` \\ ünï"
	out, err := Target{Host: "h"}.Script(context.Background(), "printf '%s' "+Quote(value))
	if err != nil || out != value {
		t.Errorf("Script = %q, %v; want %q", out, err, value)
	}
}

// The scripts of the engine's host, run here: the owner of a directory,
// files published for containers (0644, kept when there), files read.
func TestHostScripts(t *testing.T) {
	localSSH(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CACHE_HOME", "")
	ctx, target := context.Background(), Target{Host: "h"}
	dir := filepath.Join(t.TempDir(), "a dir 'quoted'")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h, login, err := target.Owner(ctx, dir)
	if err != nil || h.UID != os.Getuid() || h.GID != os.Getgid() || login != os.Getuid() {
		t.Errorf("Owner = %+v, login %d, %v; want uid %d gid %d", h, login, err, os.Getuid(), os.Getgid())
	}
	if _, _, err := target.Owner(ctx, filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "no such directory") {
		t.Errorf("Owner of a missing directory: %v", err)
	}
	files := map[string][]byte{"passwd-1": []byte("root:x:0:0:it's:/root:/bin/sh\n"), "group-2": []byte("root:x:0:\n")}
	paths, err := target.Publish(ctx, files)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		p := paths[name]
		if want := filepath.Join(home, ".cache", "hpr", "identity", name); p != want {
			t.Errorf("%s published at %q, want %q", name, p, want)
		}
		got, err := target.ReadFile(ctx, p)
		fi, serr := os.Stat(p)
		if err != nil || serr != nil || string(got) != string(content) || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: %q (%v), stat %v %v; want %q, 0644", p, got, err, fi, serr, content)
		}
	}
}
