package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime"
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
	compose composeFlags

	remoteRoot string
}

func newRunCmd(s *streams) *cobra.Command {
	var o runOptions
	cmd := &cobra.Command{
		Use:   "run [--engine E] [--image IMG] [--build|--no-build] [-e K=V]... [-p H:C]... [--] [CMD...]",
		Short: "Run the project's container with the project mounted and files owned by you",
		Long: `Run the project's container on the engine hpr detects (or --engine), with
the project directory mounted at [run].mount (default /app) and the user
mapped so that every file the container writes there is owned by you.

The project is the nearest hpr.toml in this directory or above, or else a
compose file (compose.yaml, docker-compose.yml, ...; or COMPOSE_FILE): its
service that bind-mounts the project directory, or --service NAME, runs,
after the services it depends on, which are removed when the run ends.
Without either, --image runs IMG ad hoc with the current directory as the
project. The
container's working directory is the mount point plus where you are below
the project root. CMD after -- replaces [run].command.

A project that builds its image ([image] build) is built first when its
build inputs changed (Dockerfile, args, .dockerignore, the files COPY and ADD
use), with UID and GID build args set to the container-side ids that land
on the host as you (a compose file's ${UID} and ${GID} are those ids too).
The container is removed when the run ends, and signals (Ctrl-C, SIGTERM,
SIGHUP) are passed on to it; a second one, or 10 s without an end, kills
it. A signal before hpr creates the container ends the run there. The output of the services it depends on goes
to stderr, each line prefixed with the service's name.

What a compose file would let into the machine (binds outside the project,
the engine's socket, privileged, host namespaces, devices) is refused
unless allowed with --allow or [compose] allow in hpr.toml.

A remote engine (ssh://) mounts the project from its own host: hpr copies
no files, so keep a copy there (a shared or network file system, sshfs,
mutagen, unison, rsync) and name it with --remote-root or [engine]
remote_root. Files then land as that directory's owner there.

Exit status: the command's own; 125 if hpr or the engine failed; 126 if the
command cannot be run; 127 if it is not found; 130/143/129 after
SIGINT/SIGTERM/SIGHUP ended the run.`,
		Example: `  hpr run                                   # the project's command
  hpr run -- bundle exec jekyll build       # another command
  hpr run --image debian:bookworm-slim -- sh -c 'touch made-by-container'
  hpr run -p 8080:80 -e DEBUG=1
  hpr run --engine podman                   # pick an engine kind, or an endpoint URI
  hpr run --engine ssh://me@build --remote-root /home/me/src/blog   # a remote engine`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.build && o.noBuild {
				return errors.New("--build and --no-build are exclusive: keep one")
			}
			return runRun(cmd.Context(), s, o, args)
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.StringVar(&o.engine, "engine", "", engineHelp)
	f.StringVar(&o.remoteRoot, "remote-root", "", remoteRootHelp)
	f.StringVar(&o.image, "image", "", "image to run (ad hoc without hpr.toml, or instead of its [image])")
	f.BoolVar(&o.build, "build", false, "build the image even if its inputs are unchanged")
	f.BoolVar(&o.noBuild, "no-build", false, "never build; fail if the image for the current inputs is missing")
	f.StringArrayVarP(&o.env, "env", "e", nil, "set an environment variable (KEY=VALUE, or KEY to pass yours); repeatable")
	f.StringArrayVarP(&o.publish, "publish", "p", nil, "publish a port (PORT, HOST:CONTAINER, IP:HOST:CONTAINER[/udp]); repeatable")
	o.compose.add(f)
	return cmd
}

func runRun(ctx context.Context, s *streams, o runOptions, args []string) error {
	sess, err := openSession(ctx, sessionOptions{engine: o.engine, image: o.image, require: project.RequireImage, remoteRoot: o.remoteRoot, onHost: true, compose: o.compose})
	if err != nil {
		return err
	}
	defer sess.Close()
	return runInSession(ctx, s, sess, o, args)
}

// sweep removes what an earlier hpr run of this project left (its hpr was
// killed) while this run is prepared or, when it publishes no ports and
// starts no companions, while it runs; done waits for it. A failure here
// must not stop today's run: done only warns.
func sweep(ctx context.Context, s *streams, sess *session) (done func()) {
	swept := make(chan error, 1)
	go func() {
		project := map[string]string{runtime.LabelProject: sess.proj.RealRoot}
		_, err := removeStale(ctx, sess.engine, project, true)
		if err == nil && len(sess.proj.Companions) > 0 {
			_, err = removeStaleNetworks(ctx, sess.engine, project)
		}
		swept <- err
	}()
	return func() {
		if err := <-swept; err != nil {
			fmt.Fprintf(s.err, "hpr: warning: cleaning up earlier runs: %v\n", err)
		}
	}
}

// runInSession is hpr run once the project and engine are known.
func runInSession(ctx context.Context, s *streams, sess *session, o runOptions, args []string) error {
	sweepDone := sweep(ctx, s, sess)
	req, err := runRequest(sess, o, args)
	if err != nil {
		sweepDone()
		return err
	}
	sess.resolver.BuildOutput = s.err
	stdin, tty := terminal(s)
	tty = tty && !sess.proj.Run.NoTTY
	openStdin := !sess.proj.Run.NoStdin && (tty || stdinHasData(s.in))
	// Without stdin to pass on, the image may be planned from what hpr
	// remembers of it and checked while the engine prepares the container
	// (runtime.RunOptions.Verify).
	if !openStdin {
		req.Memo = project.MemoPlan
	}
	res, err := sess.resolver.Resolve(ctx, sess.proj, req)
	if err != nil {
		sweepDone()
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(s.err, "hpr: warning: %s\n", w)
	}
	if len(res.Spec.Ports) > 0 || len(res.Companions) > 0 {
		// A container left behind may hold the ports this run publishes.
		sweepDone()
		runtime.Trace(ctx, "stale containers removed")
	} else {
		// Nothing the new container needs is held by one left behind (names
		// are random): the sweep goes on while it runs.
		defer sweepDone()
	}
	comps, err := startCompanions(ctx, s, sess, res.Companions)
	if err != nil {
		return err
	}
	defer func() {
		if err := comps.Stop(ctx); err != nil {
			fmt.Fprintf(s.err, "hpr: warning: removing the services it depended on: %v\n", err)
		}
	}()
	res.Spec = comps.Join(res.Spec)
	res.Spec.TTY, res.Spec.OpenStdin = tty, openStdin
	opts := runtime.RunOptions{Spec: res.Spec, Streams: runtime.Streams{Stdout: s.out, Stderr: s.err}, Verify: res.Verify, Gate: res.Gate}
	if openStdin {
		opts.Streams.Stdin = s.in
	}
	// Pass signals on to the container instead of dying of them; runtime.Run
	// escalates to SIGKILL if the command ignores them.
	sigs, stop, early := passedOn(ctx)
	defer stop()
	if early != 0 {
		return withCode(128+int(early), nil)
	}
	opts.Signals = sigs
	if tty {
		restore, resize, err := rawTerminal(stdin)
		if err != nil {
			return err
		}
		defer restore()
		opts.Resize = resize
	}
	code, err := runStale(ctx, sess, req, opts, comps)
	if err != nil {
		return portInUse(err, opts.Spec.Ports)
	}
	return withCode(code, nil)
}

// startCompanions starts the services the project's container depends on,
// on a network of this run; nil when there are none.
func startCompanions(ctx context.Context, s *streams, sess *session, cs []runtime.Companion) (*runtime.Companions, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	labels := sess.resolver.Labels(sess.proj, processLabels())
	network := runtime.NetworkSpec{Name: "hpr-" + sess.proj.Name + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36), Labels: labels}
	return runtime.StartCompanions(ctx, sess.engine, runtime.CompanionOptions{Network: network, Companions: cs, Output: s.err})
}

