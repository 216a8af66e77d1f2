// Package enginetest is the contract every runtime.Engine backend must meet,
// run against real engines: each backend's integration tests call Run once
// per engine of the harness, as the non-root test user, and every assertion
// is an outcome observed from the host (a file's owner, an exit code, bytes
// on a published port).
package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// BaseImage is the image the harness makes available in every store.
const BaseImage = "debian:bookworm-slim"

// Opener opens the backend under test on one endpoint.
type Opener func(ctx context.Context, endpoint string) (runtime.Engine, error)

// Env is one engine to hold to the contract.
type Env struct {
	Mode     idmap.Mode
	Endpoint string
	Open     Opener
}

// fixture is what every check needs: the engine, its info, a plan for the
// base image, and a project directory owned by the test user.
type fixture struct {
	e       runtime.Engine
	info    runtime.Info
	host    idmap.Host
	planned runtime.Planned
	dir     string
}

func setup(t *testing.T, env Env) *fixture {
	t.Helper()
	ctx := context.Background()
	e, err := env.Open(ctx, env.Endpoint)
	if err != nil {
		t.Fatalf("opening %s: %v", env.Endpoint, err)
	}
	t.Cleanup(func() { e.Close() })
	info, err := e.Info(ctx)
	if err != nil {
		t.Fatalf("Info: %v", err)
	}
	if info.Mode != env.Mode {
		t.Fatalf("engine at %s reports mode %s, want %s", env.Endpoint, info.Mode, env.Mode)
	}
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	planned, err := runtime.PlanFor(ctx, e, info, host, BaseImage, idmap.OverrideAuto)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{e: e, info: info, host: host, planned: planned, dir: t.TempDir()}
}

