package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// fakeEngine plays a container whose output ends at once: Exited answers
// from exits (one per call, the last repeated), Wait from waitCode after
// waitDelay. It records the calls Run makes. Only Run's orchestration is
// tested here; the engines themselves are tested against real daemons.
type fakeEngine struct {
	Engine // not called: a call panics

	exits     []ExitState
	exitedErr error
	createErr error
	waitCode  int
	waitDelay time.Duration
	// waitAfterExited, when not 0, makes Wait answer only once Exited has
	// been asked that many times (and then at once).
	waitAfterExited int
	polled          chan struct{}
	// outputUntilSignal keeps the output open until a signal comes.
	outputUntilSignal bool
	done              chan error
	// killed, when not nil, is closed by a SIGKILL: Wait, and Exec's
	// command, then answer 137 (a command that ignores other signals).
	killed chan struct{}
	// started, when not nil, is closed by Start.
	started chan struct{}
	// resized, when not nil, is closed by the resizesToEnd-th resize:
	// Wait, and Exec's command, then answer waitCode (a command that ends
	// once it has seen its terminal's sizes).
	resized      chan struct{}
	resizesToEnd int

	mu      sync.Mutex
	calls   []string
	signals []int
	resizes int
}

func (f *fakeEngine) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

// called is a copy of the calls so far: the fake's Wait may still be
// recording from its goroutine while the test reads them.
func (f *fakeEngine) called() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

func (f *fakeEngine) count(c string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, x := range f.calls {
		if x == c {
			n++
		}
	}
	return n
}

func (f *fakeEngine) Create(context.Context, ContainerSpec) (string, error) {
	f.record("create")
	if f.createErr != nil {
		return "", f.createErr
	}
	return "c1", nil
}

func (f *fakeEngine) Attach(context.Context, string, Streams) (<-chan error, error) {
	f.record("attach")
	f.done = make(chan error)
	if !f.outputUntilSignal {
		close(f.done)
	}
	return f.done, nil
}

func (f *fakeEngine) Start(context.Context, string) error { f.record("start"); return nil }

func (f *fakeEngine) Wait(ctx context.Context, _ string) (int, error) {
	f.record("wait")
	if f.waitAfterExited > 0 {
		for range f.waitAfterExited {
			select {
			case <-f.polled:
			case <-ctx.Done():
				return -1, ctx.Err()
			}
		}
		return f.waitCode, nil
	}
	return f.untilEnd(ctx)
}

// untilEnd is how the fake's container or exec'd command ends: with
// waitCode after waitDelay, or killed.
func (f *fakeEngine) untilEnd(ctx context.Context) (int, error) {
	select {
	case <-time.After(f.waitDelay):
		return f.waitCode, nil
	case <-f.killed:
		return 128 + int(syscall.SIGKILL), nil
	case <-f.resized:
		return f.waitCode, nil
	case <-ctx.Done():
		return -1, ctx.Err()
	}
}

// Exec plays the exec'd command, or passes a signal on to it when spec is
// the exec that signals the command's processes.
func (f *fakeEngine) Exec(ctx context.Context, id string, spec ExecSpec) (int, error) {
	if len(spec.Cmd) == 6 && spec.Cmd[2] == killMarked {
		n, err := strconv.Atoi(spec.Cmd[4])
		if err != nil {
			return 0, err
		}
		return 0, f.Signal(ctx, id, n)
	}
	f.record("exec")
	if !slices.ContainsFunc(spec.Env, func(v string) bool { return strings.HasPrefix(v, execMarker+"=") }) {
		return 0, errors.New("the command is not marked: signals cannot reach it")
	}
	if spec.Started != nil {
		f.record("exec started")
		spec.Started("e1")
	}
	return f.untilEnd(ctx)
}

