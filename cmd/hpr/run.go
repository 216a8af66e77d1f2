package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/project"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type runOptions struct {
	engine  string
	image   string
	build   bool
	noBuild bool
	env     []string
	publish []string
}

func newRunCmd(s *streams) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [--engine E] [--image IMG] [--build|--no-build] [-e K=V]... [-p H:C]... [--] [CMD...]",
		Short: "Run the project's container with the project mounted and files owned by you",
		Long: `Run the project's container on the engine hpr detects (or --engine), with
the project directory mounted at [run].mount (default /app) and the user
mapped so that every file the container writes there is owned by you.

The project is the nearest hpr.toml in this directory or above. Without one,
--image runs IMG ad hoc with the current directory as the project. The
container's working directory is the mount point plus where you are below
the project root. CMD after -- replaces [run].command.

A project that builds its image ([image] build) is built first when its
build inputs changed (Dockerfile, args, .dockerignore, the files COPY and ADD
use), with UID and GID build args set to the container-side ids that land
on the host as you. The container is removed when the run ends, and signals
(Ctrl-C, SIGTERM, SIGHUP) are passed on to it.

Exit status: the command's own; 125 if hpr or the engine failed; 126 if the
command cannot be run; 127 if it is not found; 130/143 after SIGINT/SIGTERM.`,
		Example: `  hpr run                                   # the project's command
  hpr run -- bundle exec jekyll build       # another command
  hpr run --image debian:bookworm-slim -- sh -c 'touch made-by-container'
  hpr run -p 8080:80 -e DEBUG=1
  hpr run --engine podman                   # pick an engine kind, or an endpoint URI`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.build && o.noBuild {
				return withCode(exitFailure, errors.New("--build and --no-build are exclusive: keep one"))
			}
			return runRun(cmd.Context(), s, o, args)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVar(&o.engine, "engine", "", "engine kind (docker, podman) or endpoint URI; default: detect")
	f.StringVar(&o.image, "image", "", "image to run (ad hoc without hpr.toml, or instead of its [image])")
	f.BoolVar(&o.build, "build", false, "build the image even if its inputs are unchanged")
	f.BoolVar(&o.noBuild, "no-build", false, "never build; fail if the image for the current inputs is missing")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass yours); repeatable")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a port (PORT, HOST:CONTAINER, IP:HOST:CONTAINER[/udp]); repeatable")
	return cmd
}

func runRun(ctx context.Context, s *streams, o runOptions, args []string) error {
	sess, err := openSession(ctx, sessionOptions{engine: o.engine, image: o.image})
	if err != nil {
		return err
	}
	defer sess.Close()
	// What an earlier hpr run of this project left (its hpr was killed) is
	// removed while this run is prepared (the image checked, built, planned)
	// or, when it publishes no ports, while it runs; a failure here must not
	// stop today's run.
	swept := make(chan error, 1)
	go func() {
		_, err := removeStale(ctx, sess.engine, map[string]string{runtime.LabelProject: sess.proj.RealRoot}, true)
		swept <- err
	}()
	sweepDone := func() {
		if err := <-swept; err != nil {
			fmt.Fprintf(s.err, "hpr: warning: cleaning up earlier runs: %v\n", err)
		}
	}
	stdin, isFile := s.in.(*os.File)
	stdout, _ := s.out.(*os.File)
	tty := isFile && stdout != nil && term.IsTerminal(int(stdin.Fd())) && term.IsTerminal(int(stdout.Fd()))
	openStdin := tty || stdinHasData(s.in)
	// Without stdin to pass on, the image may be planned from what hpr
	// remembers of its name and checked while the engine prepares the
	// container (see runtime.RunOptions.Verify).
	spec, verify, err := sess.containerSpec(ctx, s, buildPolicy(o.build, o.noBuild), o.env, o.publish, !openStdin)
	if err != nil {
		sweepDone()
		return err
	}
	if len(spec.Ports) > 0 {
		// A container left behind may hold the ports this run publishes.
		sweepDone()
		runtime.Trace("stale containers removed")
	} else {
		// Nothing the new container needs is held by one left behind (names
		// are random): the sweep goes on while it runs.
		defer sweepDone()
	}
	if len(args) > 0 {
		spec.Cmd = args
	}
	spec.TTY, spec.OpenStdin = tty, openStdin

	streams := runtime.Streams{Stdout: s.out, Stderr: s.err}
	if spec.OpenStdin {
		streams.Stdin = s.in
	}
	opts := runtime.RunOptions{Spec: spec, Streams: streams}

	// Pass signals on to the container instead of dying of them; runtime.Run
	// escalates to SIGKILL if the command ignores them.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	opts.Signals = sigs

	if spec.TTY {
		restore, resize, err := rawTerminal(stdin)
		if err != nil {
			return withCode(exitFailure, err)
		}
		defer restore()
		opts.Resize = resize
	}
	// The run ends when the container does: the signals above, not the
	// command's context, stop it.
	opts.Verify = verify
	code, err := runtime.Run(context.WithoutCancel(ctx), sess.engine, opts)
	if errors.Is(err, runtime.ErrStale) {
		// The name names another image now: nothing ran. Plan again from the
		// engine's answer.
		runtime.Trace("stale image name")
		fresh, _, serr := sess.containerSpec(ctx, s, buildPolicy(o.build, o.noBuild), o.env, o.publish, false)
		if serr != nil {
			return serr
		}
		fresh.Cmd, fresh.TTY, fresh.OpenStdin = spec.Cmd, spec.TTY, spec.OpenStdin
		opts.Spec, opts.Verify = fresh, nil
		code, err = runtime.Run(context.WithoutCancel(ctx), sess.engine, opts)
	}
	if err != nil {
		return withCode(exitFailure, portInUse(err, spec.Ports))
	}
	return withCode(code, nil)
}

