//go:build integration && root

package faults

import (
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime/detect"
)

// TestInterruptedBuild: Ctrl-C to hpr run while its build runs a RUN step
// leaves nothing on the engine once the engine has finished with the build:
// no container (Podman: no Buildah working container, the source of the
// overlay mounts found leaked on rootful Podman), no image, no overlay mount
// in the engine's mount namespace. The engine may finish the step it is in
// first (Podman's Buildah does), so the test waits for that, bounded.
func TestInterruptedBuild(t *testing.T) {
	u := testUser(t)
	for _, te := range testenv.Engines(t) {
		t.Run(string(te.Mode), func(t *testing.T) {
			testenv.Alive(t, te)
			dir := u.dir(t)
			u.write(t, filepath.Join(dir, "Dockerfile"), fmt.Sprintf("FROM %s\nRUN echo nonce-%d >/dev/null; echo building-$((40+2)) && sleep 15\n", base, time.Now().UnixNano()))
			u.write(t, filepath.Join(dir, "hpr.toml"), "[image]\nbuild = \".\"\n")
			before := state(t, te)
			r := u.start(t, runAs{dir: dir}, "run", "--engine", te.Endpoint, "--", "true")
			r.awaitOutput(t, "the RUN step", 2*time.Minute, "building-42")
			r.cmd.Process.Signal(syscall.SIGINT)
			r.exit(t, 30*time.Second, "SIGINT during the build")
			settled(t, te, before, 60*time.Second)
		})
	}
}

// TestBuildEngineCrash: Podman's service dies (SIGKILL) while hpr's build
// runs a RUN step, and is started again: hpr exits 125 naming the engine,
// and the Buildah working container the dead service kept (with its overlay
// mounted) is removed — by hpr once the service is back, or by hpr gc.
func TestBuildEngineCrash(t *testing.T) {
	u := testUser(t)
	for _, te := range testenv.Engines(t) {
		if te.Mode != idmap.PodmanRootful && te.Mode != idmap.PodmanRootless {
			continue
		}
		t.Run(string(te.Mode), func(t *testing.T) {
			testenv.Alive(t, te)
			dir := u.dir(t)
			u.write(t, filepath.Join(dir, "Dockerfile"), fmt.Sprintf("FROM %s\nRUN echo nonce-%d >/dev/null; echo building-$((40+2)) && sleep 30\n", base, time.Now().UnixNano()))
			u.write(t, filepath.Join(dir, "hpr.toml"), "[image]\nbuild = \".\"\n")
			before := state(t, te)
			r := u.start(t, runAs{dir: dir}, "run", "--engine", te.Endpoint, "--", "true")
			r.awaitOutput(t, "the RUN step", 2*time.Minute, "building-42")
			pid := detect.ListenerPID(te.Endpoint)
			if pid <= 1 {
				t.Fatalf("no service process behind %s", te.Endpoint)
			}
			syscall.Kill(pid, syscall.SIGKILL)
			restart(t, te.Mode)
			if code := r.exit(t, time.Minute, "the service's crash"); code != 125 {
				t.Errorf("exit %d after the crash, want 125; output:\n%s", code, r.out.String())
			}
			if err := isEngineFailure(r.lastLine(), te.Endpoint); err != nil {
				t.Errorf("%v: %q", err, r.lastLine())
			}
			if code, out := u.run(t, runAs{dir: dir}, time.Minute, "gc", "--engine", te.Endpoint); code != 0 {
				t.Errorf("hpr gc after the crash: exit %d\n%s", code, out)
			}
			settled(t, te, before, 30*time.Second)
		})
	}
}