func (f *fakeEngine) Exited(context.Context, string) (ExitState, error) {
	f.record("exited")
	if f.polled != nil {
		f.polled <- struct{}{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.exitedErr != nil {
		return ExitState{}, f.exitedErr
	}
	st := f.exits[0]
	if len(f.exits) > 1 {
		f.exits = f.exits[1:]
	}
	return st, nil
}

func (f *fakeEngine) Signal(_ context.Context, _ string, sig int) error {
	f.record("signal")
	f.mu.Lock()
	defer f.mu.Unlock()
	f.signals = append(f.signals, sig)
	if f.outputUntilSignal && len(f.signals) == 1 {
		close(f.done)
	}
	if sig == int(syscall.SIGKILL) && f.killed != nil && !slices.Contains(f.signals[:len(f.signals)-1], sig) {
		close(f.killed)
	}
	return nil
}

func (f *fakeEngine) Resize(_ context.Context, id string, height, width uint) error {
	f.resize(fmt.Sprintf("resize %s %dx%d", id, height, width))
	return nil
}

func (f *fakeEngine) resize(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if f.resizes++; f.resizes == f.resizesToEnd {
		close(f.resized)
	}
}

func (f *fakeEngine) ResizeExec(_ context.Context, execID string, height, width uint) error {
	f.resize(fmt.Sprintf("resize exec %s %dx%d", execID, height, width))
	return nil
}

func (f *fakeEngine) Remove(context.Context, string) error { f.record("remove"); return nil }

func TestRunReadsExitWhenOutputEnds(t *testing.T) {
	slow := time.Hour // Wait never answers in time: the code must come from Exited
	for _, tc := range []struct {
		name       string
		exits      []ExitState
		ports      []Port
		wantRemove int
	}{
		{"self-removing engine: left to it", []ExitState{{Exited: true, Code: 3, SelfRemoving: true}}, nil, 0},
		{"engine that does not remove: removed", []ExitState{{Exited: true, Code: 3}}, nil, 1},
		{"published ports: removed, so they are free when Run returns", []ExitState{{Exited: true, Code: 3, SelfRemoving: true}},
			[]Port{{HostPort: 5000, ContainerPort: 5000}}, 1},
		{"status seen on the third look", []ExitState{{}, {}, {Exited: true, Code: 3, SelfRemoving: true}}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEngine{exits: tc.exits, waitDelay: slow}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			code, err := Run(ctx, f, RunOptions{Spec: ContainerSpec{Image: "x", Ports: tc.ports}})
			if err != nil || code != 3 {
				t.Fatalf("Run = %d, %v; want 3", code, err)
			}
			if n := f.count("remove"); n != tc.wantRemove {
				t.Errorf("Remove called %d times, want %d (calls %v)", n, tc.wantRemove, f.called())
			}
		})
	}
}

func TestRunFallsBackToWait(t *testing.T) {
	for _, tc := range []struct {
		name      string
		exits     []ExitState
		exitedErr error
		// asks is how often Run asks Exited before it leaves the answer
		// to Wait; Wait answers once it has.
		asks int
	}{
		// A command that closed its output but runs on.
		{"still running", []ExitState{{SelfRemoving: true}}, nil, len(recheckAfter)},
		{"Exited fails", nil, errors.New("inspect failed"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEngine{exits: tc.exits, exitedErr: tc.exitedErr, waitCode: 7,
				waitAfterExited: tc.asks, polled: make(chan struct{}, 2*len(recheckAfter))}
			// Run stopping short of asks would leave Wait waiting: the
			// deadline then fails the test.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			code, err := Run(ctx, f, RunOptions{Spec: ContainerSpec{Image: "x"}})
			if err != nil || code != 7 {
				t.Fatalf("Run = %d, %v; want Wait's 7 after %d questions to Exited", code, err, tc.asks)
			}
			if n := f.count("remove"); n != 1 {
				t.Errorf("Remove called %d times after a Wait, want 1 (calls %v)", n, f.called())
			}
			if n := f.count("exited"); n != tc.asks {
				t.Errorf("Exited called %d times, want %d", n, tc.asks)
			}
		})
	}
}

// A forwarded signal is passed on once, and the status read as without one.
func TestRunAfterSignal(t *testing.T) {
	for _, tc := range []struct {
		name       string
		f          *fakeEngine
		wantRemove int
	}{
		{"status from Exited", &fakeEngine{exits: []ExitState{{Exited: true, Code: 143, SelfRemoving: true}}, waitDelay: time.Hour, outputUntilSignal: true}, 0},
		{"status from Wait", &fakeEngine{exits: []ExitState{{SelfRemoving: true}}, waitCode: 143, waitDelay: 300 * time.Millisecond}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
			sigs := make(chan os.Signal, 1)
			sigs <- syscall.SIGTERM
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			code, err := Run(ctx, f, RunOptions{Spec: ContainerSpec{Image: "x"}, Signals: sigs})
			if err != nil || code != 143 {
				t.Fatalf("Run = %d, %v; want 143", code, err)
			}
			if f.count("remove") != tc.wantRemove || len(f.signals) != 1 || f.signals[0] != int(syscall.SIGTERM) {
				t.Errorf("calls %v, signals %v; want SIGTERM passed on and %d Remove", f.called(), f.signals, tc.wantRemove)
			}
		})
	}
}

