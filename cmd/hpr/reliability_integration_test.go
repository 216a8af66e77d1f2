//go:build integration

package main_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
)

// startHpr starts hpr in dir and returns the command, its combined output
// and a channel closed when it exits.
func startHpr(t *testing.T, dir string, args ...string) (*exec.Cmd, *testenv.Buffer, <-chan struct{}) {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t), args...)
	cmd.Dir = dir
	var out testenv.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		select {
		case <-done:
		default:
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd, &out, done
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func ended(done <-chan struct{}, d time.Duration) bool {
	select {
	case <-done:
		return true
	case <-time.After(d):
		return false
	}
}

// TestSignalCleanup: SIGINT, SIGTERM or SIGHUP to hpr run — while it builds,
// while the container starts, while it runs — leaves no container of the
// project and no image tag for an unfinished build.
func TestSignalCleanup(t *testing.T) {
	testenv.NonRoot(t)
	sigs := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		for _, sig := range sigs {
			t.Run("build/"+sig.String(), func(t *testing.T) {
				dir := t.TempDir()
				write(t, filepath.Join(dir, "Dockerfile"), fmt.Sprintf("FROM debian:bookworm-slim\nRUN echo building-%d && sleep 60\n", time.Now().UnixNano()))
				write(t, filepath.Join(dir, "hpr.toml"), "[image]\nbuild = \".\"\n")
				cmd, out, done := startHpr(t, dir, "run", "--engine", te.Endpoint, "--", "true")
				waitFor(t, "the build to start", 60*time.Second, func() bool { return strings.Contains(out.String(), "building-") })
				cmd.Process.Signal(sig)
				if !ended(done, 20*time.Second) {
					t.Fatalf("hpr still running 20 s after %v during the build; output:\n%s", sig, out.String())
				}
				if code, _, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--no-build", "--", "true"); code != 125 || !strings.Contains(errOut, "not built") {
					t.Errorf("after %v during the build, the image exists (--no-build run: exit %d, %q)", sig, code, errOut)
				}
				if left := leftContainers(t, te.Endpoint, dir); len(left) > 0 {
					t.Errorf("containers left: %+v", left)
				}
			})
			t.Run("start/"+sig.String(), func(t *testing.T) {
				dir := t.TempDir()
				cmd, out, done := startHpr(t, dir, "run", "--engine", te.Endpoint, "--image", base, "--", "sleep", "300")
				time.Sleep(150 * time.Millisecond) // detection, plan, create, start
				cmd.Process.Signal(sig)
				if !ended(done, 20*time.Second) {
					t.Fatalf("hpr still running 20 s after %v; output:\n%s", sig, out.String())
				}
				if left := leftContainers(t, te.Endpoint, dir); len(left) > 0 {
					t.Errorf("containers left: %+v", left)
				}
			})
			t.Run("running/"+sig.String(), func(t *testing.T) {
				dir := t.TempDir()
				cmd, out, done := startHpr(t, dir, "run", "--engine", te.Endpoint, "--image", base, "--",
					"sh", "-c", "touch started; sleep 300")
				waitFor(t, "the container to run", 60*time.Second, func() bool {
					_, err := os.Stat(filepath.Join(dir, "started"))
					return err == nil
				})
				cmd.Process.Signal(sig)
				// sh as PID 1 ignores the signal: hpr must kill it after its grace.
				if !ended(done, 20*time.Second) {
					t.Fatalf("hpr still running 20 s after %v; output:\n%s", sig, out.String())
				}
				if code := cmd.ProcessState.ExitCode(); code != 128+int(sig) {
					t.Errorf("exit %d after %v, want %d", code, sig, 128+int(sig))
				}
				if left := leftContainers(t, te.Endpoint, dir); len(left) > 0 {
					t.Errorf("containers left: %+v", left)
				}
			})
		}
	})
}

