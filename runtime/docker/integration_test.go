//go:build integration

package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/client"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/enginetest"
)

// The engines come from HPR_TEST_ENGINES (internal/testenv); these tests run
// as the non-root test user, as scripts/test.sh runs them. What every backend
// must do is checked by the shared contract (TestContract); the other tests
// check what is particular to this one.

// testImage is the base image the harness imports into every engine.
const testImage = enginetest.BaseImage

func TestMain(m *testing.M) {
	// PlanFor's caches (image files, identity files) go to a directory of
	// the run's own, so every run reads the images afresh.
	dir, err := os.MkdirTemp("", "hpr-docker-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// dockerEngines returns the Docker engines of the harness.
func dockerEngines(t testing.TB) []testenv.Engine {
	t.Helper()
	var out []testenv.Engine
	for _, e := range testenv.Engines(t) {
		if strings.HasPrefix(string(e.Mode), string(idmap.KindDocker)+"-") {
			out = append(out, e)
		}
	}
	if len(out) == 0 {
		t.Skip("HPR_TEST_ENGINES names no docker engine")
	}
	return out
}

// eachEngine runs f as a parallel subtest per Docker engine, named by mode.
func eachEngine(t *testing.T, f func(t *testing.T, e *Engine, mode idmap.Mode)) {
	t.Helper()
	testenv.NonRoot(t)
	for _, te := range dockerEngines(t) {
		t.Run(string(te.Mode), func(t *testing.T) {
			t.Parallel()
			e, err := New(te.Endpoint)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			f(t, e, te.Mode)
		})
	}
}

// TestContract holds the backend to the contract every engine meets.
func TestContract(t *testing.T) {
	testenv.NonRoot(t)
	for _, te := range dockerEngines(t) {
		t.Run(string(te.Mode), func(t *testing.T) {
			t.Parallel()
			enginetest.Run(t, enginetest.Env{Mode: te.Mode, Endpoint: te.Endpoint,
				Open: func(_ context.Context, ep string) (runtime.Engine, error) { return New(ep) }})
		})
	}
}

// planFor plans a run of img as the current user on e, as hpr does.
func planFor(t testing.TB, e *Engine, img string) runtime.Planned {
	t.Helper()
	ctx := context.Background()
	info, err := e.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	pl, err := runtime.PlanFor(ctx, e, info, host, img, idmap.OverrideAuto)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

// spec is a container spec running cmd in pl's image with pl's user.
func spec(t testing.TB, pl runtime.Planned, cmd ...string) runtime.ContainerSpec {
	return runtime.ContainerSpec{
		Image:    pl.Image.Ref,
		Cmd:      cmd,
		Labels:   map[string]string{"io.hpr.test": t.Name()},
		Plan:     pl.Plan,
		Identity: pl.Identity,
	}
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs a container with runtime.Run.
func run(t testing.TB, e *Engine, s runtime.ContainerSpec) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code, err := runtime.Run(ctx, e, runtime.RunOptions{Spec: s, Streams: runtime.Streams{Stdout: &stdout, Stderr: &stderr}})
	if err != nil {
		t.Fatalf("Run: %v (stderr %q)", err, stderr.String())
	}
	return result{code, stdout.String(), stderr.String()}
}

func TestIntegrationInfo(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		info, err := e.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode != mode || !info.Local || info.Facts.APIVersion == "" || info.OS != "linux" {
			t.Errorf("Info() = %+v, want mode %s, local, an API version, linux", info, mode)
		}
		t.Logf("%s: docker %s API %s, %s/%s, %s", mode, info.Facts.Version, info.Facts.APIVersion, info.OS, info.Arch, info.StorageDriver)
	})
}

// TestIntegrationStartErrors checks the start failures the contract does not:
// a command path that is not there, and files that cannot be executed, which
// the daemon reports only as text.
func TestIntegrationStartErrors(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		pl := planFor(t, e, testImage)
		for _, tt := range []struct {
			cmd  string
			want error
			code int
		}{
			{"/nonexistent/cmd", runtime.ErrCommandNotFound, 127},
			{"/etc/passwd", runtime.ErrCommandNotExecutable, 126},
			{"/etc", runtime.ErrCommandNotExecutable, 126},
		} {
			ctx := context.Background()
			id, err := e.Create(ctx, spec(t, pl, tt.cmd))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(ctx, id); !errors.Is(err, tt.want) {
				t.Errorf("Start(%s) = %v, want %v", tt.cmd, err, tt.want)
			}
			e.Remove(ctx, id)
			if res := run(t, e, spec(t, pl, tt.cmd)); res.code != tt.code {
				t.Errorf("Run(%s) exit %d, want %d (stderr %q)", tt.cmd, res.code, tt.code, res.stderr)
			}
		}
	})
}

