//go:build integration

package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// hpr runs the binary under test in dir and returns its exit code and output.
func hpr(t *testing.T, dir string, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	return hprEnv(t, dir, nil, stdin, args...)
}

// hprEnv is hpr with extra environment variables.
func hprEnv(t *testing.T, dir string, env []string, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(testenv.Bin(t), args...)
	cmd.Dir = dir
	cmd.Stdin = stdin
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errb.String()
	}
	if err != nil {
		t.Fatalf("running hpr %q: %v", args, err)
	}
	return 0, out.String(), errb.String()
}

// copyTree copies src into a new temp directory and returns it.
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			if d.Name() == "_site" || d.Name() == ".jekyll-cache" {
				return filepath.SkipDir
			}
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// leftContainers lists the containers of project dir on the engine.
func leftContainers(t *testing.T, endpoint, dir string) []runtime.Container {
	t.Helper()
	ctx := context.Background()
	e, err := detect.Open(ctx, endpoint, "")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Podman removes a container by itself after its exit: that may still
	// be under way when hpr has returned.
	cs, err := runtime.Settle(ctx, e, map[string]string{runtime.LabelProject: real}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// assertOwnedByMe walks root and fails for every path not owned by the test
// user.
func assertOwnedByMe(t *testing.T, root string) int {
	t.Helper()
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
			t.Errorf("%s owned by %d:%d, want %d:%d", p, st.Uid, st.Gid, os.Getuid(), os.Getgid())
		}
		n++
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Error(err)
	}
	return n
}

// TestBlogEndToEnd is the seed's case on every engine: hpr run of
// examples/blog builds the image, serves the site, regenerates it when a post
// is added on the host, writes _site owned by the test user, and ends on
// SIGINT with no container left.
func TestBlogEndToEnd(t *testing.T) {
	testenv.NonRoot(t)
	src := filepath.Join(testenv.Src(t), "examples", "blog")
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := copyTree(t, src)
		port := freePort(t)
		toml := filepath.Join(dir, "hpr.toml")
		data, err := os.ReadFile(toml)
		if err != nil {
			t.Fatal(err)
		}
		// Five engines serve at once: give each its own host port.
		data = bytes.Replace(data, []byte(`ports = ["5000:5000"]`), []byte(fmt.Sprintf(`ports = ["127.0.0.1:%d:5000"]`, port)), 1)
		if err := os.WriteFile(toml, data, 0o644); err != nil {
			t.Fatal(err)
		}

		cmd := exec.Command(testenv.Bin(t), "run", "--engine", te.Endpoint)
		cmd.Dir = dir
		var out testenv.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		defer func() {
			if cmd.ProcessState == nil {
				cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				t.Logf("hpr run output:\n%s", out.String())
			}
		}()

		url := fmt.Sprintf("http://127.0.0.1:%d/", port)
		// The first run builds the image (apt-get install jekyll): minutes.
		if _, err := waitBody(url, "Welcome", 10*time.Minute, exited); err != nil {
			t.Fatalf("site not served: %v", err)
		}
		post := filepath.Join(dir, "_posts", "2026-11-02-from-the-host.md")
		if err := os.WriteFile(post, []byte("---\nlayout: default\ntitle: Added on the host\n---\nhello\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		added := time.Now()
		if _, err := waitBody(url, "Added on the host", 10*time.Second, exited); err != nil {
			t.Errorf("a post added on the host did not appear within 10 s: %v", err)
		} else {
			t.Logf("%s: new post served %v after it was written", te.Mode, time.Since(added).Round(time.Millisecond))
		}

		sent := time.Now()
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		select {
		case <-exited:
			t.Logf("%s: hpr run ended %v after SIGINT", te.Mode, time.Since(sent).Round(time.Millisecond))
		case <-time.After(10 * time.Second):
			t.Fatalf("hpr run still running 10 s after SIGINT")
		}
		if n := assertOwnedByMe(t, filepath.Join(dir, "_site")); n < 3 {
			t.Errorf("_site has %d entries, want the generated site", n)
		}
		assertOwnedByMe(t, filepath.Join(dir, ".jekyll-cache"))
		assertOwnedByMe(t, dir)
		if left := leftContainers(t, te.Endpoint, dir); len(left) > 0 {
			t.Errorf("containers left after SIGINT: %+v", left)
		}
	})
}

// waitBody polls url until its body contains want, the process exits, or d
// passes.
func waitBody(url, want string, d time.Duration, exited <-chan error) (string, error) {
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return "", fmt.Errorf("hpr run exited: %v", err)
		default:
		}
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get(url)
		if err == nil {
			var b strings.Builder
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				b.WriteString(sc.Text() + "\n")
			}
			resp.Body.Close()
			last = b.String()
			if strings.Contains(last, want) {
				return last, nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return last, fmt.Errorf("%q not in %s after %v (last body %q)", want, url, d, last)
}
