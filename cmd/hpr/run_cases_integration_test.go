//go:build integration

package main_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// TestRunAdHoc: without hpr.toml, --image runs in the current directory; exit
// codes follow docker run; whoami, $USER and a writable $HOME on every mode.
func TestRunAdHoc(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		code, out, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--image", base, "--",
			"sh", "-c", `touch made-here && whoami && echo "$USER" && touch "$HOME/.w" && echo home-writable && pwd`)
		if code != 0 {
			t.Fatalf("exit %d, stderr %q", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 4 || lines[0] == "" || lines[0] != lines[1] || lines[2] != "home-writable" || lines[3] != "/app" {
			t.Errorf("whoami/$USER/HOME/pwd = %q, want a name twice, home-writable, /app", lines)
		}
		wantMine(t, filepath.Join(dir, "made-here"))

		for _, c := range []struct {
			args []string
			want int
		}{
			{[]string{"true"}, 0},
			{[]string{"sh", "-c", "exit 7"}, 7},
			{[]string{"no-such-command-hpr"}, 127},
			{[]string{"/etc/passwd"}, 126},
		} {
			args := append([]string{"run", "--engine", te.Endpoint, "--image", base, "--"}, c.args...)
			if code, _, errOut := hpr(t, dir, nil, args...); code != c.want {
				t.Errorf("hpr run -- %q: exit %d, want %d (stderr %q)", c.args, code, c.want, errOut)
			}
		}
		// A published port is free on the host once hpr has returned, also
		// where the engine removes containers itself (Podman: hpr waits for
		// that when ports were published).
		port := strconv.Itoa(freePort(t))
		for i := range 2 {
			if code, _, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--image", base, "-p", port+":8080", "--", "true"); code != 0 {
				t.Errorf("run %d publishing port %s: exit %d (stderr %q)", i+1, port, code, errOut)
			}
			l, err := net.Listen("tcp", ":"+port)
			if err != nil {
				t.Errorf("after run %d the host cannot bind port %s: %v", i+1, port, err)
				continue
			}
			l.Close()
		}

		// Security defaults: no new privileges, and the capabilities a dev
		// command does not need (NET_RAW 13, MKNOD 27) out of the bounding set.
		code, out, errOut = hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--image", base, "--",
			"sh", "-c", "grep -E '^(NoNewPrivs|CapBnd):' /proc/self/status")
		if code != 0 {
			t.Fatalf("exit %d, %q", code, errOut)
		}
		status := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			k, v, _ := strings.Cut(l, ":")
			status[k] = strings.TrimSpace(v)
		}
		bnd, err := strconv.ParseUint(status["CapBnd"], 16, 64)
		if status["NoNewPrivs"] != "1" || err != nil || bnd&(1<<13) != 0 || bnd&(1<<27) != 0 {
			t.Errorf("NoNewPrivs %q, CapBnd %q: want 1 and no CAP_NET_RAW or CAP_MKNOD", status["NoNewPrivs"], status["CapBnd"])
		}

		noneLeft(t, te.Endpoint, dir)
	})
}

// TestRunProject: hpr.toml found from a subdirectory, working directory
// mapped below the mount, env applied, a named volume written by the mapped
// user, and an image whose USER is 1000 (not the test user) still lands
// files as the test user.
func TestRunProject(t *testing.T) {
	testenv.NonRoot(t)
	if os.Getuid() == 1000 {
		t.Fatal("the test user must not be uid 1000 for this test to mean anything")
	}
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "Dockerfile"), "FROM debian:bookworm-slim\nUSER 1000:1000\n")
		write(t, filepath.Join(dir, "hpr.toml"), `name = "cases"
[image]
build = "."
[run]
command = ["sh", "-c", "echo default"]
env = { GREETING = "hi there" }
volumes = ["data:/data"]
`)
		sub := filepath.Join(dir, "a", "b c")
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := hpr(t, sub, nil, "run", "--engine", te.Endpoint, "--",
			"sh", "-c", `pwd; echo "$GREETING"; touch from-sub; echo v > /data/f && cat /data/f`)
		if code != 0 {
			t.Fatalf("exit %d: stdout %q stderr %q", code, out, errOut)
		}
		want := "/app/a/b c\nhi there\nv\n"
		if out != want {
			t.Errorf("output %q, want %q", out, want)
		}
		wantMine(t, filepath.Join(sub, "from-sub"))

		if code, out, _ := hpr(t, dir, nil, "run", "--engine", te.Endpoint); code != 0 || out != "default\n" {
			t.Errorf("the project's own command: exit %d, output %q", code, out)
		}
	})
}

