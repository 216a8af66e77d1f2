//go:build integration

package detect_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// TestHarness checks, from the host, what scripts/engines.sh promises for
// every engine: it answers the ping and Info, it is in the mode it is listed
// as, the base image is there, and a container run as the test user writes a
// file in a bind mount that the test user owns. With HPR_REQUIRE_ENGINES=1
// it fails when any of the five modes is missing.
//
// scripts/test.sh runs it before any test package, as the check of every
// engine: each engine gets harnessTimeout, so that a dead or hung engine
// fails the run within a minute, named.
func TestHarness(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		ctx, cancel := context.WithTimeout(t.Context(), harnessTimeout)
		defer cancel()
		if err := checkEngine(ctx, te, t.TempDir()); err != nil {
			t.Fatalf("engine %s (%s): %v", te.Mode, te.Endpoint, err)
		}
	})
}

// harnessTimeout bounds TestHarness on one engine, container run included
// (the cleanup after a timeout may add runtime.RemoveTimeout).
const harnessTimeout = 30 * time.Second

// checkEngine is TestHarness on one engine; the error says which step
// failed.
func checkEngine(ctx context.Context, te testenv.Engine, dir string) error {
	e, err := detect.Open(ctx, te.Endpoint, "")
	if err != nil {
		return fmt.Errorf("opening: %w", err)
	}
	defer e.Close()
	// Open may answer from its cache of Info: ask the engine itself.
	info, err := e.Info(ctx)
	if err != nil {
		return fmt.Errorf("info: %w", err)
	}
	if info.Mode != te.Mode {
		return fmt.Errorf("the engine reports mode %s", info.Mode)
	}
	if _, err := e.Image(ctx, "debian:bookworm-slim"); err != nil {
		return fmt.Errorf("base image: %w (scripts/engines.sh up imports it)", err)
	}
	host, err := idmap.CurrentHost()
	if err != nil {
		return err
	}
	p, err := runtime.PlanFor(ctx, e, info, host, "debian:bookworm-slim", idmap.OverrideAuto)
	if err != nil {
		return fmt.Errorf("planning: %w", err)
	}
	var stderr bytes.Buffer
	code, err := runtime.Run(ctx, e, runtime.RunOptions{
		Spec: runtime.ContainerSpec{
			Image: "debian:bookworm-slim", Cmd: []string{"sh", "-c", "echo ok > written"},
			WorkingDir: "/app", Mounts: []runtime.Mount{{Source: dir, Target: "/app"}},
			Labels: liveLabels(dir), Plan: p.Plan, Identity: p.Identity,
		},
		Streams: runtime.Streams{Stderr: &stderr},
	})
	if err != nil || code != 0 {
		return fmt.Errorf("running a container: exit %d, %v, stderr %q", code, err, stderr.String())
	}
	fi, err := os.Stat(filepath.Join(dir, "written"))
	if err != nil {
		return fmt.Errorf("the container's file: %w", err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid() {
		return fmt.Errorf("the container's file is owned by %d:%d, want the test user %d:%d", st.Uid, st.Gid, os.Getuid(), os.Getgid())
	}
	return nil
}

// liveLabels mark a container of project dir as this process's, as hpr
// run's are, so that an hpr gc meanwhile leaves it alone.
func liveLabels(dir string) map[string]string {
	host, _ := os.Hostname()
	return map[string]string{runtime.LabelProject: dir, runtime.LabelPID: strconv.Itoa(os.Getpid()), runtime.LabelHost: host}
}

// TestPrivatePodmanService: when podman is installed and no socket answers,
// detection starts `podman system service` on a socket of its own, uses it,
// and stops it on Close.
func TestPrivatePodmanService(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Engines(t)
	ctx := context.Background()
	dir := t.TempDir()
	o := detect.Options{
		Engine:  "podman",
		Sockets: []detect.Candidate{{URI: "unix://" + filepath.Join(dir, "none.sock"), Kind: idmap.KindPodman}},
		Getenv: func(k string) string {
			if k == "XDG_RUNTIME_DIR" {
				return dir
			}
			return os.Getenv(k)
		},
	}
	e, err := detect.Pick(ctx, o)
	if err != nil {
		t.Fatalf("no private service: %v", err)
	}
	sock := strings.TrimPrefix(e.About.Endpoint, "unix://")
	if !strings.HasPrefix(sock, filepath.Join(dir, "hpr")) || e.About.Mode != idmap.PodmanRootless {
		t.Errorf("engine %s (%s), want rootless podman on a socket under %s/hpr", e.About.Endpoint, e.About.Mode, dir)
	}
	p := basePlan(t, e)
	code, err := runtime.Run(ctx, e, runtime.RunOptions{Spec: runtime.ContainerSpec{
		Image: "debian:bookworm-slim", Cmd: []string{"true"}, Plan: p.Plan, Identity: p.Identity,
		Labels: map[string]string{runtime.LabelProject: dir},
	}})
	if err != nil || code != 0 {
		t.Fatalf("run on the private service: exit %d, %v", code, err)
	}
	e.Close()
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the private service's socket %s is still there after Close (%v)", sock, err)
	}
	if _, err := runtime.Ping(ctx, "unix://"+sock); err == nil {
		t.Errorf("the private service still answers after Close")
	}
}

// basePlan is the plan for debian:bookworm-slim on e, for the user running
// the test.
func basePlan(t *testing.T, e *detect.Engine) runtime.Planned {
	t.Helper()
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	p, err := runtime.PlanFor(context.Background(), e, e.About, host, "debian:bookworm-slim", idmap.OverrideAuto)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
