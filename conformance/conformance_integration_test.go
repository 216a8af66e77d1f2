//go:build integration

package conformance_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/conformance"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
	"github.com/hostpersist/hpr/runtime/detect"
)

// liveLabels mark the run's containers as this process's, so that an hpr gc
// run by another test leaves them alone (cmd/hpr's io.hpr.pid and
// io.hpr.host).
func liveLabels() map[string]string {
	host, _ := os.Hostname()
	return map[string]string{runtime.LabelPID: strconv.Itoa(os.Getpid()), runtime.LabelHost: host}
}

func open(t testing.TB, e testenv.Engine) *detect.Engine {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	eng, err := detect.Open(ctx, e.Endpoint, "")
	if err != nil {
		t.Fatalf("opening %s: %v", e.Endpoint, err)
	}
	t.Cleanup(func() { eng.Close() })
	if eng.About.Mode != e.Mode {
		t.Fatalf("%s reports mode %s, want %s", e.Endpoint, eng.About.Mode, e.Mode)
	}
	return eng
}

// TestRun: the suite passes on every engine of the harness under hpr's own
// plan, and leaves nothing in its directory.
func TestRun(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		e := open(t, te)
		dir := t.TempDir()
		rep, err := conformance.Run(context.Background(), resolver(t, e), conformance.Options{Binary: testenv.Bin(t), Dir: dir, Labels: liveLabels()})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Checks {
			if !c.Pass {
				t.Errorf("%s: %s", c.ID, c.Detail)
			}
		}
		if !rep.Pass || len(rep.Checks) != len(conformance.Checks) {
			t.Errorf("pass %v with %d checks", rep.Pass, len(rep.Checks))
		}
		t.Logf("%s: %.2fs", te.Mode, rep.Seconds)
		assertEmpty(t, dir)
	})
}

// TestNaivePlanFails holds the seed's plan — --user UID:GID and the engine's
// own user namespace — to the suite where it is wrong, and expects the
// ownership checks to fail and name the subordinate uid the files got.
func TestNaivePlanFails(t *testing.T) {
	testenv.NonRoot(t)
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := host.UID, host.GID
	naive := func(p idmap.Plan) idmap.Plan {
		p.User, p.UID, p.GID, p.Userns = fmt.Sprintf("%d:%d", uid, gid), uid, gid, ""
		return p
	}
	tested := 0
	for _, te := range testenv.Engines(t) {
		var mapping idmap.Mapping
		switch te.Mode {
		case idmap.DockerRootless:
			mapping = idmap.RootlessMapping(host.UID, host.SubUIDs)
		case idmap.DockerUsernsRemap:
			remap, _, err := conformance.RemapRanges("/etc/subuid", "/etc/subgid", "dockremap")
			if err != nil {
				t.Fatal(err)
			}
			mapping = idmap.RemapMapping(remap)
		default:
			continue
		}
		tested++
		t.Run(string(te.Mode), func(t *testing.T) {
			t.Parallel()
			owner, ok := mapping.ToHost(uid)
			if !ok {
				t.Fatalf("container uid %d is not mapped under %s", uid, te.Mode)
			}
			e := open(t, te)
			dir := t.TempDir()
			rep, err := conformance.Run(context.Background(), resolver(t, e), conformance.Options{Binary: testenv.Bin(t), Dir: dir, PlanHook: naive, Labels: liveLabels()})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Pass || rep.Plan == nil || rep.Plan.User != fmt.Sprintf("%d:%d", uid, gid) || rep.Plan.Userns != "" {
				t.Fatalf("pass %v under plan %+v; want a failing run of the naive plan", rep.Pass, rep.Plan)
			}
			names := fmt.Sprintf("owned by %d = container uid %d", owner, uid)
			byID := map[string]conformance.Check{}
			for _, c := range rep.Checks {
				byID[c.ID] = c
				t.Logf("%-15s %-5v %s", c.ID, c.Pass, c.Detail)
			}
			// A chmod-777 directory lets the write through: the file shows
			// the subordinate owner. Elsewhere the write is refused, and the
			// refusal is explained by the same owner.
			for _, id := range []string{conformance.CheckWorldWritable, conformance.CheckCreate, conformance.CheckNested,
				conformance.CheckChild, conformance.CheckImageUser, conformance.CheckWalk} {
				c := byID[id]
				if c.Pass || !strings.Contains(c.Detail, names) {
					t.Errorf("%s: pass %v, detail %q; want a failure saying %q", id, c.Pass, c.Detail, names)
				}
			}
			if c := byID[conformance.CheckNoLeftovers]; !c.Pass {
				t.Errorf("%s: %s", c.ID, c.Detail)
			}
			// What the subordinate uid wrote was removed by a container.
			assertEmpty(t, dir)
		})
	}
	if tested == 0 {
		t.Skip("neither docker-rootless nor docker-userns-remap is in HPR_TEST_ENGINES")
	}
}

// BenchmarkRun measures one warm run of the suite per engine.
func BenchmarkRun(b *testing.B) {
	for _, te := range testenv.Engines(b) {
		b.Run(string(te.Mode), func(b *testing.B) {
			e := open(b, te)
			opts := conformance.Options{Binary: testenv.Bin(b), Dir: b.TempDir(), Labels: liveLabels()}
			if _, err := conformance.Run(context.Background(), resolver(b, e), opts); err != nil { // warm up: images, caches
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				rep, err := conformance.Run(context.Background(), resolver(b, e), opts)
				if err != nil || !rep.Pass {
					b.Fatalf("pass %v, err %v", rep.Pass, err)
				}
			}
		})
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range left {
		t.Errorf("the run left %s/%s", dir, e.Name())
	}
}

// resolver resolves projects on e for the user running the test, as the
// CLI does.
func resolver(t testing.TB, e *detect.Engine) *project.Resolver {
	t.Helper()
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	return &project.Resolver{Engine: e, Info: e.About, Host: host, Cache: cache.Open()}
}