// spec returns a container spec for the base image with the project
// directory mounted at /app and the test's label.
func (f *fixture) spec(t *testing.T, cmd ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Image:      BaseImage,
		Cmd:        cmd,
		WorkingDir: "/app",
		Mounts:     []runtime.Mount{{Source: f.dir, Target: "/app"}},
		Labels:     map[string]string{runtime.LabelProject: f.dir, "io.hpr.test": t.Name()},
		Plan:       f.planned.Plan,
		Identity:   f.planned.Identity,
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func (f *fixture) run(t *testing.T, opts runtime.RunOptions) result {
	t.Helper()
	res, err := f.tryRun(opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// tryRun is run for goroutines, which must not call t.Fatal.
func (f *fixture) tryRun(opts runtime.RunOptions) (result, error) {
	var out, errb bytes.Buffer
	if opts.Streams.Stdout == nil {
		opts.Streams.Stdout = &out
	}
	if opts.Streams.Stderr == nil {
		opts.Streams.Stderr = &errb
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code, err := runtime.Run(ctx, f.e, opts)
	if err != nil {
		return result{}, fmt.Errorf("Run: %v (stderr %q)", err, errb.String())
	}
	return result{code, out.String(), errb.String()}, nil
}

// runAsync starts a run in a goroutine; the result arrives on the channel.
func (f *fixture) runAsync(opts runtime.RunOptions) <-chan asyncResult {
	ch := make(chan asyncResult, 1)
	go func() {
		r, err := f.tryRun(opts)
		ch <- asyncResult{r, err}
	}()
	return ch
}

type asyncResult struct {
	result
	err error
}

// noneLeft asserts no container carrying this test's label exists, once
// the engine has had up to 10 s to remove the ones it removes by itself.
func (f *fixture) noneLeft(t *testing.T) {
	t.Helper()
	left, err := runtime.Settle(context.Background(), f.e, map[string]string{"io.hpr.test": t.Name()}, 10*time.Second)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(left) > 0 {
		t.Errorf("%d container(s) left after the run: %+v", len(left), left)
	}
}

// Run holds one engine to the contract.
func Run(t *testing.T, env Env) {
	f := setup(t, env)

	t.Run("OwnerOfWrittenFile", func(t *testing.T) {
		res := f.run(t, runtime.RunOptions{Spec: f.spec(t, "sh", "-c", "mkdir -p a/b && echo hi > a/b/f && id -u")})
		if res.code != 0 {
			t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
		}
		for _, p := range []string{"a", "a/b", "a/b/f"} {
			assertOwner(t, filepath.Join(f.dir, p), os.Getuid(), os.Getgid(), f)
		}
		f.noneLeft(t)
	})

	t.Run("ExitCodes", func(t *testing.T) {
		for _, c := range []struct {
			cmd  []string
			want int
		}{
			{[]string{"true"}, 0},
			{[]string{"sh", "-c", "exit 3"}, 3},
			{[]string{"no-such-command-hpr"}, 127},
			{[]string{"sh", "-c", "no-such-command-hpr"}, 127},
			// The output ends long before the command: the status must
			// come from Wait, also where the engine removes the container
			// by itself once it exits.
			{[]string{"sh", "-c", "exec >/dev/null 2>&1; sleep 0.5; exit 5"}, 5},
		} {
			res := f.run(t, runtime.RunOptions{Spec: f.spec(t, c.cmd...)})
			if res.code != c.want {
				t.Errorf("%q: exit %d, want %d (stderr %q)", c.cmd, res.code, c.want, res.stderr)
			}
		}
		f.noneLeft(t)
	})

	t.Run("StdoutStderrSeparate", func(t *testing.T) {
		res := f.run(t, runtime.RunOptions{Spec: f.spec(t, "sh", "-c", "echo out; echo err >&2")})
		if res.stdout != "out\n" || res.stderr != "err\n" {
			t.Errorf("stdout %q, stderr %q; want \"out\\n\", \"err\\n\"", res.stdout, res.stderr)
		}
	})

	t.Run("EnvAndWorkingDir", func(t *testing.T) {
		if err := os.MkdirAll(filepath.Join(f.dir, "sub dir"), 0o755); err != nil {
			t.Fatal(err)
		}
		s := f.spec(t, "sh", "-c", `printf '%s|%s|%s' "$HPR_X" "$PWD" "$HOME"`)
		s.Env = []string{"HPR_X=a b=c"}
		s.WorkingDir = "/app/sub dir"
		res := f.run(t, runtime.RunOptions{Spec: s})
		want := "a b=c|/app/sub dir|" + f.planned.Plan.Home
		if res.stdout != want {
			t.Errorf("got %q, want %q", res.stdout, want)
		}
	})

	t.Run("IdentityAndHome", func(t *testing.T) {
		res := f.run(t, runtime.RunOptions{Spec: f.spec(t, "sh", "-c", `id -un && touch "$HOME/.hpr-probe" && echo "$USER"`)})
		if res.code != 0 {
			t.Fatalf("exit %d: stdout %q stderr %q", res.code, res.stdout, res.stderr)
		}
		want := f.planned.Plan.UserName + "\n" + f.planned.Plan.UserName + "\n"
		if res.stdout != want {
			t.Errorf("id -un, $USER = %q, want %q", res.stdout, want)
		}
	})

	t.Run("Stdin", func(t *testing.T) {
		s := f.spec(t, "sh", "-c", "cat > from-stdin && wc -c < from-stdin")
		s.OpenStdin = true
		res := f.run(t, runtime.RunOptions{Spec: s, Streams: runtime.Streams{Stdin: strings.NewReader("hello from the host\n")}})
		if strings.TrimSpace(res.stdout) != "20" {
			t.Errorf("container read %q bytes of stdin, want 20 (stderr %q)", strings.TrimSpace(res.stdout), res.stderr)
		}
		data, err := os.ReadFile(filepath.Join(f.dir, "from-stdin"))
		if err != nil || string(data) != "hello from the host\n" {
			t.Errorf("file written from stdin: %q, %v", data, err)
		}
	})

	t.Run("PublishedPort", func(t *testing.T) {
		port := freePort(t)
		s := f.spec(t, "perl", "-e", serveScript)
		s.Ports = []runtime.Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: 8080}}
		sig := make(chan os.Signal, 1)
		done := f.runAsync(runtime.RunOptions{Spec: s, Signals: sig, StopGrace: 2 * time.Second})
		body, err := getWithin(fmt.Sprintf("http://127.0.0.1:%d/", port), 30*time.Second)
		sig <- syscall.SIGTERM
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if err != nil {
			t.Fatalf("GET on published port %d: %v (container stderr %q)", port, err, res.stderr)
		}
		if !strings.Contains(body, "hpr-ok") {
			t.Errorf("body %q, want hpr-ok", body)
		}
		f.noneLeft(t)
	})

	t.Run("SIGTERMReachesContainer", func(t *testing.T) {
		s := f.spec(t, "sh", "-c", `trap 'echo got-term > term-seen; exit 143' TERM; echo ready > ready; while :; do sleep 0.1; done`)
		sig := make(chan os.Signal, 1)
		done := f.runAsync(runtime.RunOptions{Spec: s, Signals: sig, StopGrace: 20 * time.Second})
		if err := waitFile(filepath.Join(f.dir, "ready"), 30*time.Second); err != nil {
			sig <- syscall.SIGKILL
			t.Fatal(err)
		}
		sig <- syscall.SIGTERM
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		if res.code != 143 {
			t.Errorf("exit %d after SIGTERM, want 143", res.code)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "term-seen")); err != nil {
			t.Errorf("the container's trap did not run: %v", err)
		}
		f.noneLeft(t)
	})

	t.Run("SecurityDefaults", func(t *testing.T) {
		res := f.run(t, runtime.RunOptions{Spec: f.spec(t, "sh", "-c", "grep -E '^(NoNewPrivs|CapEff):' /proc/self/status")})
		fields := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(res.stdout), "\n") {
			k, v, _ := strings.Cut(l, ":")
			fields[k] = strings.TrimSpace(v)
		}
		if fields["NoNewPrivs"] != "1" {
			t.Errorf("NoNewPrivs = %q, want 1 (no-new-privileges by default)", fields["NoNewPrivs"])
		}
		capEff, err := strconv.ParseUint(fields["CapEff"], 16, 64)
		if err != nil {
			t.Fatalf("CapEff %q: %v", fields["CapEff"], err)
		}
		const capSysAdmin = 21
		if capEff&(1<<capSysAdmin) != 0 {
			t.Errorf("CapEff %s has CAP_SYS_ADMIN: the container is privileged", fields["CapEff"])
		}
	})

	t.Run("MissingImage", func(t *testing.T) {
		ctx := context.Background()
		ref := "hpr-no-such-image:never"
		if _, err := f.e.Image(ctx, ref); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Image(%s) error = %v, want ErrNotFound", ref, err)
		}
		s := f.spec(t, "true")
		s.Image = ref
		if _, err := runtime.Run(ctx, f.e, runtime.RunOptions{Spec: s}); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Run with %s error = %v, want ErrNotFound", ref, err)
		}
		if _, err := f.e.Image(ctx, ref); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("after the run, %s exists (pulled?): %v", ref, err)
		}
	})

	t.Run("ImagePinnedByID", func(t *testing.T) {
		ctx := context.Background()
		for ref, want := range map[string]bool{BaseImage: true, f.planned.Image.ID: true, "hpr-no-such-image:never": false} {
			if ok, err := f.e.ImageExists(ctx, ref); err != nil || ok != want {
				t.Errorf("ImageExists(%s) = %v, %v; want %v", ref, ok, err, want)
			}
		}
		// An image with one file and no shell under a name; the container is
		// created with that name and the base image's ID, and must run the
		// base image (cat exists only there).
		ref := fmt.Sprintf("hpr-pin-test:%d", time.Now().UnixNano())
		var tarball bytes.Buffer
		tw := tar.NewWriter(&tarball)
		_ = tw.WriteHeader(&tar.Header{Name: "only-file", Mode: 0o644, Size: 3, Typeflag: tar.TypeReg})
		_, _ = tw.Write([]byte("hi\n"))
		_ = tw.Close()
		if err := f.e.Import(ctx, runtime.ImportOptions{Ref: ref, Tar: &tarball}); err != nil {
			t.Fatalf("importing %s: %v", ref, err)
		}
		defer func() {
			f.noneLeft(t)
			if err := f.e.RemoveImage(ctx, ref); err != nil {
				t.Errorf("removing %s: %v", ref, err)
			}
		}()
		s := f.spec(t, "cat", "/etc/debian_version")
		s.Image, s.ImageID = ref, f.planned.Image.ID
		res := f.run(t, runtime.RunOptions{Spec: s})
		if res.code != 0 || strings.TrimSpace(res.stdout) == "" {
			t.Errorf("run of %s pinned to %s: exit %d, stdout %q, stderr %q; want the base image's /etc/debian_version", ref, f.planned.Image.ID, res.code, res.stdout, res.stderr)
		}
	})

	t.Run("Network", func(t *testing.T) { networkContract(t, f) })

	t.Run("UnreachableEndpoint", func(t *testing.T) {
		ctx := context.Background()
		dead := "unix://" + filepath.Join(t.TempDir(), "dead.sock")
		start := time.Now()
		e, err := env.Open(ctx, dead)
		if err == nil {
			_, err = e.Info(ctx)
			e.Close()
		}
		if !errors.Is(err, runtime.ErrUnreachable) {
			t.Errorf("error = %v, want ErrUnreachable", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("unreachable endpoint reported after %v, want under 2 s", d)
		}
	})
}

// serveScript is an HTTP server on port 8080 in perl-base, the one
// listener a minbase Debian has; it answers every request with "hpr-ok" and
// ends on SIGTERM.
const serveScript = `use IO::Socket::INET;
$SIG{TERM} = sub { exit 0 };
my $l = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!";
while (my $c = $l->accept) { print $c "HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhpr-ok"; close $c }`

func assertOwner(t *testing.T, path string, uid, gid int, f *fixture) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		why := ""
		ns := idmap.Namespace{Mode: f.planned.Plan.Mode, Userns: f.planned.Plan.Userns}
		if o, err := idmap.Reverse(int(st.Uid), int(st.Gid), ns, f.host); err == nil {
			why = ": " + o.Text
		}
		t.Errorf("%s owned by %d:%d, want %d:%d%s", path, st.Uid, st.Gid, uid, gid, why)
	}
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

func getWithin(url string, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b), nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return "", last
}

func waitFile(path string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not appear within %v", path, d)
}
