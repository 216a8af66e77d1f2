package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// The signals hpr handles (SIGINT, SIGTERM, SIGHUP) either end what hpr is
// doing — the first one ends main's context, whose cause says which — or,
// once a command runs something (a container, an exec), are passed on to
// it. One hub receives them all and decides under one lock, so that every
// signal is either the one that ended the context or passed on: with two
// receivers, a signal received just before the hand-over could cancel the
// context after the runner had checked it, and be lost (make soak saw the
// container then run to its end, exit 0).
type signalHub struct {
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	first syscall.Signal   // the signal that ended the context, 0 if none
	to    chan<- os.Signal // where signals go while something runs; nil otherwise
}

type hubKey struct{}

// signalled is the cause of main's context ending: a signal hpr was sent.
type signalled struct{ sig syscall.Signal }

func (s signalled) Error() string { return s.sig.String() + " signal received" }

var handled = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// notifyContext is main's context: ended by the first signal while
// nothing passes signals on (signalOf tells which), and carrying the hub
// passedOn takes signals from. Signals stay caught until stop.
func notifyContext(parent context.Context) (context.Context, func()) {
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, handled...)
	ctx, h := withHub(parent, ch)
	return ctx, func() { signal.Stop(ch); h.cancel(nil) }
}

// withHub starts a hub that takes the signals from in.
func withHub(parent context.Context, in <-chan os.Signal) (context.Context, *signalHub) {
	ctx, cancel := context.WithCancelCause(parent)
	h := &signalHub{cancel: cancel}
	go func() {
		for {
			select {
			case s := <-in:
				h.receive(s)
			case <-ctx.Done():
				return
			}
		}
	}()
	return context.WithValue(ctx, hubKey{}, h), h
}

func (h *signalHub) receive(s os.Signal) {
	sig, ok := s.(syscall.Signal)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.to != nil:
		select {
		case h.to <- sig:
		default: // the runner has enough to act on
		}
	case h.first == 0:
		h.first = sig
		h.cancel(signalled{sig})
	}
}

// take makes ch receive the signals from now on, unless one has already
// ended the context: then it returns that signal and ch receives nothing.
func (h *signalHub) take(ch chan<- os.Signal) syscall.Signal {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.first == 0 {
		h.to = ch
	}
	return h.first
}

func (h *signalHub) release() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.to = nil
}

// signalOf is the signal that ended ctx (notifyContext), 0 when none did.
func signalOf(ctx context.Context) syscall.Signal {
	var s signalled
	if errors.As(context.Cause(ctx), &s) {
		return s.sig
	}
	return 0
}

// passedOn delivers the signals hpr passes on to what it runs instead of
// ending of them, until stop. A signal that came before, and ended ctx, is
// not among them: passedOn returns it as early, and the caller ends with
// its code (128+N) instead of starting what the user asked to stop.
func passedOn(ctx context.Context) (sigs <-chan os.Signal, stop func(), early syscall.Signal) {
	ch := make(chan os.Signal, 4)
	if h, ok := ctx.Value(hubKey{}).(*signalHub); ok {
		if early := h.take(ch); early != 0 {
			return ch, func() {}, early
		}
		return ch, h.release, 0
	}
	// No hub (a test's context): signals straight from the process.
	signal.Notify(ch, handled...)
	return ch, func() { signal.Stop(ch) }, signalOf(ctx)
}
