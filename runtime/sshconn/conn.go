package sshconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Error is an ssh connection that failed: where to, and the cause in ssh's
// (or the remote command's) own words. It is one line.
type Error struct {
	Dest  string
	Cause string
	// code is the exit status of the ssh that failed (255: ssh itself;
	// others: the remote command's), or -1.
	code int
}

func (e *Error) Error() string { return "ssh " + e.Dest + ": " + e.Cause }

// proc is a running ssh: what it said on stderr, and how it ended.
type proc struct {
	dest   string
	cmd    *exec.Cmd
	stderr tail
	exited chan struct{} // closed once the process has been reaped
	err    error         // cmd.Wait's, valid once exited is closed
}

// run starts ssh with args; stdin and stdout are the caller's to set in
// prepare. ssh gets a session of its own: no controlling terminal to ask
// on, and a Ctrl-C on the user's terminal reaches hpr, not the connection.
func run(dest string, args []string, prepare func(*exec.Cmd)) (*proc, error) {
	bin, err := exec.LookPath("ssh")
	if err != nil {
		return nil, &Error{Dest: dest, Cause: "no ssh client installed (install OpenSSH's ssh)"}
	}
	p := &proc{dest: dest, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stderr = &p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	prepare(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, &Error{Dest: dest, Cause: "starting ssh: " + err.Error()}
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// done reports whether the process has exited.
func (p *proc) done() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// failure is the process's *Error once it has exited unsuccessfully.
func (p *proc) failure() error {
	if !p.done() || p.err == nil {
		return nil
	}
	code := -1
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		code = ee.ExitCode()
	}
	return &Error{Dest: p.dest, Cause: cause(p.stderr.String(), code, p.err), code: code}
}

// stopGrace is how long stop waits for ssh to end on SIGTERM before it
// kills it: ssh can miss a SIGTERM that lands while it swaps its signal
// handlers on entering its main loop.
const stopGrace = 500 * time.Millisecond

// stop ends the process (ours, by its pid) unless it has ended: SIGTERM,
// then SIGKILL if it is still there after stopGrace. It does not wait.
func (p *proc) stop() {
	if p.done() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	go func() {
		select {
		case <-p.exited:
		case <-time.After(stopGrace):
			_ = p.cmd.Process.Kill()
		}
	}()
}

// conn is a net.Conn over the standard input and output of an ssh process.
// A process that fails before it has carried a byte makes Read and Write
// return an *Error with what it said on its standard error.
type conn struct {
	*proc
	in     *os.File    // our end of its stdin
	out    *os.File    // our end of its stdout
	used   atomic.Bool // a byte came back: later failures are not connect failures
	closed sync.Once
}

// start runs ssh with args and returns the connection over its stdio.
func start(dest string, args []string) (*conn, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("ssh %s: %w", dest, err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("ssh %s: %w", dest, err)
	}
	p, err := run(dest, args, func(cmd *exec.Cmd) { cmd.Stdin, cmd.Stdout = inR, outW })
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, err
	}
	return &conn{proc: p, in: inW, out: outR}, nil
}

// failed is the connection's *Error when the process has exited (waiting
// for that with wait) without having carried anything, or nil.
func (c *conn) failed(wait bool) error {
	if wait {
		<-c.exited
	}
	if c.used.Load() {
		return nil
	}
	return c.failure()
}

func (c *conn) Read(p []byte) (int, error) {
	n, err := c.out.Read(p)
	if n > 0 {
		c.used.Store(true)
	}
	if err == io.EOF { // ssh closes its stdout as it exits
		if f := c.failed(true); f != nil {
			return n, f
		}
	}
	return n, err
}

func (c *conn) Write(p []byte) (int, error) {
	n, err := c.in.Write(p)
	if errors.Is(err, syscall.EPIPE) {
		if f := c.failed(false); f != nil {
			return n, f
		}
	}
	return n, err
}

// CloseWrite ends the stream towards the engine (the container's stdin
// reaching its end), keeping the way back open.
func (c *conn) CloseWrite() error { return c.in.Close() }

// CloseRead stops reading; the engine's side learns it when ssh exits.
func (c *conn) CloseRead() error { return c.out.Close() }

// Close ends the connection and the ssh process (ours, by its pid).
func (c *conn) Close() error {
	c.closed.Do(func() {
		c.in.Close()
		c.out.Close()
		c.stop()
	})
	return nil
}

func (c *conn) LocalAddr() net.Addr  { return addr("hpr") }
func (c *conn) RemoteAddr() net.Addr { return addr(c.dest) }

func (c *conn) SetDeadline(t time.Time) error {
	return errors.Join(c.in.SetWriteDeadline(t), c.out.SetReadDeadline(t))
}
func (c *conn) SetReadDeadline(t time.Time) error  { return c.out.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.in.SetWriteDeadline(t) }

type addr string

func (a addr) Network() string { return "ssh" }
func (a addr) String() string  { return string(a) }

// cause says why an ssh process ended: the last line it (or the remote
// command) wrote on stderr, without ssh's "ssh: " prefix.
func cause(stderr string, code int, err error) string {
	line := lastLine(stderr)
	switch {
	case code == 127:
		return line + " (the remote command must be in the PATH of a non-interactive ssh session there)"
	case line != "":
		return line
	case code == 255:
		return "ssh failed (exit status 255) and said nothing"
	case code >= 0:
		return fmt.Sprintf("the remote command exited with status %d and said nothing", code)
	default:
		return err.Error()
	}
}

// tail keeps the last few KiB written to it: what ssh says before it exits.
type tail struct {
	mu sync.Mutex
	b  []byte
}

const tailMax = 4 << 10

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > tailMax {
		t.b = bytes.Clone(t.b[len(t.b)-tailMax:])
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// Output runs a command on the remote host and returns what it printed on
// stdout, within ctx; a failure is an *Error with its last words. ssh joins
// the words with spaces for the remote user's shell: quote what must stay
// one word.
func (t Target) Output(ctx context.Context, remote ...string) (string, error) {
	return t.Input(ctx, nil, remote...)
}

// Script runs a POSIX shell script on the remote host (sh reading it from
// its standard input, whatever the user's login shell is) and returns what
// it printed, as Output does. Quote the values it holds with Quote.
func (t Target) Script(ctx context.Context, script string) (string, error) {
	return t.Input(ctx, strings.NewReader(script), "sh", "-s")
}

// Input is Output with the command's standard input read from in (nil:
// none).
func (t Target) Input(ctx context.Context, in io.Reader, remote ...string) (string, error) {
	return t.complete(ctx, t.args(nil, remote...), in)
}

// complete runs ssh with args to its end within ctx, with stdin read from
// in, and returns what it printed.
func (t Target) complete(ctx context.Context, args []string, in io.Reader) (string, error) {
	var out bytes.Buffer
	p, err := run(t.Dest(), args, func(cmd *exec.Cmd) { cmd.Stdin, cmd.Stdout = in, &out })
	if err != nil {
		return "", err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		p.stop()
		<-p.exited
		return "", &Error{Dest: t.Dest(), Cause: ended(ctx)}
	}
	if err := p.failure(); err != nil {
		return "", err
	}
	return out.String(), nil
}

// ended says why ctx ended, as the cause of a connection it cut short.
func ended(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "no answer (timed out)"
	}
	return context.Cause(ctx).Error()
}
