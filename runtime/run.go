package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
)

// TermSize is a terminal size in characters.
type TermSize struct {
	Height uint
	Width  uint
}

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
	// Started, when not nil, is called with the container id once it runs.
	Started func(id string)
	// Verify, when not nil, checks what the spec assumed (CheckImage): Run
	// calls it once the container is created, while the engine prepares the
	// container (Podman does that in the attach: 60-120 ms; its service
	// would serialise a check made during the create), and waits for it
	// before anything starts. An error removes the container and Run
	// returns an error wrapping ErrStale; so does a failed create or attach
	// when Verify fails. Leave it nil when Streams.Stdin is set: an attach
	// may already have read from stdin.
	Verify func(context.Context) error
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
// without waiting for the engine's cleanup (0.2–0.3 s on rootful Podman),
// and the engine's next container of any run waits for that cleanup inside
// the engine. A container that published ports is removed by Run as before,
// so the ports are free when it returns (rootless Podman's rootlessport
// holds them until the cleanup).
func Run(ctx context.Context, e Engine, opts RunOptions) (code int, err error) {
	spec, err := withIdentity(opts.Spec)
	if err != nil {
		return 0, fmt.Errorf("creating container: %w", err)
	}
	// stale waits for the verification (once) and reports its failure.
	var verified chan error
	stale := func() error {
		if verified == nil {
			return nil
		}
		verr := <-verified
		verified = nil
		if verr != nil && !errors.Is(verr, ErrStale) {
			verr = fmt.Errorf("%w: %w", ErrStale, verr)
		}
		return verr
	}
	verify := func() {
		if opts.Verify != nil {
			verified = make(chan error, 1)
			go func() { verified <- opts.Verify(ctx) }()
		}
	}
	id, err := e.Create(ctx, spec)
	if err != nil {
		verify()
		if serr := stale(); serr != nil {
			return 0, serr
		}
		return 0, fmt.Errorf("creating container: %w", err)
	}
	verify()
	Trace("create")
	leaveToEngine := false
	defer func() {
		if leaveToEngine {
			Trace("removal left to the engine")
			return
		}
		// Clean up with a context of our own: the caller's may be what ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RemoveTimeout)
		defer cancel()
		if rerr := e.Remove(rctx, id); rerr != nil && !errors.Is(rerr, ErrNotFound) && err == nil {
			err = fmt.Errorf("removing container %s: %w", shortID(id), rerr)
		}
		Trace("remove")
	}()

	streams := opts.Streams
	streams.TTY = opts.Spec.TTY
	outputDone, err := e.Attach(ctx, id, streams)
	Trace("attach")
	if verified != nil {
		serr := stale()
		Trace("image name checked")
		if serr != nil {
			return 0, serr
		}
	}
	if err != nil {
		return 0, fmt.Errorf("attaching to container: %w", err)
	}
	if err := e.Start(ctx, id); err != nil {
		switch {
		case errors.Is(err, ErrCommandNotFound):
			fmt.Fprintf(errWriter(opts.Streams), "hpr: %v\n", err)
			return 127, nil
		case errors.Is(err, ErrCommandNotExecutable):
			fmt.Fprintf(errWriter(opts.Streams), "hpr: %v\n", err)
			return 126, nil
		}
		return 0, fmt.Errorf("starting container: %w", err)
	}
	Trace("start")
	if opts.Started != nil {
		opts.Started(id)
	}

	type waitResult struct {
		code int
		err  error
	}
	// The wait ends with Run: once the exit status is known from Exited,
	// nothing is left to wait for.
	wctx, stopWait := context.WithCancel(ctx)
	defer stopWait()
	waited := make(chan waitResult, 1)
	go func() {
		c, werr := e.Wait(wctx, id)
		waited <- waitResult{c, werr}
	}()

	grace := opts.StopGrace
	if grace == 0 {
		grace = 10 * time.Second
	}
	var (
		killTimer <-chan time.Time
		forwarded syscall.Signal // the first signal passed on, 0 if none
		killed    bool           // hpr escalated to SIGKILL
		ended     = outputDone   // nil once the output has ended
		recheck   <-chan time.Time
		asked     int // Exited calls so far
	)
	exitCode := func(c int) int {
		if killed {
			// Report the signal the user sent, not hpr's SIGKILL.
			return 128 + int(forwarded)
		}
		return c
	}
	for {
		select {
		case <-ended:
			ended = nil
			// The command has most likely exited: ask without waiting. The
			// engine may take a few milliseconds to notice (conmon writes
			// its exit file after the output ends), so ask again a few
			// times; a command that only closed its output, or an error,
			// is left to Wait.
			recheck = time.After(0)
		case <-recheck:
			recheck = nil
			st, xerr := e.Exited(ctx, id)
			if xerr != nil {
				continue
			}
			if !st.Exited {
				if asked++; asked < len(recheckAfter) {
					recheck = time.After(recheckAfter[asked])
				}
				continue
			}
			Trace("exited")
			// Published ports stay taken until the engine's cleanup (rootless
			// Podman's rootlessport holds them): wait for it then.
			leaveToEngine = st.SelfRemoving && len(opts.Spec.Ports) == 0
			return exitCode(st.Code), nil
		case r := <-waited:
			if r.err != nil {
				return 0, fmt.Errorf("waiting for container: %w", r.err)
			}
			Trace("wait")
			// Let the output drain before returning: it may lag the exit.
			if ended != nil {
				select {
				case <-ended:
				case <-time.After(2 * time.Second):
				}
			}
			return exitCode(r.code), nil
		case sig := <-opts.Signals:
			s, ok := sig.(syscall.Signal)
			if !ok {
				continue
			}
			if forwarded != 0 {
				// A second signal: stop waiting for the command to cooperate.
				killed = true
				_ = e.Signal(context.WithoutCancel(ctx), id, int(syscall.SIGKILL))
				continue
			}
			forwarded = s
			// A container that has just exited answers "not found" or
			// "conflict" (Podman's 409): the wait above reports its end.
			if serr := e.Signal(ctx, id, int(s)); serr != nil && !errors.Is(serr, ErrNotFound) && !errors.Is(serr, ErrConflict) {
				return 0, fmt.Errorf("forwarding %v to container: %w", s, serr)
			}
			killTimer = time.After(grace)
		case <-killTimer:
			killed = true
			_ = e.Signal(context.WithoutCancel(ctx), id, int(syscall.SIGKILL))
			killTimer = nil
		case sz := <-opts.Resize:
			_ = e.Resize(ctx, id, sz.Height, sz.Width)
		case <-ctx.Done():
			// The caller gave up (hpr itself was told to stop without a
			// signal channel): the deferred Remove kills the container.
			return 0, ctx.Err()
		}
	}
}

// recheckAfter spaces the Exited calls after the output ends: the first at
// once, then 5, 10 and 20 ms later (35 ms in all). Wait answers after that.
var recheckAfter = []time.Duration{0, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}

func errWriter(s Streams) interface{ Write([]byte) (int, error) } {
	if s.Stderr != nil {
		return s.Stderr
	}
	if s.Stdout != nil {
		return s.Stdout
	}
	return os.Stderr
}

func shortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}