// TestKilledHprLeftover: after SIGKILL of hpr its container is left; the next
// hpr run of the project removes it, and so does hpr gc.
func TestKilledHprLeftover(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "hpr.toml"), "[image]\nref = \"debian:bookworm-slim\"\n")
		kill := func() {
			cmd, _, done := startHpr(t, dir, "run", "--engine", te.Endpoint, "--", "sh", "-c", "touch started; sleep 300")
			waitFor(t, "the container to run", 60*time.Second, func() bool {
				_, err := os.Stat(filepath.Join(dir, "started"))
				return err == nil
			})
			cmd.Process.Kill()
			<-done
			os.Remove(filepath.Join(dir, "started"))
			if left := leftContainers(t, te.Endpoint, dir); len(left) != 1 {
				t.Fatalf("after SIGKILL of hpr: %d containers, want the 1 left behind", len(left))
			}
		}
		kill()
		if code, _, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--", "true"); code != 0 {
			t.Fatalf("next run: exit %d, %q", code, errOut)
		}
		if left := leftContainers(t, te.Endpoint, dir); len(left) > 0 {
			t.Errorf("the next hpr run left %d container(s) of the killed one", len(left))
		}
		kill()
		if code, out, errOut := hpr(t, dir, nil, "gc", "--engine", te.Endpoint); code != 0 || !strings.Contains(out, "removed") {
			t.Fatalf("hpr gc: exit %d, %q %q", code, out, errOut)
		}
		if left := leftContainers(t, te.Endpoint, dir); len(left) > 0 {
			t.Errorf("hpr gc left %d container(s)", len(left))
		}
	})
}

// TestConcurrentRuns: 20 hpr run at once in 20 projects, on each engine in
// turn: all succeed, each file owned by the test user, nothing left.
func TestConcurrentRuns(t *testing.T) {
	testenv.NonRoot(t)
	for _, te := range testenv.Engines(t) {
		t.Run(string(te.Mode), func(t *testing.T) {
			var wg sync.WaitGroup
			dirs := make([]string, 20)
			errs := make([]string, 20)
			for i := range dirs {
				dirs[i] = t.TempDir()
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, _, errOut := hpr(t, dirs[i], nil, "run", "--engine", te.Endpoint, "--image", base, "--", "sh", "-c", fmt.Sprintf("echo %d > out", i))
					if code != 0 {
						errs[i] = fmt.Sprintf("run %d: exit %d: %s", i, code, errOut)
					}
				}()
			}
			wg.Wait()
			for i, d := range dirs {
				if errs[i] != "" {
					t.Error(errs[i])
					continue
				}
				data, err := os.ReadFile(filepath.Join(d, "out"))
				if err != nil || strings.TrimSpace(string(data)) != fmt.Sprint(i) {
					t.Errorf("run %d wrote %q, %v", i, data, err)
				}
				wantMine(t, filepath.Join(d, "out"))
				if left := leftContainers(t, te.Endpoint, d); len(left) > 0 {
					t.Errorf("run %d left %d container(s)", i, len(left))
				}
			}
		})
	}
}

