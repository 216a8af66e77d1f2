package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Condition is what a run waits for, after starting a companion, before it
// starts what depends on it (compose's depends_on condition).
type Condition string

// Conditions.
const (
	// ConditionStarted: the companion's container has started.
	ConditionStarted Condition = "service_started"
	// ConditionHealthy: its healthcheck has passed.
	ConditionHealthy Condition = "service_healthy"
	// ConditionCompleted: it has exited with status 0.
	ConditionCompleted Condition = "service_completed_successfully"
)

// Healthcheck is a companion's healthcheck. hpr runs it itself, through
// Exec, the same way on every engine: Podman runs healthchecks from systemd
// timers, which machines without systemd do not have.
type Healthcheck struct {
	// Test is the command, in exec form.
	Test []string
	// Interval separates the checks; Timeout bounds each; failures during
	// StartPeriod do not count; Retries consecutive failures after it make
	// the companion unhealthy.
	Interval    time.Duration
	Timeout     time.Duration
	StartPeriod time.Duration
	Retries     int
}

// Companion is a container a run starts before its own: a service the
// project's container depends on.
type Companion struct {
	// Name is the service's name: the host name the containers started
	// after it reach it by.
	Name string
	Spec ContainerSpec
	// Wait is what must hold before anything that depends on it starts.
	Wait   Condition
	Health *Healthcheck
	// Gate checks Spec's host paths right before the create (RunOptions.Gate).
	Gate Gate
}

// CompanionOptions start a run's companions.
type CompanionOptions struct {
	// Network is created for the run; every companion, and the container
	// Join prepares, is attached to it.
	Network NetworkSpec
	// Companions are started in this order (dependencies first).
	Companions []Companion
	// Output receives the companions' output, each line prefixed with the
	// service's name.
	Output io.Writer
}

// Companions are a run's started companions and its network, which exists
// as long as they do: StartCompanions makes the network first.
type Companions struct {
	e       Engine
	network string
	ids     []string
	outputs []<-chan error
	out     *prefixer
	hosts   []string
	// waits is the context of the companions' Waits, which outlive the
	// start but not Stop.
	waits     context.Context
	stopWaits context.CancelFunc
}

// StartCompanions creates the run's network and starts the companions in
// order, each once what it must wait for holds. On an error, what was
// started is removed again. Stop removes them all when the run ends.
func StartCompanions(ctx context.Context, e Engine, o CompanionOptions) (*Companions, error) {
	if err := e.CreateNetwork(ctx, o.Network); err != nil {
		return nil, err
	}
	Trace(ctx, "network")
	c := &Companions{e: e, network: o.Network.Name, out: &prefixer{w: o.Output}}
	c.waits, c.stopWaits = context.WithCancel(context.WithoutCancel(ctx))
	if o.Output == nil {
		c.out.w = io.Discard
	}
	for _, comp := range o.Companions {
		if err := c.start(ctx, comp); err != nil {
			c.Stop(ctx)
			return nil, fmt.Errorf("service %s: %w", comp.Name, err)
		}
	}
	return c, nil
}

// start creates, attaches to and starts one companion, learns its address
// and waits for its condition.
func (c *Companions) start(ctx context.Context, comp Companion) error {
	spec, err := gated(comp.Gate, c.Join(comp.Spec))
	if err != nil {
		return err
	}
	spec, err = withIdentity(spec)
	if err != nil {
		return fmt.Errorf("creating container: %w", err)
	}
	id, err := c.e.Create(ctx, spec)
	if err != nil {
		return fmt.Errorf("creating container: %w", err)
	}
	c.ids = append(c.ids, id)
	w := c.out.stream(comp.Name)
	done, err := c.e.Attach(ctx, id, Streams{Stdout: w, Stderr: w})
	if err != nil {
		return fmt.Errorf("attaching to container: %w", err)
	}
	c.outputs = append(c.outputs, done)
	exited := make(chan waitResult, 1)
	if err := c.e.Start(ctx, id); err != nil {
		return fmt.Errorf("starting container: %w", err)
	}
	go func() {
		code, err := c.e.Wait(c.waits, id)
		exited <- waitResult{code, err}
	}()
	if comp.Wait != ConditionCompleted {
		addr, err := c.e.Address(ctx, id, c.network)
		if err != nil {
			return err
		}
		c.hosts = append(c.hosts, comp.Name+":"+addr)
	}
	Trace(ctx, "start "+comp.Name)
	switch comp.Wait {
	case ConditionStarted, "":
		return nil
	case ConditionHealthy:
		return c.healthy(ctx, id, comp.Health, exited)
	case ConditionCompleted:
		return completed(ctx, exited)
	default:
		return fmt.Errorf("unknown depends_on condition %q", comp.Wait)
	}
}

