package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// RunOptions is one container run: what to create, how to connect it, and
// the signals and terminal sizes to pass on while it runs.
type RunOptions struct {
	Spec    ContainerSpec
	Streams Streams
	// Signals, when not nil, delivers signals to forward to the container's
	// main process. A second signal, or the container not ending within
	// StopGrace of the first, kills it.
	Signals <-chan os.Signal
	// StopGrace is how long a forwarded signal may take to end the container
	// before it is killed; 0 means 10 s.
	StopGrace time.Duration
	// Resize, when not nil, delivers terminal sizes (TTY runs).
	Resize <-chan TermSize
	// Verify, when not nil, checks what the spec assumed (that an image
	// name still names the image the spec was planned for). Run calls it
	// once the container is created, while the engine prepares the
	// container (Podman does that in the attach; its service would
	// serialise a check made during the create), and waits for it before
	// anything starts. An error removes the container and Run returns an
	// error wrapping ErrStale; so does a failed create or attach when
	// Verify fails. Leave it nil when Streams.Stdin is set: an attach may
	// already have read from stdin.
	Verify func(context.Context) error
	// Gate, when not nil, checks the spec's host paths again right before
	// the create and returns the spec to create (its bind sources as they
	// resolve now): the companions started before may have changed them.
	// An error creates nothing and Run returns it as it is.
	Gate Gate
}

// Gate checks a spec's host paths right before its container is created
// and returns the spec to create. The runtime knows nothing of what it
// checks: the project's resolver hands it over (project.Resolved.Gate).
type Gate func(ContainerSpec) (ContainerSpec, error)

// gated is spec through gate g, if any.
func gated(g Gate, spec ContainerSpec) (ContainerSpec, error) {
	if g == nil {
		return spec, nil
	}
	return g(spec)
}

// RemoveTimeout bounds the cleanup after a run, which runs even when the
// caller's context has ended.
const RemoveTimeout = 15 * time.Second

// Run creates, attaches, starts and waits for one container, forwarding
// signals and terminal sizes, and removes it. It returns the container's
// exit code: the command's own, 127/126 when the command cannot be found or
// run, 128+n when it was ended by signal n after hpr passed one on. An error
// means hpr or the engine failed (exit 125).
//
// The exit status is read as soon as the output streams end (Exited), and
// otherwise when Wait returns. A container the engine removes by itself
// (ExitState.SelfRemoving: Podman) is then left to the engine: Run returns
// without waiting for the engine's cleanup, and the engine's next container
// of any run waits for that cleanup inside the engine. A container that
// published ports is removed by Run as before, so the ports are free when
// it returns (rootless Podman's rootlessport holds them until the cleanup).
func Run(ctx context.Context, e Engine, opts RunOptions) (int, error) {
	spec, err := gated(opts.Gate, opts.Spec)
	if err != nil {
		return 0, err
	}
	Trace(ctx, "host paths checked")
	spec, err = withIdentity(spec)
	if err != nil {
		return 0, fmt.Errorf("creating container: %w", err)
	}
	c, err := create(ctx, e, spec, opts.Verify)
	if err != nil {
		return 0, err
	}
	end, err := runCreated(ctx, e, c, opts)
	if end.leaveToEngine {
		Trace(ctx, "removal left to the engine")
		return end.code, err
	}
	// Clean up with a context of our own: the caller's may be what ended.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RemoveTimeout)
	defer cancel()
	// Podman's containers outlive a restart of their service: removed once
	// it is back, they do not run on unattended.
	rerr := OnceBack(rctx, func(ctx context.Context) error { return e.Remove(ctx, c.id) })
	if rerr != nil && !errors.Is(rerr, ErrNotFound) && err == nil {
		err = fmt.Errorf("removing container %s: %w", ShortID(c.id), rerr)
	}
	Trace(ctx, "remove")
	return end.code, err
}

