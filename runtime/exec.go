package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

// ExecOptions is one command run in a running container, and the signals
// and terminal sizes to pass on to it while it runs.
type ExecOptions struct {
	Spec ExecSpec
	// Signals, when not nil, delivers signals to pass on to the command. A
	// second signal, or the command not ending within StopGrace of the
	// first, kills it, as in Run.
	Signals <-chan os.Signal
	// StopGrace is how long a signal passed on may take to end the command
	// before it is killed; 0 means 10 s.
	StopGrace time.Duration
	// Resize, when not nil, delivers terminal sizes for a TTY command
	// (Spec.Streams.TTY): they size its exec session from when the
	// command has started, as Run sizes its container.
	Resize <-chan TermSize
}

// execMarker is the environment variable that marks the processes of one
// Exec, so that signals can be passed on to them: neither engine can signal
// an exec's process through its API.
const execMarker = "HPR_EXEC"

// killMarked signals ($1) every process of the container whose environment
// holds execMarker=$2: the exec'd command and the children that inherited
// it, as a terminal signals its foreground process group.
const killMarked = `for d in /proc/[0-9]*; do
  case "$(tr '\0' '\n' <"$d/environ" 2>/dev/null)" in
  *"` + execMarker + `=$2"*) kill -"$1" "${d#/proc/}" 2>/dev/null ;;
  esac
done
:`

// Exec runs a command in container id like Engine.Exec, and passes the
// signals of opts.Signals on to it and to the processes that inherited its
// environment, with Run's rule (RunOptions.Signals): after hpr killed the
// command, its exit code is the first signal's. A signal that comes before
// the command has started is lost; a terminal size waits for the start.
// Exec returns when the command ends, or when ctx does (which leaves the
// command running: callers that mean signals to stop it pass a context
// that does not end).
func Exec(ctx context.Context, e Engine, id string, opts ExecOptions) (int, error) {
	spec := opts.Spec
	token := rand.Text()
	spec.Env = append(append([]string(nil), spec.Env...), execMarker+"="+token)
	// The engine names the exec session once the command has started: the
	// sizes are passed on from then.
	started := make(chan string, 1)
	if opts.Resize != nil && spec.Streams.TTY {
		spec.Started = func(execID string) {
			select {
			case started <- execID:
			default: // a second call: the sizes go to the first session
			}
		}
	}
	stopSizes := func() {}
	defer func() { stopSizes() }()
	done := make(chan waitResult, 1)
	go func() {
		code, err := e.Exec(ctx, id, spec)
		done <- waitResult{code, err}
	}()
	// Each signal is an exec of its own, which takes a while: it is sent
	// beside the loop, so that the command's end is not waited on behind it.
	signals := newEscalation(opts.StopGrace, func(s syscall.Signal) error {
		go signalMarked(context.WithoutCancel(ctx), e, id, spec, token, s)
		return nil
	})
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return r.code, r.err
			}
			return signals.exitCode(r.code), nil
		case execID := <-started:
			stopSizes = passSizes(ctx, opts.Resize, func(ctx context.Context, s TermSize) error {
				return e.ResizeExec(ctx, execID, s.Height, s.Width)
			})
		case sig := <-opts.Signals:
			_ = signals.signal(sig) // signalMarked reports its own failures
		case <-signals.deadline:
			signals.expired()
		}
	}
}

// signalMarked sends s to the processes of container id marked with token,
// through an exec of its own as the user of spec; a failure is a warning on
// spec's stderr.
func signalMarked(ctx context.Context, e Engine, id string, spec ExecSpec, token string, s syscall.Signal) {
	var out bytes.Buffer
	code, err := e.Exec(ctx, id, ExecSpec{
		Cmd:  []string{"sh", "-c", killMarked, "sh", strconv.Itoa(int(s)), token},
		User: spec.User,
		// An exec with no stream attached is not started by Podman.
		Streams: Streams{Stdout: &out, Stderr: &out},
	})
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d: %s", code, bytes.TrimSpace(out.Bytes()))
	}
	if err != nil && spec.Streams.Stderr != nil {
		fmt.Fprintf(spec.Streams.Stderr, "hpr: warning: passing %v on to the command: %v\n", s, err)
	}
}
