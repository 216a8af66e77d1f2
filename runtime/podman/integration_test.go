//go:build integration

package podman

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/enginetest"
)

// The engines come from HPR_TEST_ENGINES ("mode=uri ..."), as written by
// scripts/engines.sh. Ownership is only checked where it means something:
// on rootless Podman only when this process is the engine's owner (run the
// test binary as the test user).

const testImage = "debian:bookworm-slim"

type testEngine struct {
	mode idmap.Mode
	uri  string
}

func podmanEngines(t *testing.T) []testEngine {
	t.Helper()
	var out []testEngine
	for _, f := range strings.Fields(os.Getenv("HPR_TEST_ENGINES")) {
		mode, uri, ok := strings.Cut(f, "=")
		if ok && strings.HasPrefix(mode, "podman-") {
			out = append(out, testEngine{idmap.Mode(mode), uri})
		}
	}
	if len(out) == 0 {
		if os.Getenv("HPR_REQUIRE_ENGINES") == "1" {
			t.Fatal("HPR_TEST_ENGINES names no podman engine and HPR_REQUIRE_ENGINES=1")
		}
		t.Skip("HPR_TEST_ENGINES names no podman engine; run scripts/engines.sh up")
	}
	return out
}

// forEach runs f against every engine this process may use.
func forEach(t *testing.T, f func(t *testing.T, te testEngine, e *Engine)) {
	for _, te := range podmanEngines(t) {
		t.Run(string(te.mode), func(t *testing.T) {
			ctx := t.Context()
			e, err := New(ctx, te.uri)
			if errors.Is(err, runtime.ErrPermission) {
				t.Skipf("cannot use %s as uid %d: %v", te.uri, os.Getuid(), err)
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			f(t, te, e)
		})
	}
}

func TestIntegrationInfo(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		info, err := e.Info(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode != te.mode || info.Facts.Kind != idmap.KindPodman || !info.Local || info.Facts.Version == "" {
			t.Errorf("Info = %+v, want mode %s, local, a version", info, te.mode)
		}
		if te.mode == idmap.PodmanRootless && len(info.Facts.UIDMap) == 0 {
			t.Errorf("rootless Info has no uid map: %+v", info.Facts)
		}
		t.Logf("%+v", info)
	})
}

// plan makes the plan hpr would make for testImage (runtime.PlanFor), or
// reports why this process cannot own files on the engine.
func plan(t *testing.T, e *Engine) (runtime.Planned, bool) {
	t.Helper()
	ctx := t.Context()
	info, err := e.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	// Private cache: the test must not see another run's files.
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	p, err := runtime.PlanFor(ctx, e, info, host, testImage, idmap.OverrideAuto)
	if err != nil {
		t.Logf("no plan for uid %d: %v", os.Getuid(), err)
		return runtime.Planned{}, false
	}
	return p, true
}

