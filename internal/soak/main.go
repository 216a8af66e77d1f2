// Command soak runs hpr for a long while on every harness engine and reports
// what that left behind: thousands of sequential `hpr run -- true` spread
// over the engines, then runs ended by a signal at a random phase, with each
// engine's state (containers, Buildah working containers, images, networks,
// volumes, overlay mounts in the daemon's mount namespace, the daemon's open
// files) and hpr's memo files before and after, and hpr's peak RSS per run.
// scripts/soak.sh (make soak) runs it as root, which it needs to read the
// daemons' /proc files; hpr runs as the harness's test user. It writes
// SOAK.md. Nothing here asserts: it is a report, bounded by -limit.
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hostpersist/hpr/internal/faults"
	"github.com/hostpersist/hpr/internal/testenv"
)

type config struct {
	hpr, out, version string
	engines           []testenv.Engine
	runs, signals     int
	limit             time.Duration
	seed              uint64
	user              faults.User // whom hpr runs as
}

func main() {
	var c config
	var engines, name string
	flag.StringVar(&c.hpr, "hpr", "", "the hpr binary (required)")
	flag.StringVar(&c.out, "out", "SOAK.md", "the report to write")
	flag.StringVar(&c.version, "repo-version", "", "git describe of the tree")
	flag.StringVar(&engines, "engines", os.Getenv("HPR_TEST_ENGINES"), "engines: mode=endpoint ...")
	flag.StringVar(&name, "user", os.Getenv("HPR_TEST_USER"), "the non-root user hpr runs as")
	flag.IntVar(&c.runs, "runs", 2000, "sequential `hpr run -- true`, spread over the engines")
	flag.IntVar(&c.signals, "signals", 200, "runs ended by a signal at a random phase")
	flag.DurationVar(&c.limit, "limit", 45*time.Minute, "stop starting runs after this long, and report what ran")
	flag.Uint64Var(&c.seed, "seed", uint64(time.Now().UnixNano()), "seed of the random signals and phases")
	flag.Parse()
	var err error
	if c.engines, err = testenv.Parse(engines); err != nil || len(c.engines) == 0 {
		fatal(fmt.Errorf("-engines %q: %v (none given?)", engines, err))
	}
	if c.hpr == "" || os.Geteuid() != 0 {
		fatal(fmt.Errorf("run as root with -hpr (scripts/soak.sh does): it reads the daemons' /proc files"))
	}
	if c.user, err = faults.LookupUser(name); err != nil {
		fatal(err)
	}
	r, err := soak(context.Background(), c)
	if err != nil {
		fatal(err)
	}
	if err := os.WriteFile(c.out, []byte(r.markdown()), 0o644); err != nil {
		fatal(err)
	}
	fmt.Printf("soak: wrote %s\n", c.out)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "soak:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s soak: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// soak runs the whole soak and returns the report.
func soak(ctx context.Context, c config) (*report, error) {
	r := &report{cfg: c, machine: describe(c), started: time.Now(), perEngine: map[string]*engineRuns{}}
	work, err := os.MkdirTemp("", "hpr-soak.")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	os.Chmod(work, 0o755)
	projects := map[string]string{}
	for _, e := range c.engines {
		dir := filepath.Join(work, string(e.Mode))
		if err := os.Mkdir(dir, 0o755); err != nil {
			return nil, err
		}
		os.Chown(dir, c.user.UID, c.user.GID)
		projects[string(e.Mode)] = dir
		r.perEngine[string(e.Mode)] = &engineRuns{}
		// One untimed run first: the memos a first run writes are not growth.
		if res := c.run(ctx, dir, e.Endpoint, "true"); res.code != 0 {
			return nil, fmt.Errorf("%s: the first run failed (exit %d): %s", e.Mode, res.code, res.tail)
		}
	}
	if err := r.snapshot(ctx, &r.before); err != nil {
		return nil, err
	}
	deadline := r.started.Add(c.limit)
	rng := rand.New(rand.NewPCG(c.seed, c.seed>>1))
	for i := 0; i < c.runs && time.Now().Before(deadline); i++ {
		e := c.engines[i%len(c.engines)]
		res := c.run(ctx, projects[string(e.Mode)], e.Endpoint, "true")
		r.perEngine[string(e.Mode)].add(res, res.code == 0)
		r.plain++
		if (i+1)%200 == 0 {
			logf("%d plain runs", i+1)
		}
	}
	for i := 0; i < c.signals && time.Now().Before(deadline); i++ {
		e := c.engines[i%len(c.engines)]
		s := signals[rng.IntN(len(signals))]
		at := phases[rng.IntN(len(phases))]
		res := c.signalled(ctx, projects[string(e.Mode)], e.Endpoint, s, at)
		r.addSignalled(string(e.Mode), s, at, res)
		if (i+1)%50 == 0 {
			logf("%d signalled runs", i+1)
		}
	}
	// The next hpr run of each project removes what a SIGKILLed one left.
	for _, e := range c.engines {
		res := c.run(ctx, projects[string(e.Mode)], e.Endpoint, "true")
		r.perEngine[string(e.Mode)].add(res, res.code == 0)
	}
	r.settle(ctx)
	err = r.snapshot(ctx, &r.after)
	r.elapsed = time.Since(r.started)
	return r, err
}

// snapshot reads every engine's state and the memo files into into.
func (r *report) snapshot(ctx context.Context, into *snapshot) error {
	into.states = map[string]faults.State{}
	for _, e := range r.cfg.engines {
		s, err := faults.Read(ctx, e.Mode, e.Endpoint)
		if err != nil {
			return err
		}
		// Counted once more, settled: the CLI calls Read just made.
		if s.FDs, err = faults.SettledFDs(ctx, s.Pid); err != nil {
			return err
		}
		into.states[string(e.Mode)] = s
	}
	into.memos = memoFiles(filepath.Join(r.cfg.user.Home, ".cache", "hpr"))
	return nil
}

// settle waits (at most a minute) until no engine holds more containers
// than before — Podman removes exited containers after hpr has returned —
// and (at most 30 s more) until no daemon has more open descriptors than
// before: a daemon closes a connection a little after its client ends.
// What is still there then is reported as growth.
func (r *report) settle(ctx context.Context) {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		more := false
		for _, e := range r.cfg.engines {
			s, err := faults.Read(ctx, e.Mode, e.Endpoint)
			more = more || err != nil || s.Containers > r.before.states[string(e.Mode)].Containers
		}
		if !more {
			break
		}
		time.Sleep(500 * time.Millisecond) // polling the engines' state
	}
	deadline = time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		more := false
		for _, e := range r.cfg.engines {
			before := r.before.states[string(e.Mode)]
			n, err := faults.SettledFDs(ctx, before.Pid)
			more = more || err != nil || n > before.FDs
		}
		if !more {
			return
		}
	}
}

// memoFiles counts hpr's memo files by kind (the cache's first level).
func memoFiles(root string) map[string]int {
	n := map[string]int{}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			n[strings.SplitN(rel, string(filepath.Separator), 2)[0]]++
		}
		return nil
	})
	return n
}

var signals = []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGKILL}
