package sshconn

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Tunnel forwards a unix socket of hpr's own to the engine's socket on the
// remote host through one ssh process (ssh -N -L LOCAL:REMOTE): every
// connection is a channel of the same ssh connection, so only the first
// pays for the handshake. It is for clients that can only be given a socket
// path: the Podman bindings, whose own ssh client would read a password
// from stdin when no key is offered, and knows neither BatchMode nor most of
// ~/.ssh/config. (OpenSSH 9.2's `ssh -W` takes no socket path, so a
// connection per ssh process, as for Docker, is not open to Podman.) The
// local socket is made in a fresh 0700 directory: only its user reaches it.
type Tunnel struct {
	dir    string
	sock   string
	remote string // the engine's socket on the remote host
	p      *proc
}

// tunnelPoll is how often Tunnel checks whether ssh has made the socket.
const tunnelPoll = 5 * time.Millisecond

// Tunnel starts a tunnel to the engine's socket at t and returns once its
// local socket is there, or fails with ssh's own words (an *Error) or
// because ctx ended. runtimeDir is where its directory is made
// ($XDG_RUNTIME_DIR); empty or unusable means the temporary directory.
func (t Target) Tunnel(ctx context.Context, runtimeDir string) (*Tunnel, error) {
	remote, err := t.socketPath(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(runtimeDir, "hpr-ssh-")
	if err != nil && runtimeDir != "" {
		dir, err = os.MkdirTemp("", "hpr-ssh-")
	}
	if err != nil {
		return nil, &Error{Dest: t.Dest(), Cause: "making a directory for the tunnel's socket: " + err.Error()}
	}
	tu := &Tunnel{dir: dir, sock: filepath.Join(dir, "engine.sock"), remote: remote}
	args := t.args([]string{"-N", "-o", "ExitOnForwardFailure=yes", "-L", tu.sock + ":" + remote})
	if tu.p, err = run(t.Dest(), args, func(*exec.Cmd) {}); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := tu.wait(ctx); err != nil {
		tu.Close()
		return nil, err
	}
	return tu, nil
}

// wait waits for ssh to log in and make the local socket.
func (tu *Tunnel) wait(ctx context.Context) error {
	tick := time.NewTicker(tunnelPoll)
	defer tick.Stop()
	for {
		if _, err := os.Stat(tu.sock); err == nil {
			return nil
		}
		select {
		case <-tu.p.exited:
			if err := tu.p.failure(); err != nil {
				return err
			}
			return &Error{Dest: tu.p.dest, Cause: "ssh ended before forwarding the engine's socket"}
		case <-ctx.Done():
			return &Error{Dest: tu.p.dest, Cause: ended(ctx)}
		case <-tick.C:
		}
	}
}

// URI is the local socket's unix:// URI.
func (tu *Tunnel) URI() string { return "unix://" + tu.sock }

// errWait is how long Err waits for ssh to say why it closed a connection:
// it writes that on its stderr just before it closes the connection, and
// the client may see the close first.
const errWait = 200 * time.Millisecond

// Err says why the tunnel failed a connection or ended, in ssh's words (an
// *Error), or nil: a client of the socket only sees its connection close.
// Call it after a connection failed.
func (tu *Tunnel) Err() error {
	deadline := time.Now().Add(errWait)
	for tu.p.stderr.String() == "" && !tu.p.done() && time.Now().Before(deadline) {
		time.Sleep(tunnelPoll)
	}
	if err := tu.p.failure(); err != nil {
		return err
	}
	if line := lastLine(tu.p.stderr.String()); line != "" {
		if strings.Contains(line, "open failed") { // sshd says no more than that
			line += " (is the engine's socket " + tu.remote + " there, and may that user use it?)"
		}
		return &Error{Dest: tu.p.dest, Cause: line}
	}
	if tu.p.done() {
		return &Error{Dest: tu.p.dest, Cause: "ssh ended"}
	}
	return nil
}

// Close ends the ssh process (ours, by its pid) and removes the socket's
// directory.
func (tu *Tunnel) Close() error {
	tu.p.stop()
	<-tu.p.exited
	return os.RemoveAll(tu.dir)
}

// lastLine is the last non-empty line of s, without ssh's "ssh: " prefix.
func lastLine(s string) string {
	line := ""
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l != "" {
			line = l
		}
	}
	return strings.TrimPrefix(line, "ssh: ")
}
