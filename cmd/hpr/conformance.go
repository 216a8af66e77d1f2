package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/hostpersist/hpr/conformance"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime/detect"
	"github.com/spf13/cobra"
)

// Exit codes of hpr conformance (DESIGN, CLI contract).
const (
	exitCheckFailed = 1 // an engine failed a check, or could not be tested
	exitNotTested   = 2 // no engine could be tested
)

type conformanceOptions struct {
	engines []string
	image   string
	json    bool
	junit   string
	compose composeFlags
}

func newConformanceCmd(s *streams) *cobra.Command {
	var o conformanceOptions
	cmd := &cobra.Command{
		Use:   "conformance [--engine E]... [--image IMG] [--json] [--junit FILE]",
		Short: "Prove, engine by engine, that files written in the project are owned by you",
		Long: `Prove on this machine, for every engine, that what a container writes in
the project mount lands on the host as you: hpr runs a probe — its own
static binary — inside a container under the plan 'hpr run' would use, has
it create, append, delete, rename, link, chmod and touch files in a test
directory, and judges each result from the host with stat. It also checks
the container user's identity (passwd name, HOME, groups), /tmp, the working
directory, a named volume, an image whose USER is another uid, and that no
container is left behind.

Inside a project (an hpr.toml here or above), the plan is the project's:
its image ([image] ref, or the image 'hpr build' made) and its [run] user
and mount. Outside one, the default plan runs in the probe image, which hpr
imports from its own binary (hpr-probe:<hash>) without a registry.
--image checks another image instead; the probe binary is mounted into it.

Engines are every engine that answers for you, as 'hpr engines' lists
them; --engine (repeatable) picks endpoints, kinds, contexts or
connections. On an ssh:// engine the test directory is made on the
engine's host, the files are judged there (stat, as its user sees them)
and it is removed there, over the same ssh connection.

Exit status: 0 when every check passed on every engine, 1 when a check
failed or an engine could not be tested, 2 when no engine could be tested.`,
		Example: `  hpr conformance
  hpr conformance --engine podman
  hpr conformance --engine docker --engine unix:///run/hpr-docker-remap/docker.sock
  hpr conformance --image debian:bookworm-slim
  hpr conformance --json | jq '.engines[] | {mode, pass}'
  hpr conformance --junit conformance.xml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runConformance(cmd, s, o)
		},
	}
	f := cmd.Flags()
	f.StringArrayVar(&o.engines, "engine", nil, "an endpoint URI, a kind (docker, podman), a Docker context or a Podman connection to test; repeatable")
	f.StringVar(&o.image, "image", "", "check this image instead of the project's or the probe image")
	f.BoolVar(&o.json, "json", false, "print one JSON object")
	f.StringVar(&o.junit, "junit", "", "also write JUnit XML to `FILE`")
	o.compose.add(f)
	return cmd
}

func runConformance(cmd *cobra.Command, s *streams, o conformanceOptions) error {
	ctx := cmd.Context()
	exe, err := os.Executable()
	if err == nil {
		// Refuse before asking any engine: a dynamic hpr cannot be the probe.
		err = conformance.CheckStatic(exe)
	}
	if err != nil {
		return withCode(exitNotTested, err)
	}
	t, err := newConformanceTarget(o.image, o.compose)
	if err != nil {
		return withCode(exitNotTested, err)
	}
	t.opts.Binary = exe
	t.opts.Labels = processLabels()

	found, fails, err := detect.All(ctx, detect.Options{}, o.engines)
	if err != nil {
		return withCode(exitNotTested, err)
	}
	defer func() {
		for _, e := range found {
			e.Close()
		}
	}()
	reports := make([]conformance.EngineReport, len(found))
	var wg sync.WaitGroup
	for i, e := range found {
		wg.Go(func() { reports[i] = t.run(ctx, e) })
	}
	wg.Wait()
	for _, f := range fails {
		// An endpoint named with --engine that does not answer is an engine
		// that could not be tested; standard sockets that do not answer are
		// engines this machine does not have.
		if namedWithFlag(f.Source) {
			reports = append(reports, conformance.EngineReport{Endpoint: f.URI, Error: f.Err.Error(), Checks: []conformance.Check{}})
		}
	}
	sort.SliceStable(reports, func(i, j int) bool { return modeOrder(reports[i].Mode) < modeOrder(reports[j].Mode) })
	rep := conformance.NewReport(reports)

	if o.json {
		if err := rep.WriteJSON(s.out); err != nil {
			return err
		}
	} else {
		if t.about != "" {
			fmt.Fprintln(s.out, t.about)
			fmt.Fprintln(s.out)
		}
		if err := rep.WriteTable(s.out); err != nil {
			return err
		}
	}
	if o.junit != "" {
		if err := writeJUnit(o.junit, rep); err != nil {
			return err
		}
	}
	switch {
	case ctx.Err() != nil:
		return withCode(exitInterrupted, errors.New("interrupted: the report above is incomplete"))
	case len(found) == 0 && len(reports) == 0:
		return withCode(exitNotTested, detect.NothingAnswered(fails))
	case rep.Tested() == 0:
		return withCode(exitNotTested, errors.New("no engine could be tested (see the report for why)"))
	case !rep.Pass:
		return withCode(exitCheckFailed, nil)
	}
	return nil
}

// namedWithFlag reports whether an engine's source (detect.Candidate.Source)
// is --engine: a URI ("--engine"), or a context or connection named with
// it ("context NAME (--engine)").
func namedWithFlag(source string) bool {
	return source == "--engine" || strings.HasSuffix(source, " (--engine)")
}

func writeJUnit(path string, rep conformance.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing JUnit report: %w", err)
	}
	if err := rep.WriteJUnit(f); err != nil {
		f.Close()
		return fmt.Errorf("writing JUnit report %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing JUnit report %s: %w", path, err)
	}
	return nil
}

// conformanceTarget is what hpr conformance checks: inside a project the
// spec `hpr run` would create, outside one the default plan with the
// probe image (or --image).
type conformanceTarget struct {
	opts conformance.Options
	host idmap.Host
	// about describes the target for the table; empty for the default.
	about string
}

// newConformanceTarget finds the target from the working directory, with
// --image and the compose flags (--service, --allow) as hpr run reads them.
func newConformanceTarget(image string, c composeFlags) (conformanceTarget, error) {
	t := conformanceTarget{opts: conformance.Options{Image: image}}
	host, err := idmap.CurrentHost()
	if err != nil {
		return t, fmt.Errorf("reading who you are: %w", err)
	}
	t.host = host
	cwd, err := os.Getwd()
	if err != nil {
		return t, fmt.Errorf("finding the project: %w", err)
	}
	p, err := c.open(cwd, project.OpenOptions{Image: image})
	if err != nil {
		return t, err
	}
	if p.Path == "" {
		if image != "" {
			t.about = "checking image " + image + " with the default plan (no hpr.toml here)"
		}
		return t, nil
	}
	t.opts.Project = p
	what := "the probe image"
	switch {
	case p.Image.Building():
		what = "the image hpr build makes"
	case p.Image.Ref != "":
		what = "image " + p.Image.Ref
	}
	t.about = fmt.Sprintf("checking project %s (%s): %s, [run] user = %q, mounted at %s", p.Name, p.Path, what, cmp.Or(p.Run.User, idmap.OverrideAuto), p.Run.Mount)
	return t, nil
}

// run runs the suite on one engine, through the resolver hpr run uses; a
// built project's image is looked up per engine, never built.
func (t conformanceTarget) run(ctx context.Context, e *detect.Engine) conformance.EngineReport {
	opts := t.opts
	if h, ok := engineHost(e); ok {
		opts.Remote = h
	}
	// A run's error is in its report (Error), which the output shows.
	rep, _ := conformance.Run(ctx, newResolver(e, t.host), opts)
	return rep
}