// projectDir is a bind-mountable directory any container user can write.
func projectDir(t *testing.T) string {
	dir := t.TempDir()
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

type run struct {
	stdout, stderr bytes.Buffer
	code           int
	create, start  time.Duration
	wait, total    time.Duration
}

// runSteps goes create → attach → start → wait → remove, timing the steps.
func runSteps(t *testing.T, e *Engine, spec runtime.ContainerSpec) (r run) {
	t.Helper()
	ctx := t.Context()
	t0 := time.Now()
	id, err := e.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	r.create = time.Since(t0)
	defer func() {
		// The service removes an exited container by itself (see Create).
		if err := e.Remove(context.WithoutCancel(ctx), id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Error(err)
		}
		r.total = time.Since(t0)
	}()
	done, err := e.Attach(ctx, id, runtime.Streams{Stdout: &r.stdout, Stderr: &r.stderr, TTY: spec.TTY})
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	t2 := time.Now()
	r.start = t2.Sub(t1)
	r.code, err = e.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	r.wait = time.Since(t2)
	if err := <-done; err != nil {
		t.Errorf("attach: %v", err)
	}
	return r
}

func TestIntegrationRun(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		pl, owns := plan(t, e)
		if !owns {
			t.Skipf("uid %d does not own %s: run the test binary as the engine's owner", os.Getuid(), te.uri)
		}
		p := pl.Plan
		dir := projectDir(t)
		spec := runtime.ContainerSpec{
			Image: testImage,
			Cmd: []string{"sh", "-c", `echo out; echo err >&2; echo data > /app/written
				id -un; echo "HOME=$HOME USER=$USER"; touch "$HOME/.probe" && echo home-writable; exit 3`},
			Mounts:   []runtime.Mount{{Source: dir, Target: "/app"}},
			Labels:   map[string]string{runtime.LabelProject: dir},
			Plan:     p,
			Identity: pl.Identity,
		}
		var stdout, stderr bytes.Buffer
		t0 := time.Now()
		code, err := runtime.Run(t.Context(), e, runtime.RunOptions{Spec: spec, Streams: runtime.Streams{Stdout: &stdout, Stderr: &stderr}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("plan %q userns %q identity %+v: run took %v", p.User, p.Userns, pl.Identity, time.Since(t0))
		if code != 3 {
			t.Errorf("exit code %d, want 3", code)
		}
		if diff := cmp.Diff("err\n", stderr.String()); diff != "" {
			t.Errorf("stderr (-want +got):\n%s", diff)
		}
		want := "out\n" + p.UserName + "\nHOME=" + p.Home + " USER=" + p.UserName + "\nhome-writable\n"
		if diff := cmp.Diff(want, stdout.String()); diff != "" {
			t.Errorf("stdout (-want +got):\n%s", diff)
		}
		fi, err := os.Stat(filepath.Join(dir, "written"))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != p.HostUID || int(st.Gid) != p.HostGID {
			t.Errorf("written as %d:%d, want %d:%d", st.Uid, st.Gid, p.HostUID, p.HostGID)
		}
	})
}

// TestIntegrationIdentity checks the identity mounts on Podman: the
// bind-mounted passwd and group win over keep-id's own entry, and the tmpfs
// HOME is the user's, mode 0755; and it times create with and without them.
func TestIntegrationIdentity(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		pl, owns := plan(t, e)
		if !owns {
			t.Skipf("uid %d does not own %s", os.Getuid(), te.uri)
		}
		p := pl.Plan
		if pl.Identity.PasswdFile == "" || pl.Identity.Home == "" {
			t.Skipf("the plan for uid %d adds no identity to %s: %+v", os.Getuid(), testImage, pl.Identity)
		}
		group := strings.SplitN(p.GroupLine+":", ":", 2)[0]
		if group == "" {
			group = p.UserName
		}
		// The passwd file is the host user's, read-only.
		cmd := []string{"sh", "-c", `id; stat -c '%n %a' /etc/passwd; test -w /etc/passwd || echo read-only; stat -c '%n %u:%g %a' "$HOME"; grep -c ":$(id -u):" /etc/passwd; mount | grep -c " $HOME "`}
		want := fmt.Sprintf("uid=%d(%s) gid=%d(%s) groups=%d(%s)\n/etc/passwd 644\nread-only\n%s %d:%d 755\n1\n1\n",
			p.UID, p.UserName, p.GID, group, p.GID, group, p.Home, p.UID, p.GID)
		var with, without []time.Duration
		for range 3 {
			for _, ident := range []bool{true, false} {
				s := runtime.ContainerSpec{Image: testImage, Plan: p, Cmd: cmd}
				if ident {
					s.Mounts = []runtime.Mount{{Source: pl.Identity.PasswdFile, Target: "/etc/passwd", ReadOnly: true}}
					if pl.Identity.GroupFile != "" {
						s.Mounts = append(s.Mounts, runtime.Mount{Source: pl.Identity.GroupFile, Target: "/etc/group", ReadOnly: true})
					}
					s.Tmpfs = []runtime.Tmpfs{{Target: pl.Identity.Home, UID: p.UID, GID: p.GID, Mode: 0o755}}
				}
				r := runSteps(t, e, s)
				if ident {
					with = append(with, r.create)
					if diff := cmp.Diff(want, r.stdout.String()); diff != "" || r.code != 0 {
						t.Errorf("exit %d, stderr %q; inside (-want +got):\n%s", r.code, r.stderr.String(), diff)
					}
				} else {
					without = append(without, r.create)
				}
			}
		}
		t.Logf("create with identity mounts %v, without %v", with, without)
	})
}