func buildPolicy(build, noBuild bool) project.BuildPolicy {
	switch {
	case build:
		return project.BuildAlways
	case noBuild:
		return project.BuildNever
	}
	return project.BuildIfChanged
}

// containerSpec resolves everything a container of this project needs: the
// image (building it if needed), the plan, working directory, env, ports and
// volumes. run, and anything else that starts the project's container, use it.
//
// With guess, the plan may be made from what hpr remembers of the image
// (see remembered), and verify then checks it against the engine, for
// runtime.RunOptions.Verify; otherwise verify is nil.
func (sess *session) containerSpec(ctx context.Context, s *streams, policy project.BuildPolicy, env, publish []string, guess bool) (_ runtime.ContainerSpec, verify func(context.Context) error, _ error) {
	p := sess.proj
	e := sess.engine
	fail := func(err error) (runtime.ContainerSpec, func(context.Context) error, error) {
		return runtime.ContainerSpec{}, nil, withCode(exitFailure, err)
	}
	planned, verify, err := sess.planImage(ctx, s, policy, guess)
	if err != nil {
		return fail(err)
	}
	ref := planned.Image.Ref
	for _, w := range append(sess.warnings, planned.Plan.Warnings...) {
		fmt.Fprintf(s.err, "hpr: warning: %s\n", w)
	}
	workdir, err := p.WorkDir(sess.cwd)
	if err != nil {
		return fail(err)
	}
	cliEnv, err := envFlags(env)
	if err != nil {
		return fail(err)
	}
	ports := append([]runtime.Port(nil), p.Run.Ports...)
	for _, v := range publish {
		port, err := project.ParsePort(v)
		if err != nil {
			return fail(fmt.Errorf("-p %s: %w", v, err))
		}
		ports = append(ports, port)
	}
	labels := sess.labels()
	volumes := append([]runtime.VolumeMount(nil), p.Run.Volumes...)
	for i, v := range volumes {
		created, err := e.EnsureVolume(ctx, runtime.VolumeSpec{Name: v.Name, Labels: map[string]string{runtime.LabelProject: p.RealRoot, runtime.LabelVersion: version}})
		if err != nil {
			return fail(fmt.Errorf("creating volume %s: %w", v.Name, err))
		}
		// A new volume is root's: its root is handed to the mapped user once.
		volumes[i].Init = created
	}
	labels[labelUser] = planned.Plan.User
	return runtime.ContainerSpec{
		Name:       "hpr-" + p.Name + "-" + randomSuffix(),
		Image:      ref,
		ImageID:    planned.Image.ID,
		Entrypoint: p.Run.Entrypoint,
		Cmd:        p.Run.Command,
		Env:        append(append([]string(nil), p.Run.Env...), cliEnv...),
		WorkingDir: workdir,
		Mounts:     []runtime.Mount{{Source: p.Root, Target: p.Run.Mount}},
		Volumes:    volumes,
		Ports:      ports,
		Labels:     labels,
		Plan:       planned.Plan,
		Identity:   planned.Identity,
		CapDrop:    p.Run.CapDrop,
		CapAdd:     p.Run.CapAdd,
	}, verify, nil
}