// ErrUnhealthy: a companion's healthcheck failed its retries, or the
// companion exited before it passed.
var ErrUnhealthy = errors.New("unhealthy")

// healthy runs the healthcheck until it passes.
func (c *Companions) healthy(ctx context.Context, id string, h *Healthcheck, exited <-chan waitResult) error {
	if h == nil || len(h.Test) == 0 {
		return fmt.Errorf("%w: condition %s needs a healthcheck", ErrUnsupported, ConditionHealthy)
	}
	started := time.Now()
	failures := 0
	var last string
	for next := time.After(0); ; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case r := <-exited:
			return fmt.Errorf("%w: it exited (status %d) before its healthcheck passed", ErrUnhealthy, r.code)
		case <-next:
		}
		code, out, err := c.check(ctx, id, h)
		if err == nil && code == 0 {
			return nil
		}
		last = fmt.Sprintf("exit %d %q", code, bytes.TrimSpace(out))
		if err != nil {
			last = err.Error()
		}
		if time.Since(started) >= h.StartPeriod {
			failures++
		}
		if failures >= max(h.Retries, 1) {
			return fmt.Errorf("%w: healthcheck %q failed %d times, last: %s", ErrUnhealthy, h.Test, failures, last)
		}
		next = time.After(h.Interval)
	}
}

// check runs the healthcheck's test once, bounded by its timeout.
func (c *Companions) check(ctx context.Context, id string, h *Healthcheck) (int, []byte, error) {
	if h.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, h.Timeout)
		defer cancel()
	}
	var out limitedBuffer
	code, err := c.e.Exec(ctx, id, ExecSpec{Cmd: h.Test, Streams: Streams{Stdout: &out, Stderr: &out}})
	return code, out.bytes(), err
}

// completed waits for the companion's exit with status 0.
func completed(ctx context.Context, exited <-chan waitResult) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r := <-exited:
		switch {
		case r.err != nil:
			return fmt.Errorf("waiting for container: %w", r.err)
		case r.code != 0:
			return fmt.Errorf("it exited with status %d, and %s needs 0", r.code, ConditionCompleted)
		}
		return nil
	}
}

// Join returns spec attached to the run's network, with the started
// companions' names in its /etc/hosts.
func (c *Companions) Join(spec ContainerSpec) ContainerSpec {
	if c == nil {
		return spec
	}
	if spec.Network == "" {
		spec.Network = c.network
	}
	spec.ExtraHosts = append(append([]string(nil), spec.ExtraHosts...), c.hosts...)
	return spec
}

// outputDrain bounds how long Stop waits for the companions' last output.
const outputDrain = 2 * time.Second

// Stop removes the companions, their anonymous volumes and the network,
// even when ctx has ended. Named volumes stay.
func (c *Companions) Stop(ctx context.Context) error {
	if c == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), RemoveTimeout)
	defer cancel()
	defer c.stopWaits()
	var errs []error
	for i := len(c.ids) - 1; i >= 0; i-- {
		if err := c.e.Remove(ctx, c.ids[i]); err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
		}
	}
	drain := time.After(outputDrain)
	for _, done := range c.outputs {
		select {
		case <-done:
		case <-drain:
		}
	}
	c.out.flush()
	if err := c.e.RemoveNetwork(ctx, c.network); err != nil && !errors.Is(err, ErrNotFound) {
		errs = append(errs, err)
	}
	Trace(ctx, "companions removed")
	return errors.Join(errs...)
}

// prefixer writes the lines of several streams to w, each prefixed with
// its stream's name, whole lines at a time.
type prefixer struct {
	mu      sync.Mutex
	w       io.Writer
	streams []*prefixed
}

func (p *prefixer) stream(name string) io.Writer {
	s := &prefixed{p: p, prefix: []byte(name + " | ")}
	p.mu.Lock()
	p.streams = append(p.streams, s)
	p.mu.Unlock()
	return s
}

// flush writes the streams' unfinished last lines.
func (p *prefixer) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.streams {
		if len(s.partial) > 0 {
			p.write(s.prefix, append(s.partial, '\n'))
			s.partial = nil
		}
	}
}

// write writes one prefixed line; p.mu is held.
func (p *prefixer) write(prefix, line []byte) {
	_, _ = p.w.Write(append(append([]byte(nil), prefix...), line...))
}

type prefixed struct {
	p      *prefixer
	prefix []byte
	// partial is a line not yet ended; guarded by p.mu.
	partial []byte
}

// Write writes the complete lines of b, keeping a partial last line for
// the next write.
func (s *prefixed) Write(b []byte) (int, error) {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	s.partial = append(s.partial, b...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.p.write(s.prefix, s.partial[:i+1])
		s.partial = s.partial[i+1:]
	}
	return len(b), nil
}

// limitedBuffer keeps the first bytes written to it: a healthcheck's
// output, for the message when it fails.
type limitedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *limitedBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 512 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}
