package main

import (
	"bytes"
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSignalEndsWithItsCode: when a signal ended hpr's context, what failed
// because of it is reported as the signal's end (128+N, nothing said), not
// as the error of the call it cut short (125). The same failure without a
// signal is hpr's 125, so the test tells the two apart.
func TestSignalEndsWithItsCode(t *testing.T) {
	args := []string{"run", "--engine", "unix://" + t.TempDir() + "/none.sock", "--image", "debian:bookworm-slim", "--", "true"}
	t.Chdir(t.TempDir())
	var stderr bytes.Buffer
	if code := run(context.Background(), args, nil, &bytes.Buffer{}, &stderr); code != exitFailure || stderr.Len() == 0 {
		t.Fatalf("without a signal: exit %d, stderr %q; want 125 and an error", code, stderr.String())
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(signalled{sig})
		stderr.Reset()
		if code := run(ctx, args, nil, &bytes.Buffer{}, &stderr); code != 128+int(sig) || stderr.Len() != 0 {
			t.Errorf("after %v: exit %d, stderr %q; want %d and nothing said", sig, code, stderr.String(), 128+int(sig))
		}
	}
}

// TestPassedOnEarly: a signal that came before hpr passes signals on is
// returned as early, so the caller does not start what the user stopped.
func TestPassedOnEarly(t *testing.T) {
	_, stop, early := passedOn(context.Background())
	stop()
	if early != 0 {
		t.Errorf("no signal came: early = %v, want 0", early)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(signalled{syscall.SIGTERM})
	_, stop, early = passedOn(ctx)
	stop()
	if early != syscall.SIGTERM {
		t.Errorf("SIGTERM came first: early = %v, want SIGTERM", early)
	}
}

// TestSignalHub: every signal either ends main's context (before anything
// passes signals on, and after it stops) or reaches what passes them on —
// never both, never neither.
func TestSignalHub(t *testing.T) {
	wait := func(what string, c <-chan struct{}) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s within 10 s", what)
		}
	}
	t.Run("before: ends the context, and is early", func(t *testing.T) {
		in := make(chan os.Signal)
		ctx, _ := withHub(t.Context(), in)
		in <- syscall.SIGTERM
		wait("end of the context", ctx.Done())
		sigs, stop, early := passedOn(ctx)
		defer stop()
		if early != syscall.SIGTERM || signalOf(ctx) != syscall.SIGTERM || len(sigs) != 0 {
			t.Errorf("early %v, signalOf %v, %d passed on; want SIGTERM, SIGTERM, 0", early, signalOf(ctx), len(sigs))
		}
	})
	t.Run("while passed on: reaches the runner, the context lives", func(t *testing.T) {
		in := make(chan os.Signal)
		ctx, _ := withHub(t.Context(), in)
		sigs, stop, early := passedOn(ctx)
		if early != 0 {
			t.Fatalf("early %v, want 0", early)
		}
		in <- syscall.SIGINT
		select {
		case s := <-sigs:
			if s != syscall.SIGINT {
				t.Errorf("passed on %v, want SIGINT", s)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("SIGINT was not passed on")
		}
		if ctx.Err() != nil {
			t.Errorf("the context ended (%v) though the signal was passed on", context.Cause(ctx))
		}
		stop()
		in <- syscall.SIGHUP
		wait("end of the context after stop", ctx.Done())
		if signalOf(ctx) != syscall.SIGHUP {
			t.Errorf("signalOf %v after stop, want SIGHUP", signalOf(ctx))
		}
	})
}