// planImage returns the image to run, planned; with guess and an image hpr
// remembers, planned from that, with the check for RunOptions.Verify.
func (sess *session) planImage(ctx context.Context, s *streams, policy project.BuildPolicy, guess bool) (runtime.Planned, func(context.Context) error, error) {
	p, e := sess.proj, sess.engine
	if guess {
		if img, check, ok := sess.remembered(policy); ok {
			runtime.Trace("image")
			// A plan that fails for the remembered image is made again
			// below from the engine's answer.
			if planned, err := runtime.PlanImage(ctx, e, e.About, sess.host, img, p.Run.User); err == nil {
				return planned, check, nil
			}
		}
	}
	img, err := p.EnsureImage(ctx, e, e.About, sess.host, policy, s.err)
	if err != nil {
		return runtime.Planned{}, nil, err
	}
	runtime.Trace("image")
	if img.ID != "" { // known already: a build found by its tag
		planned, err := runtime.PlanImage(ctx, e, e.About, sess.host, img, p.Run.User)
		return planned, nil, err
	}
	planned, err := runtime.PlanFor(ctx, e, e.About, sess.host, img.Ref, p.Run.User)
	return planned, nil, err
}

// remembered is the image hpr remembers for the project on this engine,
// with the engine calls that check it is still the one to run: for a build,
// the image built last time for the current local inputs (its base images
// and existence are checked); for a name, the image it named at the last
// inspect (the name is inspected). No engine call is made here.
func (sess *session) remembered(policy project.BuildPolicy) (runtime.Image, func(context.Context) error, bool) {
	p, e := sess.proj, sess.engine
	if p.Image.Building() {
		if policy == project.BuildAlways {
			return runtime.Image{}, nil, false
		}
		return p.RememberedImage(e, e.About, sess.host)
	}
	last, ok := runtime.LastImage(e.About.Endpoint, p.Image.Ref)
	if !ok {
		return runtime.Image{}, nil, false
	}
	return last, func(ctx context.Context) error { return runtime.CheckImage(ctx, e, e.About.Endpoint, last) }, true
}

// labelUser records the container user hpr chose, so exec and shell enter as
// the same user.
const labelUser = "io.hpr.user"

// envFlags turns -e values into KEY=VALUE, taking KEY alone from hpr's own
// environment like docker run does.
func envFlags(vals []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		k, _, hasValue := strings.Cut(v, "=")
		if k == "" {
			return nil, fmt.Errorf("-e %q: want KEY=VALUE or KEY", v)
		}
		if !hasValue {
			val, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			v = k + "=" + val
		}
		out = append(out, v)
	}
	return out, nil
}

func randomSuffix() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// stdinHasData reports whether stdin is something to pass on (a pipe or a
// file), not a terminal-less /dev/null or a closed descriptor.
func stdinHasData(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return r != nil
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	m := fi.Mode()
	return m&os.ModeNamedPipe != 0 || m.IsRegular() || m&os.ModeSocket != 0
}

// rawTerminal puts the terminal in raw mode and reports its size now and on
// every SIGWINCH.
func rawTerminal(f *os.File) (restore func(), sizes <-chan runtime.TermSize, err error) {
	fd := int(f.Fd())
	state, err := term.MakeRaw(fd)
	if err != nil {
		return nil, nil, fmt.Errorf("setting the terminal to raw mode: %w", err)
	}
	ch := make(chan runtime.TermSize, 1)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	send := func() {
		if w, h, err := term.GetSize(fd); err == nil {
			select {
			case ch <- runtime.TermSize{Height: uint(h), Width: uint(w)}:
			default:
			}
		}
	}
	send()
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-winch:
				send()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(winch)
		close(done)
		_ = term.Restore(fd, state)
	}, ch, nil
}
