//go:build integration

package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
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
	"github.com/hostpersist/hpr/runtime"
)

// testImage is the locally made base image the harness imports into every
// engine.
const testImage = "debian:bookworm-slim"

// engines returns the Docker endpoints of HPR_TEST_ENGINES
// ("docker-rootful=unix:///... podman-rootless=unix:///..."), by mode.
func engines(t testing.TB) map[idmap.Mode]string {
	t.Helper()
	out := map[idmap.Mode]string{}
	for _, f := range strings.Fields(os.Getenv("HPR_TEST_ENGINES")) {
		mode, ep, ok := strings.Cut(f, "=")
		if ok && strings.HasPrefix(mode, "docker-") {
			out[idmap.Mode(mode)] = ep
		}
	}
	if len(out) == 0 {
		if os.Getenv("HPR_REQUIRE_ENGINES") == "1" {
			t.Fatal("HPR_TEST_ENGINES names no docker engine")
		}
		t.Skip("HPR_TEST_ENGINES names no docker engine; run scripts/engines.sh and source /run/hpr-harness/env")
	}
	return out
}

// testHost is the host user the tests map to: the harness's test user, so
// that ownership is checked against a non-root uid even when the tests run as
// root.
func testHost(t testing.TB) idmap.Host {
	t.Helper()
	uid, err1 := strconv.Atoi(os.Getenv("HPR_TEST_UID"))
	gid, err2 := strconv.Atoi(os.Getenv("HPR_TEST_GID"))
	if err1 != nil || err2 != nil {
		t.Fatal("HPR_TEST_UID and HPR_TEST_GID must be set with HPR_TEST_ENGINES")
	}
	return idmap.Host{UID: uid, GID: gid, Name: os.Getenv("HPR_TEST_USER")}
}

// forEachEngine runs f against every Docker engine under test.
func forEachEngine(t *testing.T, f func(t *testing.T, e *Engine, mode idmap.Mode)) {
	for mode, ep := range engines(t) {
		t.Run(string(mode), func(t *testing.T) {
			e, err := New(ep)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { e.Close() })
			f(t, e, mode)
		})
	}
}

// plan makes the plan hpr would for the test host on e with image img.
func plan(t testing.TB, e *Engine, img string) idmap.Plan {
	t.Helper()
	ctx := context.Background()
	info, err := e.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	im, err := e.Image(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	passwd, err := e.ReadImageFile(ctx, img, "/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	group, err := e.ReadImageFile(ctx, img, "/etc/group")
	if err != nil {
		t.Fatal(err)
	}
	p, err := idmap.NewPlan(testHost(t), info.Facts, idmap.Image{User: im.User, Passwd: passwd, Group: group}, idmap.OverrideAuto)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// projectDir makes a directory owned by the test host user, as a project
// directory would be.
func projectDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "hpr-docker-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	h := testHost(t)
	if err := os.Chown(dir, h.UID, h.GID); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

type result struct {
	code           int
	stdout, stderr string
}

// run is the create → attach → start → wait → remove sequence.
func run(t testing.TB, e *Engine, spec runtime.ContainerSpec, stdin string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if spec.Image == "" {
		spec.Image = testImage
	}
	id, err := e.Create(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Remove(context.Background(), id); err != nil {
			t.Error(err)
		}
	}()
	var stdout, stderr bytes.Buffer
	s := runtime.Streams{Stdout: &stdout, Stderr: &stderr, TTY: spec.TTY}
	if spec.OpenStdin {
		s.Stdin = strings.NewReader(stdin)
	}
	done, err := e.Attach(ctx, id, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	code, err := e.Wait(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	return result{code, stdout.String(), stderr.String()}
}

func TestIntegrationInfo(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
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

func TestIntegrationRun(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		p := plan(t, e, testImage)
		dir := projectDir(t)
		res := run(t, e, runtime.ContainerSpec{
			Cmd:        []string{"sh", "-c", `id -u; id -un; echo "HOME=$HOME"; touch /app/owned; touch "$HOME/h" && echo home-ok; echo to-stderr >&2; exit 3`},
			WorkingDir: "/app",
			Mounts:     []runtime.Mount{{Source: dir, Target: "/app"}},
			Plan:       p,
			Labels:     map[string]string{runtime.LabelProject: dir},
		}, "")
		want := fmt.Sprintf("%d\n%s\nHOME=%s\nhome-ok\n", p.UID, p.UserName, p.Home)
		if res.code != 3 || res.stdout != want || res.stderr != "to-stderr\n" {
			t.Errorf("run = %d, stdout %q, stderr %q; want 3, %q, %q (plan %+v)", res.code, res.stdout, res.stderr, want, "to-stderr\n", p)
		}
		fi, err := os.Stat(filepath.Join(dir, "owned"))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if h := testHost(t); int(st.Uid) != h.UID || int(st.Gid) != h.GID {
			t.Errorf("file written in /app is owned by %d:%d on the host, want %d:%d", st.Uid, st.Gid, h.UID, h.GID)
		}
	})
}

func TestIntegrationStreams(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		res := run(t, e, runtime.ContainerSpec{Cmd: []string{"tr", "a-z", "A-Z"}, OpenStdin: true}, "hello\n")
		if res.code != 0 || res.stdout != "HELLO\n" {
			t.Errorf("stdin: %d %q, want 0 %q", res.code, res.stdout, "HELLO\n")
		}
		res = run(t, e, runtime.ContainerSpec{Cmd: []string{"sh", "-c", "test -t 1 && echo tty; echo err >&2"}, TTY: true}, "")
		if res.code != 0 || !strings.Contains(res.stdout, "tty\r\n") || !strings.Contains(res.stdout, "err") {
			t.Errorf("tty: %d %q, want 0 and tty and err on one stream", res.code, res.stdout)
		}
	})
}

func TestIntegrationStartErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		for _, tt := range []struct {
			cmd  string
			want error
		}{
			{"nosuchcommand", runtime.ErrCommandNotFound},
			{"/nonexistent/cmd", runtime.ErrCommandNotFound},
			{"/etc/passwd", runtime.ErrCommandNotExecutable},
			{"/etc", runtime.ErrCommandNotExecutable},
		} {
			ctx := context.Background()
			id, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, Cmd: []string{tt.cmd}})
			if err != nil {
				t.Fatal(err)
			}
			err = e.Start(ctx, id)
			if !errors.Is(err, tt.want) {
				t.Errorf("Start(%s) = %v, want %v", tt.cmd, err, tt.want)
			}
			e.Remove(ctx, id)
		}
	})
}

