package runtime

import (
	"os"
	"syscall"
	"time"
)

// defaultStopGrace is the grace a forwarded signal gets when the caller
// names none (RunOptions.StopGrace, ExecOptions.StopGrace).
const defaultStopGrace = 10 * time.Second

// escalation is the one rule hpr follows for a process it passes signals on
// to, a container (Run) or an exec'd command (Exec): the first signal is
// passed on; a second one, or the process not ending within the grace of
// the first, kills it; and once hpr has killed it, its end is reported as
// the first signal's (128+n), not as hpr's SIGKILL. The caller's loop
// feeds it the signals and the deadline; it is not safe for concurrent use.
type escalation struct {
	// send passes a signal on; its error ends the caller's wait. SIGKILL
	// must be sent even when the caller's context has ended.
	send  func(syscall.Signal) error
	grace time.Duration

	first  syscall.Signal // the first signal passed on, 0 if none
	killed bool           // hpr escalated to SIGKILL
	// deadline fires when the grace of the first signal is over; nil until
	// then, so that a select on it blocks.
	deadline <-chan time.Time
}

func newEscalation(grace time.Duration, send func(syscall.Signal) error) *escalation {
	if grace == 0 {
		grace = defaultStopGrace
	}
	return &escalation{send: send, grace: grace}
}

// signal passes sig on when it is the first, and kills after that: a second
// signal says to stop waiting for the process to cooperate.
func (x *escalation) signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return nil
	}
	if x.first != 0 {
		x.kill()
		return nil
	}
	x.first = s
	if err := x.send(s); err != nil {
		return err
	}
	x.deadline = time.After(x.grace)
	return nil
}

// expired kills the process: the grace of the first signal is over.
func (x *escalation) expired() {
	x.deadline = nil
	x.kill()
}

func (x *escalation) kill() {
	x.killed = true
	_ = x.send(syscall.SIGKILL)
}

// exitCode is the code to report for the process's exit status c: after
// hpr killed it, the signal the user sent, not hpr's SIGKILL.
func (x *escalation) exitCode(c int) int {
	if x.killed {
		return 128 + int(x.first)
	}
	return c
}
