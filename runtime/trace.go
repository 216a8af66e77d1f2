package runtime

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Tracer prints how long each step of a command took, one line a step:
// "hpr trace: <step> <ms since the last step> ms (at <ms since start> ms)".
// hpr traces with HPR_TRACE=1; the benchmark reads these lines to say where
// a run's time goes. A Tracer is safe for concurrent use.
type Tracer struct {
	mu          sync.Mutex
	w           io.Writer
	start, last time.Time
}

// NewTracer returns a Tracer writing to w that counts from start (the
// process's start, as near as the caller knows it).
func NewTracer(w io.Writer, start time.Time) *Tracer {
	return &Tracer{w: w, start: start, last: start}
}

type tracerKey struct{}

// WithTracer returns ctx carrying t: every step traced with ctx goes to t.
func WithTracer(ctx context.Context, t *Tracer) context.Context {
	return context.WithValue(ctx, tracerKey{}, t)
}

// Trace records that step ended, when ctx carries a Tracer.
func Trace(ctx context.Context, step string) {
	t, _ := ctx.Value(tracerKey{}).(*Tracer)
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	fmt.Fprintf(t.w, "hpr trace: %-28s %7.1f ms (at %7.1f ms)\n", step, ms(now.Sub(t.last)), ms(now.Sub(t.start)))
	t.last = now
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