// TestIntegrationNoOp times a whole `true` run through runtime.Run, the way
// hpr run does it, and Wait's latency after a container exits.
func TestIntegrationNoOp(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		pl, _ := plan(t, e)
		spec := runtime.ContainerSpec{Image: testImage, Cmd: []string{"true"}, Plan: pl.Plan, Identity: pl.Identity}
		var totals, waits []time.Duration
		bare := spec
		bare.Identity = runtime.Identity{}
		for range 5 {
			r := runSteps(t, e, bare)
			if r.code != 0 {
				t.Fatalf("exit %d", r.code)
			}
			totals, waits = append(totals, r.total), append(waits, r.wait)
		}
		var runs []time.Duration
		for range 5 {
			t0 := time.Now()
			code, err := runtime.Run(t.Context(), e, runtime.RunOptions{Spec: spec})
			if err != nil || code != 0 {
				t.Fatalf("Run = %d, %v", code, err)
			}
			runs = append(runs, time.Since(t0))
		}
		t.Logf("no-op steps total %v; start→wait returned %v; runtime.Run with identity %v", totals, waits, runs)
	})
}

// TestIntegrationSelfRemoval: the exit status is there as soon as the
// output ends, the service then removes the container by itself, and the
// status can still be read (from the service's events) after that.
func TestIntegrationSelfRemoval(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		ctx := t.Context()
		label := map[string]string{runtime.LabelProject: t.Name()}
		id, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, Cmd: []string{"sh", "-c", "echo bye; exit 3"}, Labels: label})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Remove(context.WithoutCancel(ctx), id)
		var out testenv.Buffer
		done, err := e.Attach(ctx, id, runtime.Streams{Stdout: &out, Stderr: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		<-done
		t0 := time.Now()
		var st runtime.ExitState
		for i := 0; i < 10 && !st.Exited; i++ {
			if st, err = e.Exited(ctx, id); err != nil {
				t.Fatal(err)
			}
			if !st.Exited {
				time.Sleep(5 * time.Millisecond)
			}
		}
		t.Logf("exit status read %v after the output ended", time.Since(t0))
		if want := (runtime.ExitState{Exited: true, Code: 3, SelfRemoving: true}); st != want || out.String() != "bye\n" {
			t.Fatalf("Exited after the output ended = %+v (output %q), want %+v", st, out.String(), want)
		}
		t0 = time.Now()
		left, err := runtime.Settle(ctx, e, label, 10*time.Second)
		if err != nil || len(left) != 0 {
			t.Fatalf("the service did not remove the exited container: %+v, %v", left, err)
		}
		t.Logf("removed by the service %v after the status was read", time.Since(t0))
		if st, err := e.Exited(ctx, id); err != nil || st.Code != 3 || !st.Exited {
			t.Errorf("Exited of the removed container = %+v, %v; want code 3 from the events", st, err)
		}
		if code, err := e.Wait(ctx, id); err != nil || code != 3 {
			t.Errorf("Wait of the removed container = %d, %v; want 3 from the events", code, err)
		}
	})
}

