package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/hostpersist/hpr/runtime"
)

// execMarker is the environment variable that marks the processes of one
// hpr exec, so that signals hpr receives can be passed on to them: neither
// engine can signal an exec's process through its API.
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

// execForwarding runs spec in container id like Engine.Exec, and passes
// SIGINT, SIGTERM and SIGHUP that hpr receives on to the command instead of
// leaving it running when hpr ends. A second signal kills the command; hpr
// then reports the first signal, as hpr run does. A signal that comes before
// the command has started is lost.
func execForwarding(ctx context.Context, e runtime.Engine, id string, spec runtime.ExecSpec) (int, error) {
	token := rand.Text()
	spec.Env = append(append([]string(nil), spec.Env...), execMarker+"="+token)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	type result struct {
		code int
		err  error
	}
	// The exec ends when its command does: the signals below, not the
	// command's context, stop it.
	ctx = context.WithoutCancel(ctx)
	done := make(chan result, 1)
	go func() {
		code, err := e.Exec(ctx, id, spec)
		done <- result{code, err}
	}()
	var first syscall.Signal
	for {
		select {
		case r := <-done:
			if first != 0 && r.err == nil && r.code == 128+int(syscall.SIGKILL) {
				return 128 + int(first), nil
			}
			return r.code, r.err
		case sig := <-sigs:
			s, ok := sig.(syscall.Signal)
			if !ok {
				continue
			}
			if first == 0 {
				first = s
			} else {
				s = syscall.SIGKILL
			}
			go signalMarked(ctx, e, id, spec, token, s)
		}
	}
}

// signalMarked sends s to the processes of container id marked with token,
// through an exec of its own as the user of spec; a failure is a warning on
// spec's stderr.
func signalMarked(ctx context.Context, e runtime.Engine, id string, spec runtime.ExecSpec, token string, s syscall.Signal) {
	var out bytes.Buffer
	code, err := e.Exec(ctx, id, runtime.ExecSpec{
		Cmd:  []string{"sh", "-c", killMarked, "sh", strconv.Itoa(int(s)), token},
		User: spec.User,
		// An exec with no stream attached is not started by Podman.
		Streams: runtime.Streams{Stdout: &out, Stderr: &out},
	})
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d: %s", code, bytes.TrimSpace(out.Bytes()))
	}
	if err != nil && spec.Streams.Stderr != nil {
		fmt.Fprintf(spec.Streams.Stderr, "hpr: warning: passing %v on to the command: %v\n", s, err)
	}
}
