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
}

// RemoveTimeout bounds the cleanup after a run, which runs even when the
// caller's context has ended.
const RemoveTimeout = 15 * time.Second

// Run creates, attaches, starts and waits for one container, forwarding
// signals and terminal sizes, and always removes it. It returns the
// container's exit code: the command's own, 127/126 when the command cannot
// be found or run, 128+n when it was ended by signal n after hpr passed one on.
// An error means hpr or the engine failed (exit 125).
func Run(ctx context.Context, e Engine, opts RunOptions) (code int, err error) {
	spec, err := withIdentity(opts.Spec)
	if err != nil {
		return 0, fmt.Errorf("creating container: %w", err)
	}
	id, err := e.Create(ctx, spec)
	if err != nil {
		return 0, fmt.Errorf("creating container: %w", err)
	}
	Trace("create")
	defer func() {
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
	if err != nil {
		return 0, fmt.Errorf("attaching to container: %w", err)
	}
	Trace("attach")
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
	waited := make(chan waitResult, 1)
	go func() {
		c, werr := e.Wait(ctx, id)
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
	)
	for {
		select {
		case r := <-waited:
			if r.err != nil {
				return 0, fmt.Errorf("waiting for container: %w", r.err)
			}
			Trace("wait")
			// Let the output drain before returning: it may lag the exit.
			select {
			case <-outputDone:
			case <-time.After(2 * time.Second):
			}
			if killed {
				// Report the signal the user sent, not hpr's SIGKILL.
				return 128 + int(forwarded), nil
			}
			return r.code, nil
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
