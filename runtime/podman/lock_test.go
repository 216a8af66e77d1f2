package podman

import (
	"context"
	"errors"
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
	got := make(chan time.Time, 1)
	go func() {
		u, err := lockKeepIDCreate(t.Context(), ep)
		if err == nil {
			u()
		}
		got <- time.Now()
	}()
	time.Sleep(30 * time.Millisecond)
	released := time.Now()
	unlock()
	if at := <-got; at.Before(released) {
		t.Errorf("second lock taken %v before the first was released", released.Sub(at))
	}
}
