package podman

import (
	"context"
	"fmt"

	"github.com/containers/podman/v5/pkg/bindings/volumes"
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