// TestRunBadProject: a bad hpr.toml is exit 125 with file and line.
func TestRunBadProject(t *testing.T) {
	testenv.NonRoot(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "hpr.toml"), "name = \"x\"\n[image]\nref = \"debian:bookworm-slim\"\n[run]\nport = [\"5000\"]\n")
	code, _, errOut := hpr(t, dir, nil, "run")
	if code != 125 {
		t.Errorf("exit %d, want 125", code)
	}
	if !strings.Contains(errOut, "hpr.toml:5") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Errorf("stderr %q: want one line naming hpr.toml:5", errOut)
	}
}

// TestRunRebuildsRemovedImage: the image an earlier run built and hpr
// remembers (its ID and config, so an unchanged build skips the tag's
// inspect) is built again once it is gone from the engine, and a run after
// an edit of a copied file runs the new build, never the remembered one.
func TestRunRebuildsRemovedImage(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		write(t, filepath.Join(dir, "Dockerfile"), "FROM debian:bookworm-slim\nCOPY marker /marker\n")
		write(t, filepath.Join(dir, "marker"), "one\n")
		write(t, filepath.Join(dir, "hpr.toml"), "name = \"rebuild\"\n[image]\nbuild = \".\"\n[run]\ncommand = [\"cat\", \"/marker\"]\n")
		runOnce := func(want string) {
			t.Helper()
			if code, out, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint); code != 0 || out != want {
				t.Fatalf("run: exit %d, output %q (want %q), stderr %q", code, out, want, errOut)
			}
		}
		runOnce("one\n")
		runOnce("one\n") // from the memo
		code, out, errOut := hpr(t, dir, nil, "build", "--engine", te.Endpoint)
		if code != 0 {
			t.Fatalf("build: exit %d, stderr %q", code, errOut)
		}
		tag := strings.TrimSpace(out)
		e, err := detect.Open(t.Context(), te.Endpoint, "")
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		// Podman may still be removing the last run's container, which uses
		// the image.
		if left := leftContainers(t, te.Endpoint, dir); len(left) > 0 {
			t.Fatalf("containers left: %v", left)
		}
		if err := e.RemoveImage(t.Context(), tag); err != nil {
			t.Fatalf("removing %s: %v", tag, err)
		}
		runOnce("one\n")
		if ok, err := e.ImageExists(t.Context(), tag); err != nil || !ok {
			t.Errorf("after the run, %s exists = %v, %v: want it built again", tag, ok, err)
		}
		write(t, filepath.Join(dir, "marker"), "two\n")
		runOnce("two\n")
	})
}

// TestRunImageNameMoved: a run plans from what hpr remembers of an image
// name and checks the name while the engine prepares the container; after
// the name moved to another image, the run notices before anything starts
// and runs the new image.
func TestRunImageNameMoved(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		ctxDir, dir := t.TempDir(), t.TempDir()
		write(t, filepath.Join(ctxDir, "Dockerfile"), "FROM debian:bookworm-slim\nCOPY marker /marker\n")
		e, err := detect.Open(t.Context(), te.Endpoint, "")
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		tag := fmt.Sprintf("hpr-moved-test:%d", time.Now().UnixNano())
		var ids []string
		build := func(marker string) {
			t.Helper()
			write(t, filepath.Join(ctxDir, "marker"), marker)
			if err := e.Build(t.Context(), runtime.BuildOptions{ContextDir: ctxDir, Dockerfile: "Dockerfile", Tag: tag, Output: io.Discard}); err != nil {
				t.Fatalf("building %s: %v", tag, err)
			}
			img, err := e.Image(t.Context(), tag)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, img.ID)
		}
		defer func() {
			leftContainers(t, te.Endpoint, dir) // waits for Podman's removals
			for _, id := range ids {
				_ = e.RemoveImage(context.Background(), id)
			}
		}()
		run := func(want string) string {
			t.Helper()
			code, out, errOut := testenv.Hpr(t, dir, []string{"HPR_TRACE=1"}, nil, "run", "--engine", te.Endpoint, "--image", tag, "--", "cat", "/marker")
			if code != 0 || out != want {
				t.Fatalf("run: exit %d, output %q (want %q), stderr %q", code, out, want, errOut)
			}
			return errOut
		}
		build("one\n")
		if trace := run("one\n"); !strings.Contains(trace, "inspect image") {
			t.Errorf("first run of %s did not inspect it:\n%s", tag, trace)
		}
		if trace := run("one\n"); strings.Contains(trace, "inspect image") || strings.Contains(trace, "stale image name") {
			t.Errorf("second run did not plan from the remembered image:\n%s", trace)
		}
		build("two\n")
		if trace := run("two\n"); !strings.Contains(trace, "stale image name") {
			t.Errorf("the run after the name moved did not notice:\n%s", trace)
		}
		run("two\n")
	})
}
