package podman

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	dockerContainer "github.com/docker/docker/api/types/container"

	"github.com/containers/podman/v5/pkg/api/handlers"
	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"

	"github.com/hostpersist/hpr/runtime"
)

// Exec runs a command in a running container and returns its exit code.
//
// With a TTY the bindings put os.Stdin in raw mode and follow its size when
// it is a terminal, whatever spec.Streams holds; es.Started reports the
// session once it runs, so that the caller can size it (ResizeExec) from
// the terminal it owns.
func (e *Engine) Exec(ctx context.Context, id string, es runtime.ExecSpec) (int, error) {
	c, cancel, err := e.hijackCall(ctx)
	if err != nil {
		return -1, fmt.Errorf("executing in %s: %w", id, err)
	}
	defer cancel()
	stdin, stdout, stderr := hideFiles(es.Streams)
	if stdout == nil && (es.Streams.TTY || stderr == nil) {
		stdout = io.Discard // a session must attach a stream; a TTY one its output
	}
	session, err := containers.ExecCreate(c, id, &handlers.ExecCreateConfig{ExecOptions: dockerContainer.ExecOptions{
		User:         es.User,
		Tty:          es.Streams.TTY,
		AttachStdin:  stdin != nil,
		AttachStdout: stdout != nil,
		AttachStderr: stderr != nil,
		Env:          es.Env,
		WorkingDir:   es.WorkingDir,
		Cmd:          es.Cmd,
	}})
	if err != nil {
		return -1, fmt.Errorf("creating exec session in %s: %w", id, e.translate(ctx, err))
	}
	if v := bindings.ServiceVersion(c); v.Major > 4 || v.Major == 4 && v.Minor >= 8 {
		// Before 4.8 there is no endpoint: sessions go with the container.
		defer func() {
			rc, rcancel := e.call(context.WithoutCancel(ctx))
			defer rcancel()
			_ = containers.ExecRemove(rc, session, new(containers.ExecRemoveOptions).WithForce(true))
		}()
	}
	if es.Started != nil {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go e.whenRunning(pctx, session, es.Started)
	}
	o := new(containers.ExecStartAndAttachOptions).
		WithAttachInput(stdin != nil).WithAttachOutput(stdout != nil).WithAttachError(stderr != nil)
	if stdin != nil {
		o = o.WithInputStream(*bufio.NewReader(stdin))
	}
	if stdout != nil {
		o = o.WithOutputStream(stdout)
	}
	if stderr != nil {
		o = o.WithErrorStream(stderr)
	}
	if err := untilDone(ctx, func() error { return containers.ExecStartAndAttach(c, session, o) }); err != nil {
		return -1, fmt.Errorf("running exec session in %s: %w", id, e.translate(ctx, err))
	}
	return e.execExitCode(ctx, c, session)
}

// whenRunning calls started with session once the service says it runs,
// asking every 10 ms until ctx ends (the exec has ended) or the service
// fails. A resize before that is dropped: the bindings ask the service to
// ignore a session that is not running. An inspect during the start
// answers once the session runs: libpod holds the container's lock from
// the start until then.
func (e *Engine) whenRunning(ctx context.Context, session string, started func(string)) {
	c, cancel := e.call(ctx)
	defer cancel()
	for {
		in, err := containers.ExecInspect(c, session, nil)
		if err != nil {
			return
		}
		if in.Running {
			started(session)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ResizeExec sets the TTY size of exec session execID; one that is not
// running is left as it is.
func (e *Engine) ResizeExec(ctx context.Context, execID string, height, width uint) error {
	return e.resize(ctx, "exec session "+execID, func(c context.Context) error {
		return containers.ResizeExecTTY(c, execID, new(containers.ResizeExecTTYOptions).
			WithHeight(int(height)).WithWidth(int(width)))
	})
}

// execExitCode reads a finished exec session's exit code. The output can end
// a moment before the service records the exit, so it asks again briefly.
func (e *Engine) execExitCode(ctx, c context.Context, session string) (int, error) {
	deadline := time.Now().Add(2 * time.Second)
	for {
		in, err := containers.ExecInspect(c, session, nil)
		if err != nil {
			return -1, fmt.Errorf("inspecting exec session: %w", e.translate(ctx, err))
		}
		if !in.Running {
			return in.ExitCode, nil
		}
		if time.Now().After(deadline) {
			return -1, errors.New("inspecting exec session: still running after its output ended")
		}
		select {
		case <-ctx.Done():
			return -1, fmt.Errorf("inspecting exec session: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