// TestIntegrationWait checks Wait does not miss a fast exit whether it is
// called before Start or after the container ended.
func TestIntegrationWait(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
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
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		p := plan(t, e, testImage)
		label := map[string]string{runtime.LabelProject: t.Name(), runtime.LabelVersion: "test"}
		id, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, Cmd: []string{"sleep", "60"}, Plan: p, Labels: label})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Remove(ctx, id)
		cs, err := e.List(ctx, label)
		if err != nil || len(cs) != 1 || cs[0].ID != id || cs[0].State != "created" {
			t.Errorf("List() = %+v, %v; want just %s, created", cs, err, id)
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
	})
}

func TestIntegrationVolume(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		name := fmt.Sprintf("hpr-docker-test-%d", time.Now().UnixNano())
		spec := runtime.VolumeSpec{Name: name, Labels: map[string]string{runtime.LabelProject: "test"}}
		for range 2 {
			if err := e.EnsureVolume(ctx, spec); err != nil {
				t.Fatal(err)
			}
		}
		defer e.c.(*client.Client).VolumeRemove(ctx, name, true)
		p := plan(t, e, testImage)
		res := run(t, e, runtime.ContainerSpec{
			Cmd:     []string{"sh", "-c", "touch /data/f && touch /var/cache/apt/g && ls /var/cache/apt"},
			Volumes: []runtime.VolumeMount{{Name: name, Target: "/data"}, {Name: name + "-apt", Target: "/var/cache/apt"}},
			Plan:    p,
		}, "")
		defer e.c.(*client.Client).VolumeRemove(ctx, name+"-apt", true)
		if res.code != 0 || !strings.Contains(res.stdout, "archives") {
			t.Errorf("writing to volumes as %s: %d %q %q; want 0 and the image's content copied up", p.User, res.code, res.stdout, res.stderr)
		}
	})
}

func TestIntegrationImages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		img, err := e.Image(ctx, testImage)
		if err != nil || img.ID == "" || len(img.Cmd) == 0 {
			t.Errorf("Image(%s) = %+v, %v", testImage, img, err)
		}
		if _, err := e.Image(ctx, "hpr-missing/nothing:here"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Image(missing) = %v, want ErrNotFound", err)
		}
		passwd, err := e.ReadImageFile(ctx, testImage, "/etc/passwd")
		if err != nil || !bytes.HasPrefix(passwd, []byte("root:x:0:0:")) {
			t.Errorf("ReadImageFile(/etc/passwd) = %.40q, %v", passwd, err)
		}
		if _, err := e.ReadImageFile(ctx, testImage, "/nonexistent"); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("ReadImageFile(/nonexistent) = %v, want ErrNotFound", err)
		}
		if _, err := e.ReadImageFile(ctx, testImage, "/etc"); err == nil {
			t.Error("ReadImageFile(/etc) succeeded, want an error")
		}
		if _, err := e.ReadImageFile(ctx, "hpr-missing/nothing:here", "/etc/passwd"); !errors.Is(err, runtime.ErrNotFound) {
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
		if b, err := e.ReadImageFile(ctx, ref, "/etc/passwd"); err != nil || string(b) != "x:x:\n" {
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
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
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

		os.WriteFile(filepath.Join(dir, "Dockerfile.missing"), []byte("FROM hpr-missing/base:nope\n"), 0o644)
		err = e.Build(ctx, runtime.BuildOptions{ContextDir: dir, Dockerfile: "Dockerfile.missing", Tag: tag + "-missing"})
		if !errors.Is(err, runtime.ErrNotFound) || !strings.Contains(err.Error(), "hpr-missing/base:nope") || !strings.Contains(err.Error(), "never pulls") {
			t.Errorf("Build(missing base) = %v, want ErrNotFound naming the image", err)
		}
	})
}

