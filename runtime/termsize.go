package runtime

import "context"

// TermSize is a terminal size in characters.
type TermSize struct {
	Height uint
	Width  uint
}

// passSizes passes the terminal sizes that come on sizes on to a started
// TTY with resize, beside the caller's loop, until the returned stop is
// called: one rule for Run's container and Exec's command. A size waiting
// in sizes when passSizes is called (the terminal's size when hpr began)
// is the first passed on. A resize that fails is not retried: the next
// size replaces it, and a wrong size is no reason to end what runs. With
// no sizes there is nothing to pass on.
func passSizes(ctx context.Context, sizes <-chan TermSize, resize func(context.Context, TermSize) error) (stop func()) {
	if sizes == nil {
		return func() {}
	}
	ctx, stop = context.WithCancel(ctx)
	go func() {
		for {
			select {
			case s := <-sizes:
				_ = resize(ctx, s)
			case <-ctx.Done():
				return
			}
		}
	}()
	return stop
}