// TestDaemonStoppedMidRun: the engine dies while a container runs: hpr exits
// 125 naming the engine, and does not hang.
func TestDaemonStoppedMidRun(t *testing.T) {
	testenv.NonRoot(t)
	rootless := testenv.Endpoint(t, idmap.PodmanRootless)
	if rootless == "" {
		t.Fatal("needs podman-rootless in HPR_TEST_ENGINES: the test starts a private podman service as the test user and kills it")
	}
	sock := filepath.Join(t.TempDir(), "p.sock")
	svc := exec.Command("podman", "system", "service", "--time=0", "unix://"+sock)
	svc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	svcDone := make(chan struct{})
	go func() { svc.Wait(); close(svcDone) }()
	defer func() { syscall.Kill(-svc.Process.Pid, syscall.SIGKILL); <-svcDone }()
	waitFor(t, "the private podman service", 20*time.Second, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	dir := t.TempDir()
	cmd, out, done := startHpr(t, dir, "run", "--engine", "unix://"+sock, "--image", base, "--", "sh", "-c", "touch started; sleep 300")
	waitFor(t, "the container to run", 60*time.Second, func() bool {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil
	})
	syscall.Kill(-svc.Process.Pid, syscall.SIGKILL)
	<-svcDone
	if !ended(done, 30*time.Second) {
		t.Fatalf("hpr still running 30 s after its engine died; output:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 125 {
		t.Errorf("exit %d, want 125; output:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), sock) {
		t.Errorf("the message does not name the engine %s: %q", sock, out.String())
	}
	// The container outlives the service (conmon keeps it): clean it up
	// through the user's own service, which shares the store.
	if code, o, e := hpr(t, dir, nil, "gc", "--engine", rootless); code != 0 {
		t.Logf("gc after the test: %d %s %s", code, o, e)
	}
}

// TestUnresponsiveEndpoint: an endpoint that accepts connections but never
// answers is reported within a bounded time, not waited on forever.
func TestUnresponsiveEndpoint(t *testing.T) {
	testenv.NonRoot(t)
	sock := filepath.Join(t.TempDir(), "hung.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		var held []net.Conn
		for {
			c, err := l.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	start := time.Now()
	code, _, errOut := hpr(t, t.TempDir(), nil, "run", "--engine", "unix://"+sock, "--image", base, "--", "true")
	took := time.Since(start)
	if code != 125 || !strings.Contains(errOut, sock) {
		t.Errorf("exit %d, %q; want 125 naming %s", code, errOut, sock)
	}
	if took > 5*time.Second {
		t.Errorf("took %v to give up on an endpoint that never answers", took)
	}
	// Through CONTAINER_HOST, the same.
	cmd := exec.Command(testenv.Bin(t), "run", "--image", base, "--", "true")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "CONTAINER_HOST=unix://"+sock)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	start = time.Now()
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 125 || time.Since(start) > 5*time.Second {
		t.Errorf("CONTAINER_HOST hung endpoint: %v after %v, %q", err, time.Since(start), errb.String())
	}
}

// TestHostilePaths: project paths with spaces, quotes, a newline, non-ASCII,
// a symlinked root and a long path work; / is refused.
func TestHostilePaths(t *testing.T) {
	testenv.NonRoot(t)
	engines := testenv.Engines(t)
	long := strings.Repeat("d", 60)
	names := map[string]string{
		"spaces":    "my project",
		"quotes":    `it's "quoted"`,
		"newline":   "line\nbreak",
		"non-ascii": "projét-日本",
		"long":      filepath.Join(long, long, long, long, long),
	}
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		for name, p := range names {
			t.Run(name, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), p)
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				code, _, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--image", base, "--", "touch", "made")
				if code != 0 {
					t.Fatalf("exit %d: %q", code, errOut)
				}
				wantMine(t, filepath.Join(dir, "made"))
			})
		}
		t.Run("symlinked root", func(t *testing.T) {
			real := t.TempDir()
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(real, "hpr.toml"), "[image]\nref = \"debian:bookworm-slim\"\n")
			os.MkdirAll(filepath.Join(real, "sub"), 0o755)
			code, out, errOut := hpr(t, filepath.Join(link, "sub"), nil, "run", "--engine", te.Endpoint, "--", "sh", "-c", "pwd; touch made")
			if code != 0 || strings.TrimSpace(out) != "/app/sub" {
				t.Fatalf("exit %d, pwd %q, stderr %q", code, out, errOut)
			}
			wantMine(t, filepath.Join(real, "sub", "made"))
		})
	})
	t.Run("root refused", func(t *testing.T) {
		code, _, errOut := hpr(t, "/", nil, "run", "--engine", engines[0].Endpoint, "--image", base, "--", "true")
		if code != 125 || !strings.Contains(errOut, "refusing to use /") {
			t.Errorf("exit %d, %q; want 125 refusing /", code, errOut)
		}
	})
}

// TestNoHostChanges: hpr itself changes nothing in the project: a no-op run
// leaves every path's owner, mode, size, mtime and content as they were.
func TestNoHostChanges(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "hpr.toml"), "[image]\nref = \"debian:bookworm-slim\"\n[run]\nvolumes = [\"cache:/cache\"]\n")
		write(t, filepath.Join(dir, "a.txt"), "hello")
		os.MkdirAll(filepath.Join(dir, "sub", "deeper"), 0o750)
		write(t, filepath.Join(dir, "sub", "deeper", "b"), "x")
		os.Chmod(filepath.Join(dir, "a.txt"), 0o600)
		os.Symlink("a.txt", filepath.Join(dir, "link"))
		old := time.Now().Add(-time.Hour)
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			os.Chtimes(p, old, old)
			return nil
		})
		before := snapshot(t, dir)
		if code, _, errOut := hpr(t, filepath.Join(dir, "sub"), nil, "run", "--engine", te.Endpoint, "--", "true"); code != 0 {
			t.Fatalf("exit %d: %q", code, errOut)
		}
		if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
			t.Errorf("the project changed (-before +after):\n%s", diff)
		}
	})
}

func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		sum := ""
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		rel, _ := filepath.Rel(root, p)
		m[rel] = fmt.Sprintf("%v %d:%d size=%d mtime=%d %s", fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UnixNano(), sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
