//go:build integration

package main_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime/detect"
)

// TestBuildInputs: hpr.toml's [image] args reach the build, and a change of
// them or of .dockerignore is a change of the build's inputs: the next run
// runs a new build, not the one hpr remembers.
func TestBuildInputs(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		dir := t.TempDir()
		name := fmt.Sprintf("inputs-%d", time.Now().UnixNano())
		// The name makes this build's inputs new to the engine: nothing
		// built by an earlier run of the test answers for them.
		// COPY *.txt, not COPY .: the context's .dockerignore is then not a
		// file the build copies, and only its own part in the inputs can
		// tell the two builds apart.
		write(t, filepath.Join(dir, "Dockerfile"), "FROM debian:bookworm-slim\nARG GREETING=unset\nRUN echo \"$GREETING\" > /greeting\nCOPY *.txt /ctx/\n")
		write(t, filepath.Join(dir, "a.txt"), "a\n")
		write(t, filepath.Join(dir, "b.txt"), "b\n")
		project := func(greeting string) {
			write(t, filepath.Join(dir, "hpr.toml"), fmt.Sprintf("name = %q\n[image]\nbuild = \".\"\nargs = { GREETING = %q }\n[run]\ncommand = [\"sh\", \"-c\", \"cat /greeting; ls /ctx\"]\n", name, greeting))
		}
		defer removeImages(t, te.Endpoint, dir, "hpr-"+name)
		run := func(step, greeting, present, absent string) {
			t.Helper()
			code, out, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint)
			if code != 0 {
				t.Fatalf("%s: exit %d, stderr %q", step, code, errOut)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if lines[0] != greeting || !contains(lines, present) || contains(lines, absent) {
				t.Errorf("%s: the image says %q; want %s from the args, %s in the context and not %s", step, lines, greeting, present, absent)
			}
		}
		project("hello")
		write(t, filepath.Join(dir, ".dockerignore"), "b.txt\n")
		run("first build", "hello", "a.txt", "b.txt")
		project("bye")
		run("after the args changed", "bye", "a.txt", "b.txt")
		write(t, filepath.Join(dir, ".dockerignore"), "a.txt\n")
		run("after .dockerignore changed", "bye", "b.txt", "a.txt")
		run("unchanged", "bye", "b.txt", "a.txt")
	})
}

// removeImages removes every image tagged repo:<any tag> on the engine,
// once no container of project dir uses them.
func removeImages(t *testing.T, endpoint, dir, repo string) {
	t.Helper()
	leftContainers(t, endpoint, dir) // waits for Podman's own removals
	ctx := context.Background()
	e, err := detect.Open(ctx, endpoint, "")
	if err != nil {
		t.Errorf("cleaning up %s: %v", repo, err)
		return
	}
	defer e.Close()
	imgs, err := e.ImagesNamed(ctx, repo)
	if err != nil {
		t.Errorf("cleaning up %s: %v", repo, err)
		return
	}
	for _, img := range imgs {
		if err := e.RemoveImage(ctx, img.Ref); err != nil {
			t.Logf("removing %s: %v", img.Ref, err)
		}
	}
}
