package docker

import (
	"slices"
	"testing"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/enginetest"
)

// A TTY exec is sized once it has started (attached), through its exec
// session, not through the container.
func TestExecResize(t *testing.T) {
	e, f := newFake(t)
	enginetest.ExecTTY(t, e, "c1", runtime.TermSize{Height: 33, Width: 111}, "sh")
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
