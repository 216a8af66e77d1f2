package enginetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
)

// The checks in this file run commands in a running container the way hpr
// exec does, through runtime.Exec.

// ExecTTY runs cmd in the running container id on a TTY through
// runtime.Exec, as hpr exec does on a terminal: size waits to be passed
// on, as the terminal's size does when hpr exec begins. It fails the test
// unless the command exits 0 within a minute, and returns its output. The
// backends' unit tests run it on their fakes, the contract on engines.
func ExecTTY(t *testing.T, e runtime.Engine, id string, size runtime.TermSize, cmd ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	sizes := make(chan runtime.TermSize, 1)
	sizes <- size
	var out testenv.Buffer
	code, err := runtime.Exec(ctx, e, id, runtime.ExecOptions{
		Spec:   runtime.ExecSpec{Cmd: cmd, Streams: runtime.Streams{Stdout: &out, TTY: true}},
		Resize: sizes,
	})
	if err != nil || code != 0 {
		t.Fatalf("exec %q on a TTY = %d, %v, output %q; want 0", cmd, code, err, out.String())
	}
	return out.String()
}

// checkExecTTYResize: a command exec'd on a TTY gets the terminal's size
// once it has started, through its exec session (the container has no TTY
// of its own to resize).
func checkExecTTYResize(t *testing.T, f *fixture) {
	id := f.created(t, f.spec(t, "sleep", "120"))
	if err := f.e.Start(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// The size comes after the command has started: it waits for it, for
	// 10 s at most, and then says what it has.
	out := ExecTTY(t, f.e, id, runtime.TermSize{Height: 33, Width: 111}, "sh", "-c",
		`i=0; while [ "$(stty size)" != "33 111" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; echo "size:$(stty size)"`)
	if !strings.Contains(out, "size:33 111") {
		t.Errorf("exec on a TTY sized 33x111: output %q, want size:33 111", out)
	}
}
