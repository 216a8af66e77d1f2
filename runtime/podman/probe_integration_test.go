//go:build integration

package podman

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/hostpersist/hpr/runtime"
)

func TestProbeResize(t *testing.T) {
	forEach(t, func(t *testing.T, te testEngine, e *Engine) {
		ctx := t.Context()
		for _, delay := range []time.Duration{0, 0, 0, 0, 0, 0, 0, 0, 0, 0} {
			id, err := e.Create(ctx, runtime.ContainerSpec{Image: testImage, TTY: true, OpenStdin: true,
				Cmd: []string{"sh", "-c", "read x; stty size"}})
			if err != nil {
				t.Fatal(err)
			}
			pr, pw := io.Pipe()
			var out syncBuffer
			done, _ := e.Attach(ctx, id, runtime.Streams{Stdin: pr, Stdout: &out, TTY: true})
			e.Start(ctx, id)
			time.Sleep(delay)
			if err := e.Resize(ctx, id, 33, 111); err != nil {
				t.Error(err)
			}
			time.Sleep(delay)
			pw.Write([]byte("hello\n"))
			e.Wait(ctx, id)
			pw.Close()
			<-done
			e.Remove(context.WithoutCancel(ctx), id)
			t.Logf("delay %v: %q", delay, out.String())
		}
	})
}
