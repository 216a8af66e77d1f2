package docker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker/api/types/container"

	"github.com/hostpersist/hpr/runtime"
)

// execSettle bounds how long Exec polls for the exit code after the output
// ended, for a daemon that closes the stream before it records the exit.
const execSettle = 2 * time.Second

// Exec runs a command in a running container as spec.User and returns its
// exit code once its output has ended.
func (e *Engine) Exec(ctx context.Context, id string, spec runtime.ExecSpec) (int, error) {
	s := spec.Streams
	created, err := e.c.ContainerExecCreate(ctx, id, container.ExecOptions{
		User:         spec.User,
		Tty:          s.TTY,
		AttachStdin:  s.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
		Env:          spec.Env,
		WorkingDir:   spec.WorkingDir,
		Cmd:          spec.Cmd,
	})
	if err != nil {
		return 0, fmt.Errorf("creating exec in container %s: %w", runtime.ShortID(id), e.translate(err))
	}
	// Attaching starts the exec.
	resp, err := e.c.ContainerExecAttach(ctx, created.ID, container.ExecAttachOptions{Tty: s.TTY})
	if err != nil {
		return 0, fmt.Errorf("starting exec in container %s: %w", runtime.ShortID(id), e.startError(err))
	}
	if spec.Started != nil {
		// The daemon holds a resize until the command has started.
		spec.Started(created.ID)
	}
	if err := <-pipe(ctx, resp, s); err != nil {
		return 0, fmt.Errorf("running exec in container %s: %w", runtime.ShortID(id), err)
	}
	deadline := time.Now().Add(execSettle)
	for {
		in, err := e.c.ContainerExecInspect(ctx, created.ID)
		if err != nil {
			return 0, fmt.Errorf("inspecting exec in container %s: %w", runtime.ShortID(id), e.translate(err))
		}
		if !in.Running {
			return in.ExitCode, nil
		}
		if time.Now().After(deadline) {
			return 0, errors.New("inspecting exec: still running after its output ended")
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ResizeExec sets the TTY size of exec session execID.
func (e *Engine) ResizeExec(ctx context.Context, execID string, height, width uint) error {
	if err := e.c.ContainerExecResize(ctx, execID, container.ResizeOptions{Height: height, Width: width}); err != nil {
		return fmt.Errorf("resizing exec session %s: %w", runtime.ShortID(execID), e.translate(err))
	}
	return nil
}