// TestIntegrationTTY checks a TTY run has one output stream, through a
// terminal.
func TestIntegrationTTY(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		s := spec(t, planFor(t, e, testImage), "sh", "-c", "test -t 0 && test -t 1 && echo tty; echo err >&2")
		s.TTY = true
		res := run(t, e, s)
		if res.code != 0 || !strings.Contains(res.stdout, "tty\r\n") || !strings.Contains(res.stdout, "err") || res.stderr != "" {
			t.Errorf("TTY run: exit %d, stdout %q, stderr %q; want 0, tty and err on stdout", res.code, res.stdout, res.stderr)
		}
	})
}

// TestIntegrationWait checks Wait does not miss a fast exit whether it is
// called before Start or after the container ended.
func TestIntegrationWait(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for i := range 5 {
			id, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, Cmd: []string{"sh", "-c", "exit " + strconv.Itoa(i)}})
			if err != nil {
				t.Fatal(err)
			}
			type res struct {
				code int
				err  error
			}
			before := make(chan res, 1)
			go func() { c, err := e.Wait(ctx, id); before <- res{c, err} }()
			if i%2 == 0 {
				time.Sleep(20 * time.Millisecond) // let Wait register first
			}
			if err := e.Start(ctx, id); err != nil {
				t.Fatal(err)
			}
			r := <-before
			after, err := e.Wait(ctx, id)
			if r.err != nil || err != nil || r.code != i || after != i {
				t.Errorf("exit %d: Wait before start = %d, %v; after = %d, %v", i, r.code, r.err, after, err)
			}
			e.Remove(ctx, id)
		}
	})
}

func TestIntegrationExecSignalList(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		pl := planFor(t, e, testImage)
		p := pl.Plan
		label := map[string]string{runtime.LabelProject: t.Name(), runtime.LabelVersion: "test"}
		s := spec(t, pl, "sleep", "60")
		s.Labels = label
		id, err := e.Create(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Remove(ctx, id)
		cs, err := e.List(ctx, label)
		if err != nil || len(cs) != 1 || cs[0].ID != id || cs[0].State != "created" {
			t.Errorf("List() = %+v, %v; want just %s, created", cs, err, id)
		}
		if cs, err := e.List(ctx, map[string]string{runtime.LabelProject: ""}); err != nil || !slices.ContainsFunc(cs, func(c runtime.Container) bool { return c.ID == id }) {
			t.Errorf("List(any %s) = %+v, %v; want %s among them", runtime.LabelProject, cs, err, id)
		}
		if err := e.Start(ctx, id); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		code, err := e.Exec(ctx, id, runtime.ExecSpec{
			Cmd: []string{"sh", "-c", `id -u; echo "$X"; pwd; exit 4`}, Env: []string{"X=x"}, WorkingDir: "/tmp", User: p.User,
			Streams: runtime.Streams{Stdout: &out, Stderr: &out},
		})
		if want := fmt.Sprintf("%d\nx\n/tmp\n", p.UID); err != nil || code != 4 || out.String() != want {
			t.Errorf("Exec() = %d, %v, output %q; want 4, %q", code, err, out.String(), want)
		}
		// Docker 20.10 reports 126 for any exec that fails to start.
		if code, err := e.Exec(ctx, id, runtime.ExecSpec{Cmd: []string{"nosuchcommand"}}); err != nil || (code != 127 && code != 126) {
			t.Errorf("Exec(nosuchcommand) = %d, %v; want 127 or 126", code, err)
		}
		if err := e.Signal(ctx, id, int(syscall.SIGKILL)); err != nil {
			t.Fatal(err)
		}
		if code, err := e.Wait(ctx, id); err != nil || code != 137 {
			t.Errorf("Wait() after SIGKILL = %d, %v; want 137", code, err)
		}
		if err := e.Remove(ctx, id); err != nil {
			t.Fatal(err)
		}
		if err := e.Remove(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("second Remove() = %v, want ErrNotFound", err)
		}
		if _, err := e.Wait(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Wait() on a removed container = %v, want ErrNotFound", err)
		}
		if err := e.Signal(ctx, id, int(syscall.SIGTERM)); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Signal() to a removed container = %v, want ErrNotFound", err)
		}
	})
}

