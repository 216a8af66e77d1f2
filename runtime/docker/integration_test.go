//go:build integration

package docker

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/enginetest"
)

// The engines come from HPR_TEST_ENGINES (internal/testenv); these tests run
// as the non-root test user, as scripts/test.sh runs them. What every backend
// must do is checked once, on every engine, by runtime/enginetest's
// TestContract; the tests here check what is particular to this backend.

// testImage is the base image the harness imports into every engine.
const testImage = enginetest.BaseImage

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
