package detect

import (
	"context"
	"fmt"
	"strings"

	"github.com/hostpersist/hpr/runtime"
)

// An engine that stops — restarted for an upgrade, `systemctl restart` —
// ends what hpr has under way in ways that look like something else.
// Docker (without live-restore) stops the containers while it shuts down,
// still answering on the connections it has, so a run sees the command end
// by SIGTERM, as if by its own doing; its builder sees the step killed, and
// Podman's service fails the build's step within its shutdown grace. So
// when a build fails, or a container ends by a signal (exit status above
// 128), Engine asks whether the process that served the endpoint when hpr
// opened it still does; when it does not, the engine stopped, and that is
// the failure to report (wrapping runtime.ErrUnreachable, naming the
// engine). A signal hpr passed on itself leaves the engine as it was, and
// the exit status stands.

// Build builds as the backend does; see above for a failure while the
// engine stopped.
func (e *Engine) Build(ctx context.Context, opts runtime.BuildOptions) error {
	err := e.Engine.Build(ctx, opts)
	if err != nil && ctx.Err() == nil {
		if stop := e.stopped("during the build"); stop != nil {
			// One line: the build's error may carry its output's lines.
			said := strings.Join(strings.Fields(err.Error()), " ")
			return fmt.Errorf("%w; the build said: %s; run hpr again once the engine is back", stop, said)
		}
	}
	return err
}

// Wait waits as the backend does; see above for a container the engine
// stopped.
func (e *Engine) Wait(ctx context.Context, id string) (int, error) {
	code, err := e.Engine.Wait(ctx, id)
	if err == nil && code > 128 {
		if stop := e.stopped(fmt.Sprintf("while the container ran, and ended it (status %d)", code)); stop != nil {
			return 0, fmt.Errorf("%w; run hpr again once the engine is back", stop)
		}
	}
	return code, err
}

// Exited answers as the backend does; see above for a container the
// engine stopped.
func (e *Engine) Exited(ctx context.Context, id string) (runtime.ExitState, error) {
	st, err := e.Engine.Exited(ctx, id)
	if err == nil && st.Exited && st.Code > 128 {
		if stop := e.stopped(fmt.Sprintf("while the container ran, and ended it (status %d)", st.Code)); stop != nil {
			return runtime.ExitState{}, fmt.Errorf("%w; run hpr again once the engine is back", stop)
		}
	}
	return st, err
}

// stopped returns an error naming the engine when the process that served
// its endpoint when it was opened no longer does; nil when it still does,
// or when that cannot be told (an ssh or tcp endpoint).
func (e *Engine) stopped(when string) error {
	if e.listener == "" || strings.HasPrefix(e.listener, "ssh ") {
		return nil
	}
	now := unixListener(e.About.Endpoint)
	if now == e.listener {
		return nil
	}
	what := "has not come back yet"
	if now != "" {
		what = "another process serves it now"
	}
	return fmt.Errorf("%w: %s at %s stopped %s (restarted or shut down: %s)",
		runtime.ErrUnreachable, e.About.Facts.Kind, e.About.Endpoint, when, what)
}
