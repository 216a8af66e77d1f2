//go:build integration && root

package faults

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
)

// The container's command: a shell that ends on SIGTERM (so a daemon that
// stops its containers on shutdown does so at once) and marks when it runs.
var waitingCmd = []string{"sh", "-c", `trap "exit 143" TERM; touch started; sleep 300 & wait`}

// phase is a point of hpr run at which the engine is restarted, and how
// the test knows hpr is there: a line of hpr's output (HPR_TRACE=1 steps,
// or the build's own output that hpr passes on) or a file the container
// made.
type phase struct {
	name string
	// setup writes the project into dir and returns hpr's arguments and
	// what marks the phase.
	setup func(t *testing.T, u tester, dir, endpoint string) (args []string, mark func(r *hprRun) func() bool)
}

var phases = []phase{
	{"build", func(t *testing.T, u tester, dir, endpoint string) ([]string, func(*hprRun) func() bool) {
		// The echoed word differs from the RUN line the build prints
		// before it runs it: its appearance means the RUN step runs.
		u.write(t, filepath.Join(dir, "Dockerfile"), fmt.Sprintf("FROM %s\nRUN echo nonce-%d >/dev/null; echo building-$((40+2)) && sleep 60\n", base, time.Now().UnixNano()))
		u.write(t, filepath.Join(dir, "hpr.toml"), "[image]\nbuild = \".\"\n")
		return []string{"run", "--engine", endpoint, "--", "true"}, outputHas("building-42")
	}},
	{"start", func(t *testing.T, u tester, dir, endpoint string) ([]string, func(*hprRun) func() bool) {
		return append([]string{"run", "--engine", endpoint, "--image", base, "--"}, waitingCmd...), outputHas("hpr trace: create ")
	}},
	{"running", func(t *testing.T, u tester, dir, endpoint string) ([]string, func(*hprRun) func() bool) {
		return append([]string{"run", "--engine", endpoint, "--image", base, "--"}, waitingCmd...), func(r *hprRun) func() bool {
			return func() bool { return fileExists(filepath.Join(dir, "started")) }
		}
	}},
}

func outputHas(s string) func(r *hprRun) func() bool {
	return func(r *hprRun) func() bool { return func() bool { return strings.Contains(r.out.String(), s) } }
}

// TestRestart: each engine's daemon is restarted — stopped and started again
// within seconds, as a package upgrade or `systemctl restart` does — while
// hpr run builds, starts and runs its container. hpr ends with exit 125 and
// one line of its own naming the engine, within a bound (it never hangs);
// afterwards the engine holds nothing that the next hpr run and hpr gc do not
// remove: no container, Buildah working container, image, network, volume
// or overlay mount more than before.
func TestRestart(t *testing.T) {
	u := testUser(t)
	for _, te := range testenv.Engines(t) {
		t.Run(string(te.Mode), func(t *testing.T) {
			testenv.Alive(t, te)
			for _, ph := range phases {
				t.Run(ph.name, func(t *testing.T) { restartDuring(t, u, te, ph) })
			}
		})
	}
}

func restartDuring(t *testing.T, u tester, te testenv.Engine, ph phase) {
	dir := u.dir(t)
	args, mark := ph.setup(t, u, dir, te.Endpoint)
	before := state(t, te)
	r := u.start(t, runAs{dir: dir}, args...)
	r.await(t, "the "+ph.name+" phase", 2*time.Minute, mark(r))
	took := restart(t, te.Mode)
	t.Logf("%s restarted in %v", te.Mode, took.Round(10*time.Millisecond))
	if code := r.exit(t, time.Minute, "the engine's restart"); code != 125 {
		t.Errorf("exit %d after the restart, want 125; output:\n%s", code, r.out.String())
	}
	if err := isEngineFailure(r.lastLine(), te.Endpoint); err != nil {
		t.Errorf("%v: %q", err, r.lastLine())
	}
	next(t, u, te, dir, ph.name == "build")
	if code, out := u.run(t, runAs{dir: dir}, time.Minute, "gc", "--engine", te.Endpoint); code != 0 {
		t.Errorf("hpr gc after the restart: exit %d\n%s", code, out)
	}
	settled(t, te, before, 30*time.Second)
}

// next is the next hpr run of the project after the restart: it works (a
// build interrupted by the restart left no image to run instead).
func next(t *testing.T, u tester, te testenv.Engine, dir string, built bool) {
	t.Helper()
	if built {
		code, out := u.run(t, runAs{dir: dir}, time.Minute, "run", "--engine", te.Endpoint, "--no-build", "--", "true")
		if code != 125 || !strings.Contains(out, "not built") {
			t.Errorf("after the restart during the build, an image is there to run (--no-build: exit %d)\n%s", code, out)
		}
		return
	}
	if code, out := u.run(t, runAs{dir: dir}, time.Minute, "run", "--engine", te.Endpoint, "--image", base, "--", "true"); code != 0 {
		t.Errorf("the next hpr run after the restart: exit %d\n%s", code, out)
	}
}
