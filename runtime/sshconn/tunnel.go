package sshconn

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Tunnel forwards a unix socket of hpr's own to the engine's socket on the
// remote host (ssh -L LOCAL:REMOTE): every connection is a channel of one
// ssh connection, so only the first pays for the handshake. It is for
// clients that can only be given a socket path: the Podman bindings, whose
// own ssh client would read a password from stdin when no key is offered,
// and knows neither BatchMode nor most of ~/.ssh/config. (OpenSSH 9.2's
// `ssh -W` takes no socket path, so a connection per ssh process, as for
// Docker, is not open to Podman.) The local socket is made in a fresh 0700
// directory: only its user reaches it.
//
// With a control directory (see ControlPersist) the forward is the shared
// master connection's: the ssh that asks for it exits once the master
// listens, and Close cancels it. Without one, the tunnel is an ssh process
// of its own (ssh -N) that Close stops.
type Tunnel struct {
	t      Target
	mux    []string // the multiplexing options; nil for a tunnel of its own
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
	tu := &Tunnel{t: t, mux: muxArgs(), dir: dir, sock: filepath.Join(dir, "engine.sock"), remote: remote}
	args := t.argv(tu.mux, []string{"-N", "-o", "ExitOnForwardFailure=yes", "-L", tu.forward()})
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

// forward is ssh's -L argument.
func (tu *Tunnel) forward() string { return tu.sock + ":" + tu.remote }

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
			// A session of the master exits once the master listens.
			if _, err := os.Stat(tu.sock); err == nil && tu.mux != nil {
				return nil
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
	if tu.mux != nil {
		return tu.sharedErr()
	}
	deadline := time.Now().Add(errWait)
	for tu.p.stderr.String() == "" && !tu.p.done() && time.Now().Before(deadline) {
		time.Sleep(tunnelPoll)
	}
	if err := tu.p.failure(); err != nil {
		return err
	}
	if line := lastLine(tu.p.stderr.String()); line != "" {
		if strings.Contains(line, "open failed") { // sshd says no more than that
			line += " (" + tu.socketHint() + ")"
		}
		return &Error{Dest: tu.p.dest, Cause: line}
	}
	if tu.p.done() {
		return &Error{Dest: tu.p.dest, Cause: "ssh ended"}
	}
	return nil
}

func (tu *Tunnel) socketHint() string {
	return "is the engine's socket " + tu.remote + " there, and may that user use it?"
}

// sharedErr is Err for a forward of the master connection, whose words go
// nowhere: it asks the host whether the socket is there for the user (the
// cause of a refused channel), or says why the host cannot be asked.
func (tu *Tunnel) sharedErr() error {
	ctx, cancel := context.WithTimeout(context.Background(), ConnectTimeout)
	defer cancel()
	_, err := tu.t.Output(ctx, "test", "-S", tu.remote, "-a", "-w", tu.remote)
	var se *Error
	if errors.As(err, &se) && se.code == 1 {
		return &Error{Dest: tu.t.Dest(), Cause: "the engine's socket " + tu.remote + " is not there, or that user may not use it (is the engine running there?)"}
	}
	return err
}

// Close ends the forward — the ssh process (ours, by its pid), or the
// master's forward — and removes the socket's directory.
func (tu *Tunnel) Close() error {
	tu.p.stop()
	<-tu.p.exited
	if tu.mux != nil {
		ctx, cancel := context.WithTimeout(context.Background(), ConnectTimeout)
		// The master goes on listening on the removed path if this fails;
		// nothing reaches it there.
		_ = tu.t.control(ctx, tu.mux, "cancel", "-L", tu.forward())
		cancel()
	}
	return os.RemoveAll(tu.dir)
}

// control sends the master connection a command (ssh -O cmd).
func (t Target) control(ctx context.Context, mux []string, cmd string, extra ...string) error {
	_, err := t.complete(ctx, t.argv(mux, append([]string{"-O", cmd}, extra...)), nil)
	return err
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
