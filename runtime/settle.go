package runtime

import (
	"context"
	"errors"
	"time"
)

// Settle lists the containers carrying labels (as List does) and, while
// some of them are exited containers the engine removes by itself
// (Container.SelfRemoving: Podman's cleanup process is still at work), lists
// again every 50 ms until they are gone or timeout has passed. It returns
// what is left: containers still running, ones the engine does not remove,
// and self-removing ones that outlived timeout.
func Settle(ctx context.Context, e Engine, labels map[string]string, timeout time.Duration) ([]Container, error) {
	deadline := time.Now().Add(timeout)
	for {
		cs, err := e.List(ctx, labels)
		if err != nil || !removing(cs) || time.Now().After(deadline) {
			return cs, err
		}
		select {
		case <-ctx.Done():
			return cs, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// BeingRemoved reports whether c has exited and its engine removes it by
// itself.
func BeingRemoved(c Container) bool {
	return c.SelfRemoving && (c.State == "exited" || c.State == "stopped")
}

func removing(cs []Container) bool {
	for _, c := range cs {
		if BeingRemoved(c) {
			return true
		}
	}
	return false
}

// RemoveVolumeSettled removes a named volume as Engine.RemoveVolume does,
// and while a container still holds it (ErrConflict: one the engine is
// still removing by itself, as Settle waits for), tries again every 100 ms
// until ctx ends. An absent volume is no error.
func RemoveVolumeSettled(ctx context.Context, e Engine, name string) error {
	for {
		err := e.RemoveVolume(ctx, name)
		switch {
		case err == nil, errors.Is(err, ErrNotFound):
			return nil
		case !errors.Is(err, ErrConflict) || ctx.Err() != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}
