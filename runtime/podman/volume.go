package podman

import (
	"context"
	"errors"
	"fmt"

	"github.com/containers/podman/v5/pkg/bindings/volumes"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"

	"github.com/hostpersist/hpr/runtime"
)

// RemoveVolume removes a named volume (force: even if a stopped container
// still refers to it).
func (e *Engine) RemoveVolume(ctx context.Context, name string) error {
	c, cancel := e.call(ctx)
	defer cancel()
	force := true
	if err := volumes.Remove(c, name, &volumes.RemoveOptions{Force: &force}); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, e.translate(ctx, err))
	}
	return nil
}

// EnsureVolume creates a named volume unless it exists, and reports
// whether it did. Losing a race to another creator is not creating it.
func (e *Engine) EnsureVolume(ctx context.Context, vs runtime.VolumeSpec) (bool, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	ok, err := volumes.Exists(c, vs.Name, nil)
	if err != nil {
		return false, fmt.Errorf("looking up volume %s: %w", vs.Name, e.translate(ctx, err))
	}
	if ok {
		return false, nil
	}
	_, err = volumes.Create(c, entitiesTypes.VolumeCreateOptions{Name: vs.Name, Labels: vs.Labels}, nil)
	switch err = e.translate(ctx, err); {
	case err == nil:
		return true, nil
	case errors.Is(err, runtime.ErrConflict):
		return false, nil
	default:
		return false, fmt.Errorf("creating volume %s: %w", vs.Name, err)
	}
}
