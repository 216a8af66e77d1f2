package docker

import (
	"context"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/hostpersist/hpr/runtime"
)

// A TTY exec is sized once it has started (attached), through its exec
// session, not through the container.
func TestExecResize(t *testing.T) {
	e, f := newFake(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	sizes := make(chan runtime.TermSize, 1)
	sizes <- runtime.TermSize{Height: 33, Width: 111}
	code, err := runtime.Exec(ctx, e, "c1", runtime.ExecOptions{
		Spec:   runtime.ExecSpec{Cmd: []string{"sh"}, Streams: runtime.Streams{Stdout: io.Discard, TTY: true}},
		Resize: sizes,
	})
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