func TestIntegrationStartErrors(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		for _, tc := range []struct {
			cmd  []string
			want error
		}{
			{[]string{"no-such-command"}, runtime.ErrCommandNotFound},
			{[]string{"/no/such/file"}, runtime.ErrCommandNotFound},
			{[]string{"/etc/passwd"}, runtime.ErrCommandNotExecutable},
		} {
			id, err := e.Create(t.Context(), runtime.ContainerSpec{Image: testImage, Cmd: tc.cmd})
			if err != nil {
				t.Fatal(err)
			}
			// Attach first, as Run does: on Podman that is where the OCI
			// runtime first meets the command.
			done, err := e.Attach(t.Context(), id, runtime.Streams{Stdout: io.Discard, Stderr: io.Discard})
			if err != nil {
				t.Errorf("Attach(%q) = %v, want the failure left to Start", tc.cmd, err)
			}
			err = e.Start(t.Context(), id)
			if done != nil {
				<-done
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Start(%q) = %v, want %v", tc.cmd, err, tc.want)
			}
			if err := e.Remove(t.Context(), id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				t.Error(err)
			}
		}
	})
}

func TestIntegrationNotFound(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		ctx := t.Context()
		check := func(what string, err error) {
			t.Helper()
			if !errors.Is(err, runtime.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", what, err)
			}
		}
		_, err := e.Image(ctx, "hpr-no-such-image:1")
		check("Image", err)
		_, err = readFile(ctx, e, "hpr-no-such-image:1", "/etc/passwd")
		check("ReadImageFile of a missing image", err)
		_, err = readFile(ctx, e, testImage, "/etc/no-such-file")
		check("ReadImageFile of a missing file", err)
		check("RemoveImage", e.RemoveImage(ctx, "hpr-no-such-image:1"))
		check("Start", e.Start(ctx, "hpr-no-such-container"))
		_, err = e.Wait(ctx, "hpr-no-such-container")
		check("Wait", err)
		check("Remove", e.Remove(ctx, "hpr-no-such-container"))
		check("RemoveVolume", e.RemoveVolume(ctx, "hpr-no-such-volume"))
		_, err = e.Create(ctx, runtime.ContainerSpec{Image: "hpr-no-such-image:1", Cmd: []string{"true"}})
		check("Create", err)
	})
}

func TestIntegrationExecSignalList(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		ctx := t.Context()
		pl, _ := plan(t, e)
		p := pl.Plan
		label := map[string]string{runtime.LabelProject: t.Name()}
		id, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, Cmd: []string{"sleep", "60"}, Labels: label, Plan: p})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Remove(context.WithoutCancel(ctx), id)
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		list, err := e.List(ctx, label)
		if err != nil || len(list) != 1 || list[0].ID != id || list[0].State != "running" {
			t.Errorf("List = %+v, %v; want the one running container", list, err)
		}
		for range 3 {
			var out, errOut bytes.Buffer
			t0 := time.Now()
			code, err := e.Exec(ctx, id, runtime.ExecSpec{
				Cmd:     []string{"sh", "-c", "read x; echo got $x; id -u; echo oops >&2; exit 7"},
				User:    p.User,
				Streams: runtime.Streams{Stdin: strings.NewReader("hi\n"), Stdout: &out, Stderr: &errOut},
			})
			if err != nil || code != 7 {
				t.Fatalf("Exec = %d, %v; want 7", code, err)
			}
			wantOut := "got hi\n" + strings.SplitN(p.User+":", ":", 2)[0] + "\n"
			if p.User == "" {
				wantOut = "got hi\n0\n"
			}
			if out.String() != wantOut || errOut.String() != "oops\n" {
				t.Errorf("Exec stdout %q stderr %q, want %q and %q", out.String(), errOut.String(), wantOut, "oops\n")
			}
			t.Logf("exec took %v", time.Since(t0))
		}
		if err := e.Signal(ctx, id, int(syscall.SIGKILL)); err != nil {
			t.Fatal(err)
		}
		code, err := e.Wait(ctx, id)
		if err != nil || code != 137 {
			t.Errorf("Wait after SIGKILL = %d, %v; want 137", code, err)
		}
		if err := e.Remove(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			t.Fatal(err)
		}
		if list, err := e.List(ctx, label); err != nil || len(list) != 0 {
			t.Errorf("List after Remove = %+v, %v", list, err)
		}
	})
}

