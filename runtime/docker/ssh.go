package docker

import "github.com/hostpersist/hpr/runtime/sshconn"

// WithSSH gives an ssh:// endpoint the ssh options of the context or
// connection that named it.
func WithSSH(o sshconn.Options) Option {
	return func(op *options) { op.ssh = o }
}