// TestIntegrationVolumeInit checks a fresh volume, mounted with Init, is
// writable by the plan's user (not root but on rootless Docker), one below
// HOME too; that the image's content
// is still copied up into it; and that it stays writable on the next run,
// without Init.
func TestIntegrationVolumeInit(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		pl := planFor(t, e, testImage)
		base := fmt.Sprintf("hpr-docker-test-%d", time.Now().UnixNano())
		vols := []runtime.VolumeMount{
			{Name: base + "-data", Target: "/data"},
			{Name: base + "-apt", Target: "/var/cache/apt"},
		}
		if pl.Plan.Home != "" {
			vols = append(vols, runtime.VolumeMount{Name: base + "-home", Target: pl.Plan.Home + "/.cache"})
		}
		for _, v := range vols {
			vs := runtime.VolumeSpec{Name: v.Name, Labels: map[string]string{runtime.LabelProject: "test"}}
			created, err := e.EnsureVolume(ctx, vs)
			if err != nil || !created {
				t.Fatalf("EnsureVolume(%s) = %v, %v; want created", v.Name, created, err)
			}
			t.Cleanup(func() { e.c.(*client.Client).VolumeRemove(context.Background(), v.Name, true) })
			if again, err := e.EnsureVolume(ctx, vs); err != nil || again {
				t.Errorf("second EnsureVolume(%s) = %v, %v; want not created", v.Name, again, err)
			}
		}
		script := `set -e; for v in "$@"; do touch "$v/f-$0"; mkdir -p "$v/d-$0"; done; ls /var/cache/apt`
		targets := func(n int) []string {
			args := []string{"sh", "-c", script, strconv.Itoa(n)}
			for _, v := range vols {
				args = append(args, v.Target)
			}
			return args
		}
		s := spec(t, pl, targets(1)...)
		s.Volumes = vols
		res := run(t, e, s)
		if res.code != 0 || !strings.Contains(res.stdout, "archives") {
			t.Errorf("writing to fresh volumes as %s: exit %d, stdout %q, stderr %q; want 0 and the image's /var/cache/apt copied up", pl.Plan.User, res.code, res.stdout, res.stderr)
		}
		s = spec(t, pl, targets(2)...)
		s.Volumes = vols
		if res := run(t, e, s); res.code != 0 {
			t.Errorf("writing to the volumes again without Init: exit %d, stderr %q", res.code, res.stderr)
		}
	})
}