// signalsSent returns the signals sent, once there are n or ctx has ended.
func (f *fakeEngine) signalsSent(ctx context.Context, n int) []int {
	for {
		f.mu.Lock()
		got := slices.Clone(f.signals)
		f.mu.Unlock()
		if len(got) >= n || ctx.Err() != nil {
			return got
		}
		time.Sleep(time.Millisecond)
	}
}

// A command that ignores the signal passed on is killed after the grace, or
// at a second signal, and its end is reported as the first signal's: one
// rule for Run's container and Exec's command.
func TestSignalEscalates(t *testing.T) {
	runs := []struct {
		name string
		run  func(context.Context, Engine, <-chan os.Signal, time.Duration) (int, error)
	}{
		{"run", func(ctx context.Context, e Engine, sigs <-chan os.Signal, grace time.Duration) (int, error) {
			return Run(ctx, e, RunOptions{Spec: ContainerSpec{Image: "x"}, Signals: sigs, StopGrace: grace})
		}},
		{"exec", func(ctx context.Context, e Engine, sigs <-chan os.Signal, grace time.Duration) (int, error) {
			return Exec(ctx, e, "c1", ExecOptions{Spec: ExecSpec{Cmd: []string{"x"}}, Signals: sigs, StopGrace: grace})
		}},
	}
	for _, r := range runs {
		for _, tc := range []struct {
			name  string
			sigs  []os.Signal
			grace time.Duration
		}{
			{"after the grace", []os.Signal{syscall.SIGTERM}, 50 * time.Millisecond},
			{"at a second signal", []os.Signal{syscall.SIGTERM, syscall.SIGINT}, time.Hour},
		} {
			t.Run(r.name+"/"+tc.name, func(t *testing.T) {
				f := &fakeEngine{exits: []ExitState{{}}, waitDelay: time.Hour, killed: make(chan struct{})}
				sigs := make(chan os.Signal, len(tc.sigs))
				for _, s := range tc.sigs {
					sigs <- s
				}
				// A run that does not kill waits for the deadline.
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				code, err := r.run(ctx, f, sigs, tc.grace)
				if err != nil || code != 128+int(syscall.SIGTERM) {
					t.Fatalf("= %d, %v; want %d, the first signal's", code, err, 128+int(syscall.SIGTERM))
				}
				// Exec sends each signal beside its loop: in either order,
				// and SIGTERM possibly after the command has ended.
				want := []int{int(syscall.SIGKILL), int(syscall.SIGTERM)}
				if got := f.signalsSent(ctx, len(want)); !slices.Equal(slices.Sorted(slices.Values(got)), want) {
					t.Errorf("signals sent %v, want SIGTERM passed on and SIGKILL", got)
				}
			})
		}
	}
}

