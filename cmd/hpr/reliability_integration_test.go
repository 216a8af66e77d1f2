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

// TestSignalCleanup: SIGINT, SIGTERM or SIGHUP to hpr run — while it builds,
// once the container is created, while it runs — leaves no container of the
// project and no image tag for an unfinished build; hpr exits with the
// signal's code (during the build), or, once the container exists, with the
// status of a command the signal ended (the
// commands here ignore it as PID 1, so hpr kills them after its grace and
// reports the signal).
func TestSignalCleanup(t *testing.T) {
	testenv.NonRoot(t)
	sigs := []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		for _, sig := range sigs {
			t.Run("build/"+sig.String(), func(t *testing.T) {
				dir := t.TempDir()
				write(t, filepath.Join(dir, "Dockerfile"), fmt.Sprintf("FROM debian:bookworm-slim\nRUN echo building-%d && sleep 60\n", time.Now().UnixNano()))
				write(t, filepath.Join(dir, "hpr.toml"), "[image]\nbuild = \".\"\n")
				p := startHpr(t, dir, "run", "--engine", te.Endpoint, "--", "true")
				p.waitOutput(t, "the build to start", 60*time.Second, "building-")
				p.signal(t, sig)
				if code := p.end(t, 20*time.Second, sig.String()+" during the build"); code != 128+int(sig) {
					t.Errorf("exit %d after %v during the build, want %d; output:\n%s", code, sig, 128+int(sig), p.out.String())
				}
				if code, _, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--no-build", "--", "true"); code != 125 || !strings.Contains(errOut, "not built") {
					t.Errorf("after %v during the build, the image exists (--no-build run: exit %d, %q)", sig, code, errOut)
				}
				noneLeft(t, te.Endpoint, dir)
			})
			t.Run("start/"+sig.String(), func(t *testing.T) {
				dir := t.TempDir()
				p := startHprEnv(t, dir, []string{"HPR_TRACE=1"}, "run", "--engine", te.Endpoint, "--image", base, "--", "sleep", "300")
				// The signal comes once the container exists, before or
				// while it starts.
				p.waitOutput(t, "the container to be created", 60*time.Second, traceCreated)
				p.signal(t, sig)
				if code := p.end(t, 20*time.Second, sig.String()); code != 128+int(sig) {
					t.Errorf("exit %d after %v, want %d; output:\n%s", code, sig, 128+int(sig), p.out.String())
				}
				noneLeft(t, te.Endpoint, dir)
			})
			t.Run("running/"+sig.String(), func(t *testing.T) {
				dir := t.TempDir()
				p := startUntil(t, dir, "run", "--engine", te.Endpoint, "--image", base, "--", "sh", "-c", "touch started; sleep 300")
				p.signal(t, sig)
				// sh as PID 1 ignores the signal: hpr must kill it after its grace.
				if code := p.end(t, 20*time.Second, sig.String()); code != 128+int(sig) {
					t.Errorf("exit %d after %v, want %d", code, sig, 128+int(sig))
				}
				noneLeft(t, te.Endpoint, dir)
			})
		}
	})
}

// traceCreated is the HPR_TRACE=1 line hpr prints once the container is
// created.
const traceCreated = "hpr trace: create "

// TestKilledHprLeftover: after SIGKILL of hpr its container is left; the next
// hpr run of the project removes it, and so does hpr gc.
func TestKilledHprLeftover(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "hpr.toml"), "[image]\nref = \"debian:bookworm-slim\"\n")
		kill := func() {
			p := startUntil(t, dir, "run", "--engine", te.Endpoint, "--", "sh", "-c", "touch started; sleep 300")
			p.signal(t, os.Kill)
			<-p.done
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
	bin := testenv.Bin(t)
	for _, te := range testenv.Engines(t) {
		t.Run(string(te.Mode), func(t *testing.T) {
			testenv.Alive(t, te)
			var wg sync.WaitGroup
			dirs := make([]string, 20)
			errs := make([]string, 20)
			for i := range dirs {
				dirs[i] = t.TempDir()
				wg.Add(1)
				go func() {
					defer wg.Done()
					r, err := testenv.RunHpr(bin, dirs[i], nil, nil, "run", "--engine", te.Endpoint, "--image", base, "--", "sh", "-c", fmt.Sprintf("echo %d > out", i))
					switch {
					case err != nil:
						errs[i] = fmt.Sprintf("run %d: %v", i, err)
					case r.Code != 0:
						errs[i] = fmt.Sprintf("run %d: exit %d: %s", i, r.Code, r.Stderr)
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
	// The test starts a private podman service as the test user, and
	// kills it; the user's own service cleans up after.
	rootless := testenv.Need(t, idmap.PodmanRootless).Endpoint
	sock := filepath.Join(t.TempDir(), "p.sock")
	svc := exec.Command("podman", "system", "service", "--time=0", "unix://"+sock)
	svc.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	svcDone := make(chan struct{})
	go func() { svc.Wait(); close(svcDone) }()
	defer func() { syscall.Kill(-svc.Process.Pid, syscall.SIGKILL); <-svcDone }()
	err := until(20*time.Second, svcDone, func() bool {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err != nil {
		t.Fatalf("the private podman service on %s: %v", sock, err)
	}
	dir := t.TempDir()
	p := startUntil(t, dir, "run", "--engine", "unix://"+sock, "--image", base, "--", "sh", "-c", "touch started; sleep 300")
	syscall.Kill(-svc.Process.Pid, syscall.SIGKILL)
	<-svcDone
	if code := p.end(t, 30*time.Second, "its engine died"); code != 125 {
		t.Errorf("exit %d, want 125; output:\n%s", code, p.out.String())
	}
	if !strings.Contains(p.out.String(), sock) {
		t.Errorf("the message does not name the engine %s: %q", sock, p.out.String())
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
	err := walkStat(root, func(p string, fi fs.FileInfo, st *syscall.Stat_t) error {
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
