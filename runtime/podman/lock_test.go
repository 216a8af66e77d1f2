package podman

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestLockKeepIDCreate(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	ep := "unix:///run/user/1/podman/podman.sock"
	unlock, err := lockKeepIDCreate(t.Context(), ep)
	if err != nil {
		t.Fatal(err)
	}
	// The same endpoint waits; another does not.
	other, err := lockKeepIDCreate(t.Context(), "unix:///run/podman/podman.sock")
	if err != nil {
		t.Fatalf("another endpoint's lock: %v", err)
	}
	other()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := lockKeepIDCreate(ctx, ep); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lock while held = %v, want it to wait until the context ends", err)
	}
	// A waiter that has found the lock held takes it once it is released,
	// and not before.
	busy := make(chan struct{}, 1)
	var released atomic.Bool
	got := make(chan error, 1)
	go func() {
		u, err := lockEndpoint(t.Context(), ep, func() {
			select {
			case busy <- struct{}{}:
			default:
			}
		})
		if err == nil {
			u()
			if !released.Load() {
				err = errors.New("taken before the first was released")
			}
		}
		got <- err
	}()
	<-busy
	released.Store(true)
	unlock()
	if err := <-got; err != nil {
		t.Errorf("second lock: %v", err)
	}
}
