package main

import (
	"bytes"
	"context"
	"syscall"
	"testing"
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