// OnceBack calls f, and again while it fails because the engine does not
// answer, until ctx ends; it returns f's last error. A daemon that restarts
// (an upgrade, a service restart) is back within seconds: cleaning up after
// a run it cut short is worth that wait, bounded by ctx.
func OnceBack(ctx context.Context, f func(context.Context) error) error {
	for {
		err := f(ctx)
		if !errors.Is(err, ErrUnreachable) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// created is a container Create made, with the check of what its spec
// assumed (RunOptions.Verify) still running.
type created struct {
	id string
	// verified delivers Verify's answer; nil when there is nothing to check.
	verified <-chan error
}

// create creates the container and starts the verification beside it.
func create(ctx context.Context, e Engine, spec ContainerSpec, verify func(context.Context) error) (created, error) {
	id, err := e.Create(ctx, spec)
	c := created{id: id}
	if verify != nil {
		ch := make(chan error, 1)
		go func() { ch <- verify(ctx) }()
		c.verified = ch
	}
	if err != nil {
		// A create that failed because the assumption did not hold (the
		// image is gone) is a stale spec, not an engine failure.
		if serr := c.stale(); serr != nil {
			return created{}, serr
		}
		return created{}, fmt.Errorf("creating container: %w", err)
	}
	Trace(ctx, "create")
	return c, nil
}

// stale waits for the verification and returns its failure as an error
// wrapping ErrStale; nil when it passed or there was none.
func (c created) stale() error {
	if c.verified == nil {
		return nil
	}
	err := <-c.verified
	if err != nil && !errors.Is(err, ErrStale) {
		err = fmt.Errorf("%w: %w", ErrStale, err)
	}
	return err
}

// ending is how a run ended: the exit code, and whether the engine removes
// the container by itself so that Run need not.
type ending struct {
	code          int
	leaveToEngine bool
}

// runCreated attaches to and starts a created container, and waits for its
// end while passing terminal sizes on to it.
func runCreated(ctx context.Context, e Engine, c created, opts RunOptions) (ending, error) {
	output, err := start(ctx, e, c, opts)
	var nr *notRunnable
	if errors.As(err, &nr) {
		fmt.Fprintf(errWriter(opts.Streams), "hpr: %v\n", nr.err)
		return ending{code: nr.code}, nil
	}
	if err != nil {
		return ending{}, err
	}
	stopSizes := passSizes(ctx, opts.Resize, func(ctx context.Context, s TermSize) error {
		return e.Resize(ctx, c.id, s.Height, s.Width)
	})
	defer stopSizes()
	w := newWaiter(ctx, e, c.id, opts, output)
	defer w.stop()
	return w.wait()
}

// notRunnable is a Start that failed because of the command: exit code 127
// (not found) or 126 (cannot be run), like docker run.
type notRunnable struct {
	code int
	err  error
}

func (n *notRunnable) Error() string { return n.err.Error() }

// start attaches the streams, waits for the verification, and starts the
// container. It returns the channel that is closed when the output ends.
func start(ctx context.Context, e Engine, c created, opts RunOptions) (<-chan error, error) {
	streams := opts.Streams
	streams.TTY = opts.Spec.TTY
	output, err := e.Attach(ctx, c.id, streams)
	Trace(ctx, "attach")
	if c.verified != nil {
		serr := c.stale()
		Trace(ctx, "image name checked")
		if serr != nil {
			return nil, serr
		}
	}
	if err != nil {
		return nil, fmt.Errorf("attaching to container: %w", err)
	}
	if err := e.Start(ctx, c.id); err != nil {
		switch {
		case errors.Is(err, ErrCommandNotFound):
			return nil, &notRunnable{code: 127, err: err}
		case errors.Is(err, ErrCommandNotExecutable):
			return nil, &notRunnable{code: 126, err: err}
		}
		return nil, fmt.Errorf("starting container: %w", err)
	}
	Trace(ctx, "start")
	return output, nil
}

// recheckAfter spaces the Exited calls after the output ends: the first at
// once, then a few more over a few tens of milliseconds (the engine may
// note the exit a little after the output ends). Wait answers after that.
var recheckAfter = [...]time.Duration{0, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}

// waiter waits for a started container's end: the output's end and then
// Exited, or Wait, whichever answers first, while passing on signals.
type waiter struct {
	ctx  context.Context
	e    Engine
	id   string
	opts RunOptions

	output  <-chan error // nil once the output has ended
	waited  chan waitResult
	stop    context.CancelFunc
	recheck <-chan time.Time
	asked   int // Exited calls so far

	signals *escalation
}

type waitResult struct {
	code int
	err  error
}

// newWaiter starts Wait in the background; the waiter's stop ends it.
func newWaiter(ctx context.Context, e Engine, id string, opts RunOptions, output <-chan error) *waiter {
	wctx, stop := context.WithCancel(ctx)
	w := &waiter{ctx: ctx, e: e, id: id, opts: opts, output: output, waited: make(chan waitResult, 1), stop: stop}
	w.signals = newEscalation(opts.StopGrace, w.signal)
	go func() {
		c, err := e.Wait(wctx, id)
		w.waited <- waitResult{c, err}
	}()
	return w
}

// wait returns once the container's exit status is known.
func (w *waiter) wait() (ending, error) {
	for {
		select {
		case <-w.output:
			// The command has most likely exited: ask without waiting.
			w.output, w.recheck = nil, time.After(0)
		case <-w.recheck:
			if end, ok := w.askExited(); ok {
				return end, nil
			}
		case r := <-w.waited:
			return w.waitAnswered(r)
		case sig := <-w.opts.Signals:
			if err := w.signals.signal(sig); err != nil {
				return ending{}, err
			}
		case <-w.signals.deadline:
			w.signals.expired()
		case <-w.ctx.Done():
			// The caller gave up (hpr itself was told to stop without a
			// signal channel): Run's removal kills the container.
			return ending{}, w.ctx.Err()
		}
	}
}

// askExited asks the engine whether the container has exited. An error or
// "not yet" schedules the next question, up to len(recheckAfter); a
// command that only closed its output is then left to Wait.
func (w *waiter) askExited() (ending, bool) {
	w.recheck = nil
	st, err := w.e.Exited(w.ctx, w.id)
	if err != nil {
		return ending{}, false
	}
	if !st.Exited {
		if w.asked++; w.asked < len(recheckAfter) {
			w.recheck = time.After(recheckAfter[w.asked])
		}
		return ending{}, false
	}
	Trace(w.ctx, "exited")
	// Published ports stay taken until the engine's cleanup (rootless
	// Podman's rootlessport holds them): Run removes such a container.
	leave := st.SelfRemoving && len(w.opts.Spec.Ports) == 0
	return ending{code: w.signals.exitCode(st.Code), leaveToEngine: leave}, true
}

// waitAnswered ends the run with Wait's answer, once the output has
// drained (it may lag the exit).
func (w *waiter) waitAnswered(r waitResult) (ending, error) {
	if r.err != nil {
		return ending{}, fmt.Errorf("waiting for container: %w", r.err)
	}
	Trace(w.ctx, "wait")
	if w.output != nil {
		select {
		case <-w.output:
		case <-time.After(2 * time.Second):
		}
	}
	return ending{code: w.signals.exitCode(r.code)}, nil
}

// signal sends s to the container's main process; SIGKILL even when the
// caller's context has ended.
func (w *waiter) signal(s syscall.Signal) error {
	if s == syscall.SIGKILL {
		_ = w.e.Signal(context.WithoutCancel(w.ctx), w.id, int(s))
		return nil
	}
	// A container that has just exited answers "not found" or "conflict"
	// (Podman's 409): Wait reports its end.
	if err := w.e.Signal(w.ctx, w.id, int(s)); err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) {
		return fmt.Errorf("forwarding %v to container: %w", s, err)
	}
	return nil
}

func errWriter(s Streams) io.Writer {
	if s.Stderr != nil {
		return s.Stderr
	}
	if s.Stdout != nil {
		return s.Stdout
	}
	return os.Stderr
}

// ShortID is an engine id as the engines' CLIs show it: its first 12
// characters.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
