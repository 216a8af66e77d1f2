package sshconn

import (
	"context"
	"net"
	"strings"

	"github.com/hostpersist/hpr/idmap"
)

// ViaDocker reports whether kind's engine at t is reached through the
// remote docker CLI (DialDocker): a Docker engine, or one of unknown kind
// when the URI names no socket (Docker's convention for ssh://host).
// Otherwise it is reached through a Tunnel to its socket.
func (t Target) ViaDocker(kind idmap.Kind) bool {
	return kind == idmap.KindDocker || kind == "" && t.Path == ""
}

// DialDocker opens one connection to the Docker daemon on the remote host,
// over a new ssh process running `docker system dial-stdio` there, as
// docker/cli's connection helper does: with --host=unix://PATH when the URI
// names a socket, else where the remote user's DOCKER_HOST or current
// context points. Network and address are ignored (http.Transport's
// DialContext signature).
func (t Target) DialDocker(context.Context, string, string) (net.Conn, error) {
	return start(t.Dest(), t.args(nil, t.dockerCommand()...))
}

// socketPath is the remote socket a Tunnel forwards to: the URI's, or the
// one the remote Podman names (`podman info`), as the Podman bindings do.
func (t Target) socketPath(ctx context.Context) (string, error) {
	if t.Path != "" {
		return t.Path, nil
	}
	out, err := t.Output(ctx, "podman", "info", "--format", "'{{.Host.RemoteSocket.Path}}'")
	if err != nil {
		return "", err
	}
	p := strings.TrimPrefix(strings.TrimSpace(out), "unix://")
	if !validPath.MatchString(p) {
		return "", &Error{Dest: t.Dest(), Cause: "podman info names no usable service socket (" + p + "): put the socket's path in the URI"}
	}
	return p, nil
}