func TestIntegrationTTYAndStdin(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		ctx := t.Context()
		id, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, TTY: true, OpenStdin: true,
			Cmd: []string{"sh", "-c", "read x; echo got $x; read y; stty size"}})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Remove(context.WithoutCancel(ctx), id)
		pr, pw := io.Pipe()
		var out testenv.Buffer
		done, err := e.Attach(ctx, id, runtime.Streams{Stdin: pr, Stdout: &out, TTY: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		// conmon 2.1 drops a resize that comes before it has the
		// terminal, which can be just after Start: resize once the
		// container has written.
		pw.Write([]byte("hello\n"))
		for deadline := time.Now().Add(5 * time.Second); !strings.Contains(out.String(), "got hello"); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no echo: %q", out.String())
			}
		}
		if err := e.Resize(ctx, id, 33, 111); err != nil {
			t.Error(err)
		}
		pw.Write([]byte("\n"))
		code, err := e.Wait(ctx, id)
		if err != nil || code != 0 {
			t.Fatalf("Wait = %d, %v", code, err)
		}
		pw.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("attach did not end after the container exited")
		}
		if s := out.String(); !strings.Contains(s, "got hello") || !strings.Contains(s, "33 111") {
			t.Errorf("tty output %q, want got hello and 33 111", s)
		}
	})
}

func TestIntegrationImportBuild(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		ctx := t.Context()
		ref := "localhost/hpr-test-import:" + strings.ToLower(string(te.mode))
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
		body := "root:x:0:0:root:/root:/bin/sh\n"
		tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
		tw.Write([]byte(body))
		tw.Close()
		if err := e.Import(ctx, runtime.ImportOptions{Ref: ref, Tar: &tb,
			Changes: []string{"ENV PATH=/usr/bin:/bin", `CMD ["/bin/true"]`, "USER 1000"}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := e.RemoveImage(context.Background(), ref); err != nil {
				t.Error(err)
			}
		})
		img, err := e.Image(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		if img.User != "1000" || !cmp.Equal(img.Cmd, []string{"/bin/true"}) || !cmp.Equal(img.Env, []string{"PATH=/usr/bin:/bin"}) {
			t.Errorf("imported image %+v", img)
		}
		if b, err := readFile(ctx, e, ref, "/etc/passwd"); err != nil || string(b) != body {
			t.Errorf("ReadImageFile = %q, %v", b, err)
		}

		dir := t.TempDir()
		write := func(name, s string) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		write("Dockerfile", "FROM hpr-no-such-base:1\n")
		err = e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Tag: "localhost/hpr-test-build:x"})
		if !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "hpr-no-such-base:1") {
			t.Errorf("Build of a missing base = %v, want ErrNotFound naming it", err)
		}
		write("Dockerfile", "ARG BASE=nothing\nFROM ${BASE}\nARG UID\nCOPY . /ctx/\nRUN echo built as $UID\nLABEL a=b\n")
		write(".dockerignore", "secret*\n")
		write("secret.txt", "no")
		write("kept.txt", "yes")
		tag := "localhost/hpr-test-build:" + strings.ToLower(string(te.mode))
		var out bytes.Buffer
		t0 := time.Now()
		err = e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Tag: tag, Output: &out,
			Args: map[string]string{"BASE": testImage, "UID": "4242"}, Labels: map[string]string{"io.hpr.test": "1"}})
		if err != nil {
			t.Fatalf("Build: %v\n%s", err, out.String())
		}
		t.Logf("build took %v", time.Since(t0))
		if !strings.Contains(out.String(), "built as 4242") {
			t.Errorf("build output lacks the RUN's: %s", out.String())
		}
		if b, err := readFile(ctx, e, tag, "/ctx/kept.txt"); err != nil || string(b) != "yes" {
			t.Errorf("kept.txt = %q, %v", b, err)
		}
		if _, err := readFile(ctx, e, tag, "/ctx/secret.txt"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf(".dockerignore'd secret.txt: %v, want ErrNotFound", err)
		}
		if img, err := e.Image(ctx, tag); err != nil || img.Labels["io.hpr.test"] != "1" || img.Labels["a"] != "b" {
			t.Errorf("built image labels %v, %v", img.Labels, err)
		}
		if err := e.RemoveImage(ctx, tag); err != nil {
			t.Error(err)
		}
	})
}