func TestIntegrationImages(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		img, err := e.Image(ctx, testImage)
		if err != nil || img.ID == "" || len(img.Cmd) == 0 {
			t.Errorf("Image(%s) = %+v, %v", testImage, img, err)
		}
		if _, err := e.Image(ctx, "hpr-missing/nothing:here"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Image(missing) = %v, want ErrNotFound", err)
		}
		passwd, err := readFile(ctx, e, testImage, "/etc/passwd")
		if err != nil || !bytes.HasPrefix(passwd, []byte("root:x:0:0:")) {
			t.Errorf("ReadImageFile(/etc/passwd) = %.40q, %v", passwd, err)
		}
		if _, err := readFile(ctx, e, testImage, "/nonexistent"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("ReadImageFile(/nonexistent) = %v, want ErrNotFound", err)
		}
		if _, err := readFile(ctx, e, testImage, "/etc"); err == nil {
			t.Error("ReadImageFile(/etc) succeeded, want an error")
		}
		if _, err := readFile(ctx, e, "hpr-missing/nothing:here", "/etc/passwd"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("ReadImageFile(missing image) = %v, want ErrNotFound", err)
		}

		ref := fmt.Sprintf("hpr-docker-test/import:%d", time.Now().UnixNano())
		var tb bytes.Buffer
		tw := tar.NewWriter(&tb)
		tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
		tw.WriteHeader(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
		tw.Write([]byte("x:x:\n"))
		tw.Close()
		if err := e.Import(ctx, runtime.ImportOptions{Ref: ref, Tar: &tb, Changes: []string{"ENV PATH=/bin", `CMD ["/hpr"]`, "USER 1000"}}); err != nil {
			t.Fatal(err)
		}
		img, err = e.Image(ctx, ref)
		if err != nil || img.User != "1000" || len(img.Cmd) != 1 || img.Cmd[0] != "/hpr" {
			t.Errorf("Image(imported) = %+v, %v", img, err)
		}
		if b, err := readFile(ctx, e, ref, "/etc/passwd"); err != nil || string(b) != "x:x:\n" {
			t.Errorf("ReadImageFile(imported) = %q, %v", b, err)
		}
		if err := e.RemoveImage(ctx, ref); err != nil {
			t.Error(err)
		}
		if err := e.RemoveImage(ctx, ref); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("second RemoveImage() = %v, want ErrNotFound", err)
		}
	})
}

func TestIntegrationBuild(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		dir := t.TempDir()
		for name, content := range map[string]string{
			"Dockerfile":    "ARG BASE=" + testImage + "\nFROM $BASE\nARG UID\nCOPY . /ctx/\nRUN test ! -e /ctx/ignored.txt && test -e /ctx/kept.txt && echo uid=$UID\n",
			".dockerignore": "ignored.txt\n",
			"ignored.txt":   "",
			"kept.txt":      "",
		} {
			os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644)
		}
		tag := fmt.Sprintf("hpr-docker-test/build:%d", time.Now().UnixNano())
		var out bytes.Buffer
		err := e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Tag: tag, Args: map[string]string{"UID": "2000"}, Labels: map[string]string{runtime.LabelVersion: "test"}, Output: &out})
		if err != nil {
			t.Fatalf("Build() = %v; output:\n%s", err, out.String())
		}
		defer e.RemoveImage(ctx, tag)
		if !strings.Contains(out.String(), "uid=2000") {
			t.Errorf("build output lacks uid=2000:\n%s", out.String())
		}
		img, err := e.Image(ctx, tag)
		if err != nil || img.Labels[runtime.LabelVersion] != "test" {
			t.Errorf("Image(built) = %+v, %v; want label %s", img, err, runtime.LabelVersion)
		}

		os.WriteFile(filepath.Join(dir, "Dockerfile.fail"), []byte("FROM "+testImage+"\nRUN echo failing; exit 7\n"), 0o644)
		out.Reset()
		err = e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Dockerfile: "Dockerfile.fail", Tag: tag + "-fail", Output: &out})
		if err == nil || !strings.Contains(out.String(), "failing") {
			t.Errorf("Build(failing) = %v; output:\n%s", err, out.String())
		}

		os.WriteFile(filepath.Join(dir, "Dockerfile.missing"), []byte("FROM "+testImage+" AS a\nFROM hpr-missing/base:nope\n"), 0o644)
		err = e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Dockerfile: "Dockerfile.missing", Tag: tag + "-missing"})
		if !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "hpr-missing/base:nope") || !strings.Contains(err.Error(), "never pulls") {
			t.Errorf("Build(missing base) = %v, want ErrNotFound naming the image", err)
		}
		if _, err := e.Image(ctx, "hpr-missing/base:nope"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("after the build, hpr-missing/base:nope exists (pulled?): %v", err)
		}
	})
}

