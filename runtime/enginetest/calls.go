package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
)

// The checks in this file call the Engine's methods one by one, the steps
// runtime.Run is made of.

func checkInfo(t *testing.T, f *fixture) {
	in := f.info
	if in.Endpoint != f.env.Endpoint || in.Facts.Kind != f.env.kind() || !in.Local ||
		in.Facts.Version == "" || in.Facts.APIVersion == "" || in.OS != "linux" {
		t.Errorf("Info() = %+v; want endpoint %s, kind %s, local, a version and an API version, linux", in, f.env.Endpoint, f.env.kind())
	}
	if in.Mode == idmap.PodmanRootless && len(in.Facts.UIDMap) == 0 {
		t.Errorf("rootless Podman's Info has no uid map: %+v", in.Facts)
	}
	t.Logf("%s: %s %s API %s, %s/%s, %s", in.Mode, in.Facts.Kind, in.Facts.Version, in.Facts.APIVersion, in.OS, in.Arch, in.StorageDriver)
}

// checkStartErrors checks a command that cannot be found or run fails the
// Start (after an Attach, as Run does: on Podman that is where the OCI
// runtime first meets the command) with the sentinel for docker run's exit
// codes 127 and 126, and that Run exits with those codes.
func checkStartErrors(t *testing.T, f *fixture) {
	ctx := context.Background()
	for _, tc := range []struct {
		cmd  string
		want error
		code int
	}{
		{"no-such-command-hpr", runtime.ErrCommandNotFound, 127},
		{"/no/such/file", runtime.ErrCommandNotFound, 127},
		{"/etc/passwd", runtime.ErrCommandNotExecutable, 126},
		{"/etc", runtime.ErrCommandNotExecutable, 126},
	} {
		id := f.created(t, f.spec(t, tc.cmd))
		done, err := f.e.Attach(ctx, id, runtime.Streams{Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			t.Errorf("Attach(%s) = %v, want the failure left to Start", tc.cmd, err)
		}
		err = f.e.Start(ctx, id)
		if done != nil {
			<-done
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("Start(%s) = %v, want %v", tc.cmd, err, tc.want)
		}
		if res := f.run(t, runtime.RunOptions{Spec: f.spec(t, tc.cmd)}); res.code != tc.code {
			t.Errorf("Run(%s) exit %d, want %d (stderr %q)", tc.cmd, res.code, tc.code, res.stderr)
		}
	}
}

// checkWait checks Wait reports the exit status whether it is called before
// Start or after the container ended (and, on an engine that removes exited
// containers by itself, was removed). Each container exits only when the
// test writes to its stdin, after Start has returned: Wait was called
// before the exit, whether or not the engine has registered it by then —
// the contract holds either way.
func checkWait(t *testing.T, f *fixture) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 5 {
		s := f.spec(t, "sh", "-c", "read x; exit "+strconv.Itoa(i))
		s.OpenStdin = true
		id := f.created(t, s)
		pr, pw := io.Pipe()
		done, err := f.e.Attach(ctx, id, runtime.Streams{Stdin: pr, Stdout: io.Discard, Stderr: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		type res struct {
			code int
			err  error
		}
		before := make(chan res, 1)
		go func() { c, err := f.e.Wait(ctx, id); before <- res{c, err} }()
		if err := f.e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := pw.Write([]byte("go\n")); err != nil {
			t.Fatalf("writing to the container's stdin: %v", err)
		}
		r := <-before
		<-done
		pw.Close()
		after, err := f.e.Wait(ctx, id)
		if r.err != nil || err != nil || r.code != i || after != i {
			t.Errorf("exit %d: Wait before start = %d, %v; after = %d, %v", i, r.code, r.err, after, err)
		}
		if err := f.e.Remove(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Remove() = %v", err)
		}
	}
	f.noneLeft(t)
}

// checkExecSignalList: List finds a container by label in each state, Exec
// runs as the user asked with env, working dir and stdin, SIGKILL ends the
// container with 137, and a removed container is not found.
func checkExecSignalList(t *testing.T, f *fixture) {
	ctx := context.Background()
	p := f.planned.Plan
	s := f.spec(t, "sleep", "60")
	s.Labels = map[string]string{runtime.LabelProject: unique("hpr-exec"), runtime.LabelVersion: "test", "io.hpr.test": t.Name()}
	id := f.created(t, s)
	f.listed(t, s.Labels, id, "created")
	if cs, err := f.e.List(ctx, map[string]string{runtime.LabelProject: ""}); err != nil || !slices.ContainsFunc(cs, func(c runtime.Container) bool { return c.ID == id }) {
		t.Errorf("List(any %s) = %+v, %v; want %s among them", runtime.LabelProject, cs, err, id)
	}
	if err := f.e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	selfRemoving := f.listed(t, s.Labels, id, "running").SelfRemoving
	for range 3 {
		var out, errOut bytes.Buffer
		code, err := f.e.Exec(ctx, id, runtime.ExecSpec{
			Cmd: []string{"sh", "-c", `read x; echo "got $x"; id -u; echo "$X"; pwd; echo oops >&2; exit 7`},
			Env: []string{"X=x"}, WorkingDir: "/tmp", User: p.User,
			Streams: runtime.Streams{Stdin: strings.NewReader("hi\n"), Stdout: &out, Stderr: &errOut},
		})
		if want := fmt.Sprintf("got hi\n%d\nx\n/tmp\n", p.UID); err != nil || code != 7 || out.String() != want || errOut.String() != "oops\n" {
			t.Errorf("Exec() = %d, %v, stdout %q, stderr %q; want 7, %q, \"oops\\n\"", code, err, out.String(), errOut.String(), want)
		}
	}
	// Docker 20.10 reports 126 for any exec that fails to start.
	if code, err := f.e.Exec(ctx, id, runtime.ExecSpec{Cmd: []string{"no-such-command-hpr"}}); err != nil || (code != 127 && code != 126) {
		t.Errorf("Exec(no-such-command-hpr) = %d, %v; want 127 or 126", code, err)
	}
	if err := f.e.Signal(ctx, id, int(syscall.SIGKILL)); err != nil {
		t.Fatal(err)
	}
	if code, err := f.e.Wait(ctx, id); err != nil || code != 137 {
		t.Errorf("Wait() after SIGKILL = %d, %v; want 137", code, err)
	}
	f.removed(t, id, selfRemoving, 137)
	if cs, err := f.e.List(ctx, s.Labels); err != nil || len(cs) != 0 {
		t.Errorf("List after Remove = %+v, %v; want none", cs, err)
	}
}

// listed asserts List by labels finds just id, in state, and returns it.
func (f *fixture) listed(t *testing.T, labels map[string]string, id, state string) runtime.Container {
	t.Helper()
	cs, err := f.e.List(context.Background(), labels)
	if err != nil || len(cs) != 1 || cs[0].ID != id || cs[0].State != state {
		t.Fatalf("List(%v) = %+v, %v; want just %s, %s", labels, cs, err, id, state)
	}
	return cs[0]
}

// removed removes an exited container and checks that calls on it then
// find nothing. A container the engine removes by itself may be gone
// already, and its exit status (code) is still there for Wait.
func (f *fixture) removed(t *testing.T, id string, selfRemoving bool, code int) {
	t.Helper()
	ctx := context.Background()
	if err := f.e.Remove(ctx, id); err != nil && !(selfRemoving && errors.Is(err, runtime.ErrNotFound)) {
		t.Errorf("Remove() = %v", err)
	}
	if err := f.e.Remove(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second Remove() = %v, want ErrNotFound", err)
	}
	got, err := f.e.Wait(ctx, id)
	switch {
	case selfRemoving && (err != nil || got != code):
		t.Errorf("Wait() on a container removed by the engine = %d, %v; want %d", got, err, code)
	case !selfRemoving && !errors.Is(err, runtime.ErrNotFound):
		t.Errorf("Wait() on a removed container = %d, %v, want ErrNotFound", got, err)
	}
	if err := f.e.Signal(ctx, id, int(syscall.SIGTERM)); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("Signal() to a removed container = %v, want ErrNotFound", err)
	}
}

// checkTTYStdinResize: with a TTY, stdin reaches the container, a Resize
// once it runs is its terminal's size, and the attachment ends with it.
func checkTTYStdinResize(t *testing.T, f *fixture) {
	ctx := context.Background()
	s := f.spec(t, "sh", "-c", "read x; echo got $x; read y; stty size")
	s.TTY, s.OpenStdin = true, true
	id := f.created(t, s)
	pr, pw := io.Pipe()
	defer pw.Close()
	var out testenv.Buffer
	done, err := f.e.Attach(ctx, id, runtime.Streams{Stdin: pr, Stdout: &out, TTY: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	// conmon 2.1 drops a resize that comes before it has the terminal,
	// which can be just after Start: resize once the container has written.
	pw.Write([]byte("hello\n"))
	if err := waitFor(func() bool { return strings.Contains(out.String(), "got hello") }, 30*time.Second); err != nil {
		t.Fatalf("no echo: %q", out.String())
	}
	if err := f.e.Resize(ctx, id, 33, 111); err != nil {
		t.Error(err)
	}
	pw.Write([]byte("\n"))
	if code, err := f.e.Wait(ctx, id); err != nil || code != 0 {
		t.Fatalf("Wait = %d, %v; output %q", code, err, out.String())
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("attach did not end after the container exited")
	}
	if s := out.String(); !strings.Contains(s, "got hello") || !strings.Contains(s, "33 111") {
		t.Errorf("tty output %q, want got hello and 33 111", s)
	}
}

func checkNotFound(t *testing.T, f *fixture) {
	ctx := context.Background()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", what, err)
		}
	}
	const container = "hpr-no-such-container"
	_, err := f.e.Image(ctx, missingImage)
	check("Image", err)
	_, err = f.e.ReadImageFiles(ctx, missingImage, "/etc/passwd")
	check("ReadImageFiles of a missing image", err)
	check("RemoveImage", f.e.RemoveImage(ctx, missingImage))
	_, err = f.e.Create(ctx, runtime.ContainerSpec{Image: missingImage, Cmd: []string{"true"}})
	check("Create", err)
	_, err = f.e.Attach(ctx, container, runtime.Streams{Stdout: io.Discard, Stderr: io.Discard})
	check("Attach", err)
	check("Start", f.e.Start(ctx, container))
	_, err = f.e.Wait(ctx, container)
	check("Wait", err)
	check("Signal", f.e.Signal(ctx, container, int(syscall.SIGTERM)))
	check("Remove", f.e.Remove(ctx, container))
	check("RemoveVolume", f.e.RemoveVolume(ctx, unique("hpr-no-such-volume")))
}

// checkCreateErrors: a name in use is ErrConflict; a bind mount of a
// missing directory fails without making it; a plan made for the other
// kind of engine is ErrUnsupported.
func checkCreateErrors(t *testing.T, f *fixture) {
	ctx := context.Background()
	s := f.spec(t, "true")
	s.Name = unique("hpr-enginetest")
	f.created(t, s)
	if _, err := f.e.Create(ctx, s); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("Create(same name) = %v, want ErrConflict", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	s = f.spec(t, "true")
	s.Mounts = []runtime.Mount{{Source: missing, Target: "/app"}}
	if id, err := f.e.Create(ctx, s); err == nil {
		f.e.Remove(ctx, id)
		t.Error("Create(bind of a missing dir) succeeded, want an error")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bind source %s was created: %v", missing, err)
	}
	other := idmap.Plan{Mode: idmap.PodmanRootless, User: "1:1", UID: 1, GID: 1}
	if f.env.kind() == idmap.KindPodman {
		other.Mode = idmap.DockerRootful
	}
	s = f.spec(t, "true")
	s.Plan, s.Identity = other, runtime.Identity{}
	if id, err := f.e.Create(ctx, s); !errors.Is(err, runtime.ErrUnsupported) {
		if err == nil {
			f.e.Remove(ctx, id)
		}
		t.Errorf("Create(a plan for %s) = %v, want ErrUnsupported", other.Mode, err)
	}
}

// waitFor polls cond until it holds or d has passed.
func waitFor(cond func() bool, d time.Duration) error {
	for deadline := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", d)
		}
	}
	return nil
}