// TestIntegrationTimings logs how long the identity step and a no-op run
// take; it asserts nothing (the budget is checked by benchmarks).
func TestIntegrationTimings(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
		ctx := context.Background()
		p := plan(t, e, testImage)
		// Force the full identity step even where the image has the user.
		if p.PasswdLine == "" {
			p.PasswdLine = fmt.Sprintf("hprtiming:x:%d:%d::/home/hprtiming:/bin/sh", p.UID+1, p.GID)
		}
		if p.GroupLine == "" {
			p.GroupLine = fmt.Sprintf("hprtiming:x:%d:", p.GID+1)
		}
		p.CreateHome, p.Home = true, "/home/hprtiming"
		spec := runtime.ContainerSpec{Image: testImage, Cmd: []string{"true"}, Plan: p}
		const n = 10
		var readFiles, cold, warm, noop, full []time.Duration
		for range n {
			fresh, err := New(e.Endpoint())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			for _, f := range []string{"/etc/passwd", "/etc/group"} {
				if _, err := fresh.ReadImageFile(ctx, testImage, f); err != nil {
					t.Fatal(err)
				}
			}
			readFiles = append(readFiles, time.Since(start))
			fresh.Close()

			for _, c := range []struct {
				e *Engine
				d *[]time.Duration
			}{{e, &warm}, {nil, &cold}} {
				eng := c.e
				if eng == nil {
					if eng, err = New(e.Endpoint()); err != nil {
						t.Fatal(err)
					}
					defer eng.Close()
				}
				cfg, hc, err := containerConfig(spec)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := eng.c.ContainerCreate(ctx, cfg, hc, nil, nil, "")
				if err != nil {
					t.Fatal(err)
				}
				start = time.Now()
				if err := eng.applyIdentity(ctx, resp.ID, spec); err != nil {
					t.Fatal(err)
				}
				*c.d = append(*c.d, time.Since(start))
				eng.Remove(ctx, resp.ID)
			}

			start = time.Now()
			if r := run(t, e, runtime.ContainerSpec{Image: testImage, Cmd: []string{"true"}, Plan: plan0(p)}, ""); r.code != 0 {
				t.Fatalf("true exited %d", r.code)
			}
			noop = append(noop, time.Since(start))
			start = time.Now()
			if r := run(t, e, spec, ""); r.code != 0 {
				t.Fatalf("true exited %d", r.code)
			}
			full = append(full, time.Since(start))
		}
		t.Logf("%s, medians of %d: ReadImageFile passwd+group %s; identity step warm cache %s, cold %s; run of true without identity %s, with %s",
			mode, n, median(readFiles), median(warm), median(cold), median(noop), median(full))
	})
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond / 10)
}

// plan0 is p without identity work.
func plan0(p idmap.Plan) idmap.Plan {
	p.PasswdLine, p.GroupLine, p.CreateHome = "", "", false
	return p
}

// BenchmarkRun measures a no-op run with the test host's plan, identity
// included.
func BenchmarkRun(b *testing.B) {
	for mode, ep := range engines(b) {
		b.Run(string(mode), func(b *testing.B) {
			e, err := New(ep)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			p := plan(b, e, testImage)
			for b.Loop() {
				if r := run(b, e, runtime.ContainerSpec{Image: testImage, Cmd: []string{"true"}, Plan: p}, ""); r.code != 0 {
					b.Fatalf("true exited %d", r.code)
				}
			}
		})
	}
}

// TestIntegrationPermission runs as a user outside the socket's group (run
// the test binary as the harness's test user) and expects ErrPermission
// saying which group to join.
func TestIntegrationPermission(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root may use every socket; run the test binary as a user outside the docker group")
	}
	for mode, ep := range engines(t) {
		socket := strings.TrimPrefix(ep, "unix://")
		if syscall.Access(socket, 2 /* W_OK */) == nil {
			continue
		}
		t.Run(string(mode), func(t *testing.T) {
			e, err := New(ep)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			_, err = e.Info(context.Background())
			if !errors.Is(err, runtime.ErrPermission) || !strings.Contains(err.Error(), "add yourself to group") && !strings.Contains(err.Error(), "run hpr as") {
				t.Errorf("Info() = %v, want ErrPermission telling what to do", err)
			}
			t.Log(err)
		})
	}
}

func TestIntegrationCreateErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *Engine, mode idmap.Mode) {
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
		missing := filepath.Join(projectDir(t), "missing")
		if _, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, Mounts: []runtime.Mount{{Source: missing, Target: "/app"}}}); err == nil {
			t.Error("Create(bind of a missing dir) succeeded, want an error")
		}
		if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("bind source %s was created: %v", missing, err)
		}
		if _, err := e.Create(ctx, runtime.ContainerSpec{Image: "hpr-missing/nothing:here"}); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("Create(missing image) = %v, want ErrNotFound", err)
		}
	})
}
