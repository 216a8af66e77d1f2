package podman

import (
	"context"
	"os"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// Option configures New and Connect.
type Option func(*options)

type options struct {
	ssh sshconn.Options
}

// WithSSH gives an ssh:// endpoint the ssh options of the connection that
// named it (its identity; a podman machine's).
func WithSSH(o sshconn.Options) Option {
	return func(op *options) { op.ssh = o }
}

// tunnel forwards the remote service's socket to a private local one over
// one ssh process (see sshconn.Tunnel for why not the bindings' own ssh
// client), within bound.
func tunnel(ctx context.Context, endpoint string, opts []Option) (*sshconn.Tunnel, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	t, err := sshconn.Parse(endpoint, o.ssh)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, runtime.SSHPingTimeout)
	defer cancel()
	tu, err := t.Tunnel(ctx, os.Getenv("XDG_RUNTIME_DIR"))
	if err != nil {
		return nil, runtime.DialError(endpoint, err)
	}
	return tu, nil
}

// bindingsURI is where the bindings connect: the tunnel's socket for an
// ssh:// endpoint, the endpoint otherwise.
func (e *Engine) bindingsURI() string {
	if e.forward != nil {
		return e.forward.URI()
	}
	return e.endpoint
}

// forwarded replaces err, a connection the tunnel closed, with why its ssh
// failed it, when it says.
func (e *Engine) forwarded(err error) error {
	if e.forward == nil {
		return err
	}
	if ferr := e.forward.Err(); ferr != nil {
		return runtime.DialError(e.endpoint, ferr)
	}
	return err
}

// closeForwardOnError stops the tunnel when connecting failed.
func (e *Engine) closeForwardOnError(err *error) {
	if *err != nil {
		e.forward.Close()
	}
}
