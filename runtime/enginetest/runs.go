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

// The checks in this file run containers the way hpr run does, through
// runtime.Run.

func checkOwnerOfWrittenFile(t *testing.T, f *fixture) {
	res := f.run(t, runtime.RunOptions{Spec: f.spec(t, "sh", "-c", "mkdir -p a/b && echo hi > a/b/f && id -u")})
	if res.code != 0 {
		t.Fatalf("exit %d, stderr %q", res.code, res.stderr)
	}
	for _, p := range []string{"a", "a/b", "a/b/f"} {
		assertOwner(t, filepath.Join(f.dir, p), f)
	}
	f.noneLeft(t)
}

func checkExitCodes(t *testing.T, f *fixture) {
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
}

func checkStdoutStderr(t *testing.T, f *fixture) {
	res := f.run(t, runtime.RunOptions{Spec: f.spec(t, "sh", "-c", "echo out; echo err >&2")})
	if res.stdout != "out\n" || res.stderr != "err\n" {
		t.Errorf("stdout %q, stderr %q; want \"out\\n\", \"err\\n\"", res.stdout, res.stderr)
	}
}

func checkEnvAndWorkingDir(t *testing.T, f *fixture) {
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
}

func checkIdentityAndHome(t *testing.T, f *fixture) {
	res := f.run(t, runtime.RunOptions{Spec: f.spec(t, "sh", "-c", `id -un && touch "$HOME/.hpr-probe" && echo "$USER"`)})
	if res.code != 0 {
		t.Fatalf("exit %d: stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	want := f.planned.Plan.UserName + "\n" + f.planned.Plan.UserName + "\n"
	if res.stdout != want {
		t.Errorf("id -un, $USER = %q, want %q", res.stdout, want)
	}
}

// checkIdentityMounts checks what the plan's identity mounts make of the
// container: the bind-mounted passwd and group win over the image's (and
// over keep-id's own entry), read-only; a HOME the image lacks is a tmpfs
// of the user's, mode 0755.
func checkIdentityMounts(t *testing.T, f *fixture) {
	p, id := f.planned.Plan, f.planned.Identity
	group, _, _ := strings.Cut(p.GroupLine, ":")
	if group == "" {
		group = p.UserName
	}
	cmd := "id"
	want := fmt.Sprintf("uid=%d(%s) gid=%d(%s) groups=%d(%s)\n", p.UID, p.UserName, p.GID, group, p.GID, group)
	if id.PasswdFile != "" {
		cmd += `; stat -c '%n %a' /etc/passwd; test -w /etc/passwd || echo read-only; grep -c ":$(id -u):" /etc/passwd`
		want += "/etc/passwd 644\nread-only\n1\n"
	}
	if id.Home != "" {
		cmd += `; stat -c '%n %u:%g %a' "$HOME"; mount | grep -c " $HOME "`
		want += fmt.Sprintf("%s %d:%d 755\n1\n", p.Home, p.UID, p.GID)
	}
	res := f.run(t, runtime.RunOptions{Spec: f.spec(t, "sh", "-c", cmd)})
	if res.code != 0 || res.stdout != want {
		t.Errorf("identity %+v: exit %d, stdout %q, stderr %q; want 0 and %q", id, res.code, res.stdout, res.stderr, want)
	}
}

func checkStdin(t *testing.T, f *fixture) {
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
}

// checkTTY checks a TTY run has one output stream, through a terminal.
func checkTTY(t *testing.T, f *fixture) {
	s := f.spec(t, "sh", "-c", "test -t 0 && test -t 1 && echo tty; echo err >&2")
	s.TTY = true
	res := f.run(t, runtime.RunOptions{Spec: s})
	if res.code != 0 || !strings.Contains(res.stdout, "tty\r\n") || !strings.Contains(res.stdout, "err") || res.stderr != "" {
		t.Errorf("TTY run: exit %d, stdout %q, stderr %q; want 0, tty and err on stdout", res.code, res.stdout, res.stderr)
	}
}

func checkPublishedPort(t *testing.T, f *fixture) {
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
}

func checkSIGTERM(t *testing.T, f *fixture) {
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
}

func checkSecurityDefaults(t *testing.T, f *fixture) {
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
}

func checkMissingImage(t *testing.T, f *fixture) {
	ctx := context.Background()
	if _, err := f.e.Image(ctx, missingImage); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Image(%s) error = %v, want ErrNotFound", missingImage, err)
	}
	s := f.spec(t, "true")
	s.Image = missingImage
	if _, err := runtime.Run(ctx, f.e, runtime.RunOptions{Spec: s}); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Run with %s error = %v, want ErrNotFound", missingImage, err)
	}
	if _, err := f.e.Image(ctx, missingImage); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("after the run, %s exists (pulled?): %v", missingImage, err)
	}
}

func checkImagePinnedByID(t *testing.T, f *fixture) {
	ctx := context.Background()
	for ref, want := range map[string]bool{BaseImage: true, f.planned.Image.ID: true, missingImage: false} {
		if ok, err := f.e.ImageExists(ctx, ref); err != nil || ok != want {
			t.Errorf("ImageExists(%s) = %v, %v; want %v", ref, ok, err, want)
		}
	}
	// An image with one file and no shell under a name; the container is
	// created with that name and the base image's ID, and must run the
	// base image (cat exists only there).
	ref := unique("hpr-pin-test") + ":1"
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
}

func checkUnreachable(t *testing.T, f *fixture) {
	ctx := context.Background()
	dead := "unix://" + filepath.Join(t.TempDir(), "dead.sock")
	start := time.Now()
	e, err := f.env.Open(ctx, dead)
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
}

// serveScript is an HTTP server on port 8080 in perl-base, the one
// listener a minbase Debian has; it answers every request with "hpr-ok" and
// ends on SIGTERM.
const serveScript = `use IO::Socket::INET;
$SIG{TERM} = sub { exit 0 };
my $l = IO::Socket::INET->new(LocalPort => 8080, Listen => 5, ReuseAddr => 1) or die "listen: $!";
while (my $c = $l->accept) { print $c "HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nhpr-ok"; close $c }`

// assertOwner asserts path is the test user's as the host sees it.
func assertOwner(t *testing.T, path string, f *fixture) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	if uid, gid := os.Getuid(), os.Getgid(); int(st.Uid) != uid || int(st.Gid) != gid {
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

// checkMissingBindSource: a bind mount whose source does not exist fails
// the run and the engine creates nothing on the host, with or without
// relabelling (Docker's bind syntax, which relabelling needs, would create
// it as root; the Mounts API and Podman do not).
func checkMissingBindSource(t *testing.T, f *fixture) {
	for _, label := range []runtime.SELinuxLabel{runtime.SELinuxNone, runtime.SELinuxShared} {
		t.Run(string(label)+"label", func(t *testing.T) {
			missing := filepath.Join(f.dir, "missing-"+string(label), "deeper")
			s := f.spec(t, "ls", "-d", "/x")
			s.SELinux = label
			s.Mounts = append(s.Mounts, runtime.Mount{Source: missing, Target: "/x"})
			res, err := f.tryRun(runtime.RunOptions{Spec: s})
			if err == nil && res.code == 0 {
				t.Errorf("a run binding the missing %s succeeded: %q", missing, res.stdout)
			}
			if _, err := os.Lstat(filepath.Dir(missing)); err == nil {
				t.Errorf("the engine created %s on the host", filepath.Dir(missing))
			}
			f.noneLeft(t)
		})
	}
}
