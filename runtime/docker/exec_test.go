package docker

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/hostpersist/hpr/runtime"
)

// Exec reports its session once the command has started, and ResizeExec
// sizes that session's TTY, not the container's.
func TestExecResize(t *testing.T) {
	e, f := newFake(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	started, resized := make(chan string, 1), make(chan struct{})
	go func() {
		defer close(resized)
		select {
		case id := <-started:
			if err := e.ResizeExec(ctx, id, 33, 111); err != nil {
				t.Errorf("ResizeExec() = %v", err)
			}
		case <-ctx.Done():
		}
	}()
	code, err := e.Exec(ctx, "c1", runtime.ExecSpec{
		Cmd:     []string{"sh"},
		Streams: runtime.Streams{Stdout: io.Discard, TTY: true},
		Started: func(id string) { started <- id },
	})
	<-resized // before the test ends, and with it the engine
	if err != nil || code != 0 {
		t.Fatalf("Exec() = %d, %v; want 0", code, err)
	}
	f.mu.Lock()
	calls := slices.Clone(f.calls)
	f.mu.Unlock()
	if i, j := slices.Index(calls, "ContainerExecAttach e1"), slices.Index(calls, "ContainerExecResize e1 33x111"); i < 0 || j < i {
		t.Errorf("calls %q: want the exec session resized to 33x111 once attached (started)", calls)
	}
	if n := f.count("ContainerResize"); n != 0 {
		t.Errorf("calls %q: the container was resized", calls)
	}
}
