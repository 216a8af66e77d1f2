// Command bench measures hpr on the harness engines against the engines' own
// CLIs, the raw API sequence, and the seed's docker-compose flow, and writes
// BENCHMARKS.md. scripts/bench.sh (make bench) prepares a workspace and runs
// it as the harness's test user; run it by hand only the same way.
//
// Every measure runs its arms interleaved: each round runs every arm once, in
// a new random order each round, after one untimed warm-up round.
// Ratios A/B are taken pair by pair (A and B of the same round), then their
// median is reported. Nothing here asserts a time: it is a report.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type config struct {
	hpr         string // the hpr binary measured
	work        string // workspace, owned by the user running bench
	out         string // BENCHMARKS.md to write
	rawOut      string // raw results (JSON)
	engines     []engineRef
	runs        int
	slowRuns    int
	anchorRuns  int
	versionRuns int
	docker      string // docker CLI
	podman      string // podman CLI
	compose     string // docker-compose
	nmFile      string // `go tool nm -size` of an unstripped build (optional)
	backendSize string // "podman=BYTES docker=BYTES": programs linking one backend only
	measures    map[string]bool
	image       string
	started     time.Time
	deadline    time.Time // soft: slow measures shrink when it is near
	repoVersion string
}

type engineRef struct {
	Mode     string
	Endpoint string
}

func main() {
	c := parseFlags()
	ctx := context.Background()
	run(ctx, c)
}

// parseFlags reads the command line into a config; a bad one ends the
// program.
func parseFlags() *config {
	var (
		c        config
		engines  string
		measures string
		budget   time.Duration
	)
	flag.StringVar(&c.hpr, "hpr", "", "hpr binary to measure (required)")
	flag.StringVar(&c.work, "work", "", "workspace directory owned by the current user (required)")
	flag.StringVar(&c.out, "out", "BENCHMARKS.md", "markdown report to write")
	flag.StringVar(&c.rawOut, "raw", "", "write every sample as JSON here")
	flag.StringVar(&engines, "engines", os.Getenv("HPR_TEST_ENGINES"), "engines: mode=endpoint ...")
	flag.IntVar(&c.runs, "runs", 15, "interleaved rounds per measure")
	flag.IntVar(&c.slowRuns, "slow-runs", 5, "rounds of the keep-id first run (each copies the blog image)")
	flag.IntVar(&c.anchorRuns, "anchor-runs", 3, "rounds of docker-compose up --build of the 100k-file project (over a minute each)")
	flag.IntVar(&c.versionRuns, "version-runs", 50, "runs of `hpr version`")
	flag.StringVar(&c.docker, "docker", "docker", "docker CLI")
	flag.StringVar(&c.podman, "podman", "podman", "podman CLI")
	flag.StringVar(&c.compose, "compose", "docker-compose", "docker-compose (v1, Debian's package)")
	flag.StringVar(&c.nmFile, "nm", "", "output of `go tool nm -size` for an unstripped hpr (package sizes)")
	flag.StringVar(&c.backendSize, "backend-sizes", "", "sizes of stripped programs linking only one backend: podman=BYTES docker=BYTES")
	flag.StringVar(&measures, "measures", "1,2,3,4,5,6,7,8", "measures to run")
	flag.StringVar(&c.image, "image", "debian:bookworm-slim", "base image present on every engine")
	flag.StringVar(&c.repoVersion, "repo-version", "", "git describe of the tree measured")
	flag.DurationVar(&budget, "time-budget", 18*time.Minute, "soft limit on the whole run: slow measures shrink near it")
	flag.Parse()
	if c.hpr == "" || c.work == "" {
		fmt.Fprintln(os.Stderr, "bench: -hpr and -work are required (run it through scripts/bench.sh)")
		os.Exit(2)
	}
	var err error
	if c.hpr, err = filepath.Abs(c.hpr); err != nil {
		fatal(err)
	}
	for _, f := range strings.Fields(engines) {
		m, ep, ok := strings.Cut(f, "=")
		if !ok {
			fatal(fmt.Errorf("engines: %q is not mode=endpoint", f))
		}
		c.engines = append(c.engines, engineRef{m, ep})
	}
	if len(c.engines) == 0 {
		fatal(fmt.Errorf("no engines: set HPR_TEST_ENGINES or -engines (sudo scripts/engines.sh up)"))
	}
	c.measures = map[string]bool{}
	for _, m := range strings.Split(measures, ",") {
		c.measures[strings.TrimSpace(m)] = true
	}
	c.started = time.Now()
	c.deadline = c.started.Add(budget)
	return &c
}

// run measures what c asks for and writes the report.
func run(ctx context.Context, c *config) {
	r := &report{cfg: c, raw: map[string][]result{}, blogBuild: map[string]time.Duration{}}
	r.machine = machineInfo(ctx, c)
	b := &bench{cfg: c, rep: r}
	if err := b.setup(ctx); err != nil {
		fatal(fmt.Errorf("setting up the workspace: %w", err))
	}
	steps := []struct {
		id  string
		run func(context.Context)
	}{
		{"1", b.measureRun},
		{"2", b.measureProjectSize},
		{"3", b.measureBlogAndCompose},
		{"4", b.measureConformance},
		{"5", b.measureStartup},
		{"6", b.measureKeepID},
		{"7", b.measureSSH},
		{"8", b.measureComposeProject},
	}
	for _, s := range steps {
		if !c.measures[s.id] {
			continue
		}
		t := time.Now()
		logf("== measure %s", s.id)
		s.run(ctx)
		logf("== measure %s done in %s", s.id, time.Since(t).Round(time.Second))
	}
	b.cleanup(ctx)
	r.elapsed = time.Since(c.started)
	r.machine.loadEnd = loadAvg()
	if err := os.WriteFile(c.out, []byte(r.markdown()), 0o644); err != nil {
		fatal(err)
	}
	if c.rawOut != "" {
		data, _ := json.MarshalIndent(r.raw, "", " ")
		_ = os.WriteFile(c.rawOut, data, 0o644)
	}
	logf("wrote %s (%s)", c.out, r.elapsed.Round(time.Second))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