func TestIntegrationVolume(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		ctx := t.Context()
		pl, owns := plan(t, e)
		if !owns {
			t.Skipf("uid %d does not own %s", os.Getuid(), te.uri)
		}
		// /usr/local is root's in the image: the copy-up case.
		for _, target := range []string{"/usr/local", "/data"} {
			name := fmt.Sprintf("hpr-test-vol-%d", time.Now().UnixNano())
			var created []bool
			for range 2 {
				c, err := e.EnsureVolume(ctx, runtime.VolumeSpec{Name: name, Labels: map[string]string{runtime.LabelProject: "x"}})
				if err != nil {
					t.Fatal(err)
				}
				created = append(created, c)
			}
			if !cmp.Equal(created, []bool{true, false}) {
				t.Errorf("EnsureVolume twice reported created %v, want [true false]", created)
			}
			for _, init := range []bool{true, false} {
				r := runSteps(t, e, runtime.ContainerSpec{Image: testImage, Plan: pl.Plan,
					Volumes: []runtime.VolumeMount{{Name: name, Target: target}},
					Cmd:     []string{"sh", "-c", "touch " + target + "/x-$$ && ls " + target}})
				if r.code != 0 || !strings.Contains(r.stdout.String(), "x-") {
					t.Errorf("writing the volume at %s as %q (init %v): exit %d, %q %q", target, pl.Plan.User, init, r.code, r.stdout.String(), r.stderr.String())
				}
				if target == "/usr/local" && !strings.Contains(r.stdout.String(), "bin\n") {
					t.Errorf("no copy-up at %s: %q", target, r.stdout.String())
				}
			}
			if err := e.RemoveVolume(ctx, name); err != nil {
				t.Error(err)
			}
		}
	})
}

// TestIntegrationContract holds the backend to the shared contract.
func TestIntegrationContract(t *testing.T) {
	for _, te := range podmanEngines(t) {
		t.Run(string(te.mode), func(t *testing.T) {
			if _, owns := func() (runtime.Planned, bool) {
				e, err := New(t.Context(), te.uri)
				if err != nil {
					t.Skipf("cannot use %s as uid %d: %v", te.uri, os.Getuid(), err)
				}
				defer e.Close()
				return plan(t, e)
			}(); !owns {
				t.Skipf("uid %d cannot plan for %s: run the test binary as the engine's owner", os.Getuid(), te.uri)
			}
			enginetest.Run(t, enginetest.Env{Mode: te.mode, Endpoint: te.uri,
				Open: func(ctx context.Context, endpoint string) (runtime.Engine, error) { return New(ctx, endpoint) }})
		})
	}
}

// readFile reads one file of an image through ReadImageFiles; ErrNotFound
// when the image lacks it.
func readFile(ctx context.Context, e runtime.Engine, ref, path string) ([]byte, error) {
	files, err := e.ReadImageFiles(ctx, ref, path)
	if err != nil {
		return nil, err
	}
	b, ok := files[path]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, runtime.ErrNotFound)
	}
	return b, nil
}