// A terminal's size is passed on once what runs has started, to what runs:
// the size that was waiting when Run or Exec began, then every new one.
func TestResizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(context.Context, Engine, <-chan TermSize) (int, error)
		// started is the call after which resizes may come; resized is
		// what they are to resize.
		started, resized string
	}{
		{"run", func(ctx context.Context, e Engine, sizes <-chan TermSize) (int, error) {
			return Run(ctx, e, RunOptions{Spec: ContainerSpec{Image: "x", TTY: true}, Resize: sizes})
		}, "start", "c1"},
		// The exec session's, not the container's.
		{"exec", func(ctx context.Context, e Engine, sizes <-chan TermSize) (int, error) {
			return Exec(ctx, e, "c1", ExecOptions{Spec: ExecSpec{Cmd: []string{"x"}, Streams: Streams{TTY: true}}, Resize: sizes})
		}, "exec started", "exec e1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEngine{exits: []ExitState{{}}, waitDelay: time.Hour, waitCode: 3, resized: make(chan struct{}), resizesToEnd: 2}
			sizes := make(chan TermSize, 1)
			sizes <- TermSize{Height: 33, Width: 111}
			go func() { sizes <- TermSize{Height: 40, Width: 132} }() // a SIGWINCH
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if code, err := tc.run(ctx, f, sizes); err != nil || code != 3 {
				t.Fatalf("= %d, %v; want 3, the command's once resized twice", code, err)
			}
			calls := f.called()
			resizes := slices.DeleteFunc(slices.Clone(calls), func(c string) bool { return !strings.HasPrefix(c, "resize") })
			want := []string{"resize " + tc.resized + " 33x111", "resize " + tc.resized + " 40x132"}
			if !slices.Equal(resizes, want) {
				t.Errorf("calls %v: want the resizes %q", calls, want)
			}
			if i, j := indexOf(calls, tc.started), indexOf(calls, want[0]); i < 0 || j < i {
				t.Errorf("calls %v: want %q after %q", calls, want[0], tc.started)
			}
		})
	}
}

// Verify runs once the container exists and decides, before anything
// starts, between running it and removing it with ErrStale.
func TestRunVerify(t *testing.T) {
	stale := fmt.Errorf("%w: img is image b now", ErrStale)
	for _, tc := range []struct {
		name       string
		createErr  error
		verifyErr  error
		wantStale  bool
		wantStart  int
		wantRemove int
	}{
		{"holds: runs", nil, nil, false, 1, 0},
		{"stale: removed, not started", nil, stale, true, 0, 1},
		{"other check failure: stale too", nil, errors.New("inspect failed"), true, 0, 1},
		{"create fails and stale: stale", ErrNotFound, stale, true, 0, 0},
		{"create fails, check holds: the create error", ErrNotFound, nil, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeEngine{exits: []ExitState{{Exited: true, Code: 3, SelfRemoving: true}}, waitDelay: time.Hour, createErr: tc.createErr}
			verify := func(context.Context) error {
				f.record("verify")
				return tc.verifyErr
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			code, err := Run(ctx, f, RunOptions{Spec: ContainerSpec{Image: "x"}, Verify: verify})
			if errors.Is(err, ErrStale) != tc.wantStale {
				t.Fatalf("Run = %d, %v; want ErrStale %v", code, err, tc.wantStale)
			}
			if !tc.wantStale && tc.createErr == nil && (err != nil || code != 3) {
				t.Fatalf("Run = %d, %v; want 3", code, err)
			}
			if tc.createErr != nil && !tc.wantStale && !errors.Is(err, tc.createErr) {
				t.Errorf("Run error %v, want the create's %v", err, tc.createErr)
			}
			calls := f.called()
			if f.count("verify") != 1 || f.count("start") != tc.wantStart || f.count("remove") != tc.wantRemove {
				t.Errorf("calls %v: want verify once, start %d, remove %d", calls, tc.wantStart, tc.wantRemove)
			}
			if i, j := indexOf(calls, "create"), indexOf(calls, "verify"); i < 0 || j < i {
				t.Errorf("calls %v: want verify after create", calls)
			}
		})
	}
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// OnceBack asks again while the engine does not answer, and stops at any
// other answer or when its context ends.
func TestOnceBack(t *testing.T) {
	other := errors.New("conflict")
	for _, tc := range []struct {
		name    string
		answers []error // the last repeats
		timeout time.Duration
		want    error
		calls   int
	}{
		{"answers", []error{nil}, time.Minute, nil, 1},
		{"back after a restart", []error{ErrUnreachable, ErrUnreachable, nil}, time.Minute, nil, 3},
		{"another failure", []error{ErrUnreachable, other}, time.Minute, other, 2},
		{"never back", []error{ErrUnreachable}, 100 * time.Millisecond, ErrUnreachable, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), tc.timeout)
			defer cancel()
			calls := 0
			err := OnceBack(ctx, func(context.Context) error {
				calls++
				return tc.answers[min(calls, len(tc.answers))-1]
			})
			if !errors.Is(err, tc.want) || err != nil && tc.want == nil || calls != tc.calls {
				t.Errorf("OnceBack: %v after %d calls, want %v after %d", err, calls, tc.want, tc.calls)
			}
		})
	}
}