// runStale runs the container; when it was planned from what hpr
// remembered and that turned out stale (nothing ran), it resolves the
// project again from the engine's answers and runs that. The run ends when
// the container does: the signals, not the command's context, stop it.
func runStale(ctx context.Context, sess *session, req project.Request, opts runtime.RunOptions, comps *runtime.Companions) (int, error) {
	code, err := runtime.Run(context.WithoutCancel(ctx), sess.engine, opts)
	if !errors.Is(err, runtime.ErrStale) {
		return code, err
	}
	runtime.Trace(ctx, "stale image name")
	req.Memo = project.MemoRecord
	req.Companions = false // they run already: comps.Join joins the new spec to them
	res, err := sess.resolver.Resolve(ctx, sess.proj, req)
	if err != nil {
		return 0, err
	}
	res.Spec.TTY, res.Spec.OpenStdin = opts.Spec.TTY, opts.Spec.OpenStdin
	opts.Spec, opts.Verify, opts.Gate = comps.Join(res.Spec), nil, res.Gate
	return runtime.Run(context.WithoutCancel(ctx), sess.engine, opts)
}

// runRequest is what hpr run's flags and arguments add to the project.
func runRequest(sess *session, o runOptions, args []string) (project.Request, error) {
	req := project.Request{Policy: buildPolicy(o.build, o.noBuild), Memo: project.MemoRecord, Cwd: sess.cwd, Labels: processLabels(), Companions: true}
	if len(args) > 0 {
		req.Cmd = args
	}
	env, err := envFlags(o.env)
	if err != nil {
		return req, err
	}
	req.Env = env
	for _, v := range o.publish {
		port, err := project.ParsePort(v)
		if err != nil {
			return req, fmt.Errorf("-p %s: %w", v, err)
		}
		req.Ports = append(req.Ports, port)
	}
	return req, nil
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

// terminal returns stdin as a file, and whether stdin and stdout are both
// terminals (a TTY run).
func terminal(s *streams) (*os.File, bool) {
	stdin, isFile := s.in.(*os.File)
	stdout, _ := s.out.(*os.File)
	return stdin, isFile && stdout != nil && term.IsTerminal(int(stdin.Fd())) && term.IsTerminal(int(stdout.Fd()))
}

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
			latest(ch, runtime.TermSize{Height: uint(h), Width: uint(w)})
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

// latest puts s in ch in place of a size not yet taken: a size waits there
// until what runs has started (for hpr exec on Podman, until the service
// says the exec runs), and of the sizes the terminal had meanwhile only
// the last is right. ch has room for one, and one goroutine at a time
// sends on it, so the send never blocks.
func latest(ch chan runtime.TermSize, s runtime.TermSize) {
	select {
	case <-ch:
	default:
	}
	ch <- s
}