// TestIntegrationPermission checks a socket the user may not use gives
// ErrPermission saying what to do: the harness's engines where the test user
// is outside the socket's group, and sockets of its own it cannot use.
func TestIntegrationPermission(t *testing.T) {
	testenv.NonRoot(t)
	check := func(t *testing.T, ep string, hints ...string) {
		t.Helper()
		e, err := New(ep)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		start := time.Now()
		_, err = e.Info(context.Background())
		if !errors.Is(err, runtime.ErrPermission) || !slices.ContainsFunc(hints, func(h string) bool { return strings.Contains(err.Error(), h) }) {
			t.Errorf("Info() = %v, want ErrPermission saying one of %q", err, hints)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("reported after %v, want under 2 s", d)
		}
		t.Log(err)
	}
	listen := func(t *testing.T, dir string) string {
		t.Helper()
		sock := filepath.Join(dir, "docker.sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		return sock
	}
	t.Run("socket mode", func(t *testing.T) {
		sock := listen(t, t.TempDir())
		if err := os.Chmod(sock, 0); err != nil {
			t.Fatal(err)
		}
		check(t, "unix://"+sock, "add yourself to group")
	})
	t.Run("private directory", func(t *testing.T) {
		dir := t.TempDir()
		sock := listen(t, dir)
		if err := os.Chmod(dir, 0); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		check(t, "unix://"+sock, "private directory")
	})
	for _, te := range dockerEngines(t) {
		socket := strings.TrimPrefix(te.Endpoint, "unix://")
		if syscall.Access(socket, 2 /* W_OK */) == nil {
			continue
		}
		t.Run(string(te.Mode), func(t *testing.T) { check(t, te.Endpoint, "add yourself to group", "run hpr as") })
	}
}

func TestIntegrationCreateErrors(t *testing.T) {
	eachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		name := fmt.Sprintf("hpr-docker-test-%d", time.Now().UnixNano())
		id, err := e.Create(ctx, runtime.ContainerSpec{Name: name, Image: testImage, Cmd: []string{"true"}})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Remove(ctx, id)
		if _, err := e.Create(ctx, runtime.ContainerSpec{Name: name, Image: testImage}); !errors.Is(err, runtime.ErrConflict) {
			t.Errorf("Create(same name) = %v, want ErrConflict", err)
		}
		missing := filepath.Join(t.TempDir(), "missing")
		if _, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, Mounts: []runtime.Mount{{Source: missing, Target: "/app"}}}); err == nil {
			t.Error("Create(bind of a missing dir) succeeded, want an error")
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("bind source %s was created: %v", missing, err)
		}
		if _, err := e.Create(ctx, runtime.ContainerSpec{Image: "hpr-missing/nothing:here"}); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Create(missing image) = %v, want ErrNotFound", err)
		}
		s := runtime.ContainerSpec{Image: testImage, Plan: idmap.Plan{Mode: idmap.PodmanRootless, User: "1:1", UID: 1, GID: 1}}
		if _, err := e.Create(ctx, s); !errors.Is(err, runtime.ErrUnsupported) {
			t.Errorf("Create(a Podman plan) = %v, want ErrUnsupported", err)
		}
	})
}

// BenchmarkRun measures a no-op runtime.Run with the current user's plan
// (identity mounts and HOME included) and reports the median too.
func BenchmarkRun(b *testing.B) {
	for _, te := range dockerEngines(b) {
		b.Run(string(te.Mode), func(b *testing.B) {
			e, err := New(te.Endpoint)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			pl := planFor(b, e, testImage)
			s := spec(b, pl, "true")
			var ds []time.Duration
			for b.Loop() {
				start := time.Now()
				if r := run(b, e, s); r.code != 0 {
					b.Fatalf("true exited %d: %q", r.code, r.stderr)
				}
				ds = append(ds, time.Since(start))
			}
			slices.Sort(ds)
			b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms")
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
