package podman

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/containers/podman/v5/pkg/bindings"
	"github.com/containers/podman/v5/pkg/bindings/containers"
	"github.com/containers/podman/v5/pkg/bindings/system"
	entitiesTypes "github.com/containers/podman/v5/pkg/domain/entities/types"
	"github.com/containers/podman/v5/pkg/errorhandling"
	"github.com/containers/podman/v5/pkg/specgen"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// Create creates a container and hands the roots of its named volumes to
// the plan's user (see handOverVolumes); identity comes as Mounts and Tmpfs
// in the spec.
//
// The container is created with --rm semantics: once it exits, the
// service's cleanup process (conmon's exit command) releases its network
// and storage and removes it, whether hpr is still there or not. On rootful
// Podman that cleanup is slow (netavark deletes the container's iptables
// rules one command at a time); hpr reads the exit status as soon as the
// output ends (Exited) and need not wait for it. Remove still works at any
// time.
func (e *Engine) Create(ctx context.Context, cs runtime.ContainerSpec) (string, error) {
	s, err := specGenerator(cs)
	if err != nil {
		return "", fmt.Errorf("creating container of %s: %w", cs.Image, err)
	}
	remove := true
	s.Remove = &remove
	if s.UserNS.NSMode == specgen.KeepID {
		unlock, err := lockKeepIDCreate(ctx, e.endpoint)
		if err != nil {
			return "", fmt.Errorf("creating container of %s: %w", cs.Image, err)
		}
		defer unlock()
	}
	c, cancel := e.call(ctx)
	defer cancel()
	r, err := containers.CreateWithSpec(c, s, nil)
	// A keep-id create may still meet another client's concurrent one (see
	// lockKeepIDCreate) and fail with "keep-id requires additional UIDs or
	// GIDs", although the ranges are there: it is transient, so try again a
	// few times before reporting it.
	for try := 0; err != nil && try < 3 && strings.Contains(err.Error(), "keep-id requires additional UIDs") && ctx.Err() == nil; try++ {
		time.Sleep(time.Duration(50*(try+1)) * time.Millisecond)
		r, err = containers.CreateWithSpec(c, s, nil)
	}
	if err != nil {
		return "", fmt.Errorf("creating container of %s: %w", cs.Image, e.translate(ctx, err))
	}
	if err := e.handOverVolumes(ctx, r.ID, cs); err != nil {
		e.removeQuietly(ctx, r.ID)
		return "", fmt.Errorf("creating container of %s: %w", cs.Image, err)
	}
	return r.ID, nil
}

// specGenerator translates a ContainerSpec into libpod's. It is pure.
func specGenerator(cs runtime.ContainerSpec) (*specgen.SpecGenerator, error) {
	if err := runtime.CheckPlan(cs.Plan, idmap.KindPodman); err != nil {
		return nil, err
	}
	s := specgen.NewSpecGenerator(cs.Image, false)
	if cs.ImageID != "" {
		s.Image, s.RawImageName = cs.ImageID, cs.Image
	}
	s.Name = cs.Name
	s.Entrypoint = cs.Entrypoint
	s.Command = cs.Cmd
	s.Env = map[string]string{}
	for _, kv := range cs.Env {
		k, v, _ := strings.Cut(kv, "=")
		s.Env[k] = v
	}
	for _, kv := range cs.Plan.Env {
		if k, v, _ := strings.Cut(kv, "="); !hasKey(s.Env, k) {
			s.Env[k] = v
		}
	}
	s.WorkDir = cs.WorkingDir
	s.User = cs.Plan.User
	userns, err := usernsMode(cs.Plan.Userns)
	if err != nil {
		return nil, err
	}
	s.UserNS = userns
	if s.Mounts, err = mounts(cs); err != nil {
		return nil, err
	}
	if cs.SELinux == runtime.SELinuxDisable {
		disableLabels(s)
	}
	for _, v := range cs.Volumes {
		s.Volumes = append(s.Volumes, &specgen.NamedVolume{Name: v.Name, Dest: v.Target})
	}
	for _, p := range cs.Ports {
		proto, err := p.Proto()
		if err != nil {
			return nil, fmt.Errorf("publishing: %w", err)
		}
		s.PortMappings = append(s.PortMappings, nettypes.PortMapping{
			HostIP: p.HostIP, HostPort: p.HostPort, ContainerPort: p.ContainerPort, Protocol: proto,
		})
	}
	s.Labels = maps.Clone(cs.Labels)
	s.Terminal = &cs.TTY
	s.Stdin = &cs.OpenStdin
	noNewPrivileges := !cs.AllowNewPrivileges
	s.NoNewPrivileges = &noNewPrivileges
	privileged := false
	s.Privileged = &privileged
	s.CapAdd = slices.Clone(cs.CapAdd)
	s.CapDrop = slices.Clone(cs.CapDrop)
	specExtras(cs, s)
	// No Init: catatonit is not installed everywhere Podman is.
	return s, nil
}

// mounts translates the spec's bind and tmpfs mounts.
func mounts(cs runtime.ContainerSpec) ([]spec.Mount, error) {
	var out []spec.Mount
	for _, m := range cs.Mounts {
		opts := []string{"rbind"}
		if m.ReadOnly {
			opts = append(opts, "ro")
		}
		relabel, err := cs.Relabel(m)
		if err != nil {
			return nil, err
		}
		if relabel != "" {
			opts = append(opts, relabel)
		}
		out = append(out, spec.Mount{Type: "bind", Source: m.Source, Destination: m.Target, Options: opts})
	}
	for _, t := range cs.Tmpfs {
		// Podman 4 rejects uid= and gid=; U makes the tmpfs the container
		// user's, which must then be the owner asked for.
		if t.UID != cs.Plan.UID || t.GID != cs.Plan.GID {
			return nil, fmt.Errorf("tmpfs %s owned by %d:%d, not the container's user %d:%d: %w", t.Target, t.UID, t.GID, cs.Plan.UID, cs.Plan.GID, runtime.ErrUnsupported)
		}
		out = append(out, spec.Mount{Type: "tmpfs", Source: "tmpfs", Destination: t.Target, Options: []string{
			// exec: a HOME must be able to hold tools (~/.local/bin).
			"rw", "exec", "nosuid", "nodev", "U", fmt.Sprintf("mode=%#o", t.Mode.Perm()),
		}})
	}
	return out, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// usernsMode translates a plan's Userns into libpod's.
func usernsMode(userns string) (specgen.Namespace, error) {
	switch {
	case userns == "":
		return specgen.Namespace{}, nil // the service's default
	case userns == "host":
		return specgen.Namespace{NSMode: specgen.Host}, nil
	case userns == "keep-id":
		return specgen.Namespace{NSMode: specgen.KeepID}, nil
	case strings.HasPrefix(userns, "keep-id:"):
		return specgen.Namespace{NSMode: specgen.KeepID, Value: strings.TrimPrefix(userns, "keep-id:")}, nil
	default:
		return specgen.Namespace{}, fmt.Errorf("user namespace %q: %w", userns, runtime.ErrUnsupported)
	}
}

// readerOnly and writerOnly hide *os.File from the bindings, which would
// otherwise put a terminal in raw mode and watch SIGWINCH themselves; the
// caller owns the terminal and calls Resize.
type readerOnly struct{ io.Reader }
type writerOnly struct{ io.Writer }

func hideFiles(s runtime.Streams) (stdin io.Reader, stdout, stderr io.Writer) {
	if s.Stdin != nil {
		stdin = &readerOnly{s.Stdin}
	}
	if s.Stdout != nil {
		stdout = &writerOnly{s.Stdout}
	}
	if s.Stderr != nil {
		stderr = &writerOnly{s.Stderr}
	}
	return stdin, stdout, stderr
}

// Attach attaches s to a created container and returns once the service
// has attached. done receives the attach's error (nil when the output ended)
// and is then closed. Detach keys are off: every byte of stdin reaches the
// container.
func (e *Engine) Attach(ctx context.Context, id string, s runtime.Streams) (<-chan error, error) {
	c, cancel, err := e.hijackCall(ctx)
	if err != nil {
		return nil, fmt.Errorf("attaching to %s: %w", id, err)
	}
	stdin, stdout, stderr := hideFiles(s)
	ready := make(chan bool, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- containers.Attach(c, id, stdin, stdout, stderr, ready,
			new(containers.AttachOptions).WithDetachKeys("").WithStream(true))
	}()
	select {
	case <-ready:
	case err := <-errc:
		cancel()
		if err == nil {
			err = errors.New("attach ended before it was established")
		}
		if ctx.Err() == nil && isStartFailure(err) {
			// Attaching to a created container makes Podman create it in
			// the OCI runtime, which is where runc finds the command
			// missing. Let Start report it, as the caller expects: it
			// cannot start the container either, and may find it gone
			// (its --rm cleanup) instead of saying why.
			e.attachFailed.Store(id, err)
			done := make(chan error)
			close(done)
			return done, nil
		}
		return nil, fmt.Errorf("attaching to %s: %w", id, e.translate(ctx, err))
	}
	done := make(chan error, 1)
	go func() {
		err := <-errc
		cancel()
		if err != nil {
			err = fmt.Errorf("attached to %s: %w", id, e.translate(ctx, err))
		}
		done <- err
		close(done)
	}()
	return done, nil
}

// hijackCall is call for the bindings' hijacking requests (attach, exec
// start): they replace the connection's HTTP transport, racing every other
// request on it, so each gets a connection of its own. The CancelFunc also
// closes it.
func (e *Engine) hijackCall(ctx context.Context) (context.Context, context.CancelFunc, error) {
	c, cancel := e.call(ctx)
	pc, err := bindings.NewConnection(c, e.bindingsURI())
	if err != nil {
		cancel()
		return nil, nil, e.translate(ctx, err)
	}
	return pc, func() {
		cancel()
		if conn, err := bindings.GetClient(pc); err == nil {
			conn.Client.CloseIdleConnections()
		}
	}, nil
}

// Start starts a created container. A command that cannot be found or run
// gives runtime.ErrCommandNotFound / runtime.ErrCommandNotExecutable.
func (e *Engine) Start(ctx context.Context, id string) error {
	if err, ok := e.attachFailed.LoadAndDelete(id); ok {
		return commandError(id, err.(error))
	}
	c, cancel := e.call(ctx)
	defer cancel()
	if err := containers.Start(c, id, nil); err != nil {
		if ctx.Err() == nil && isStartFailure(err) {
			return commandError(id, err)
		}
		return fmt.Errorf("starting %s: %w", id, e.translate(ctx, err))
	}
	return nil
}

// commandError is a start failure of the container's command (see
// isStartFailure), wrapping ErrCommandNotFound or ErrCommandNotExecutable.
func commandError(id string, err error) error {
	return fmt.Errorf("starting %s: %w", id, &apiError{kind: startFailure(err.Error()), msg: err.Error(), err: err})
}

// isStartFailure reports whether the service failed to run the container's
// command (and not, say, to find the container).
func isStartFailure(err error) bool {
	var model *errorhandling.ErrorModel
	return errors.As(err, &model) && model.Code() != 404 && startFailure(model.Error()) != nil
}

// startFailure classifies the OCI runtime's complaint about the command.
func startFailure(msg string) error {
	l := strings.ToLower(msg)
	switch {
	case strings.Contains(l, "executable file not found"),
		strings.Contains(l, "no such file or directory"),
		strings.Contains(l, "command that was not found"):
		return runtime.ErrCommandNotFound
	case strings.Contains(l, "permission denied"):
		return runtime.ErrCommandNotExecutable
	}
	return nil
}

// Wait waits for the container to exit and returns its exit code. It asks
// the service to poll every 10 ms; its default is 250 ms.
func (e *Engine) Wait(ctx context.Context, id string) (int, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	var code int32
	err := untilDone(ctx, func() (err error) {
		code, err = containers.Wait(c, id, new(containers.WaitOptions).
			WithConditions([]string{"stopped", "exited"}).WithInterval("10ms"))
		return err
	})
	if err != nil && ctx.Err() == nil {
		// The cleanup process may remove the container (see Create) before
		// the wait reads its exit status: the service's events have it.
		if ev, eerr := e.exitFromEvents(ctx, id); eerr == nil {
			return ev, nil
		}
	}
	if err != nil {
		return -1, fmt.Errorf("waiting for %s: %w", id, e.translate(ctx, err))
	}
	return int(code), nil
}

// Exited inspects the container once. Podman reports the exit status
// ("stopped", with the code from conmon's exit file) as soon as the main
// process has ended, while libpod's wait also waits for conmon to exit and
// for the cleanup process to release the container's lock. A container the
// cleanup process has already removed is looked up in the service's events.
func (e *Engine) Exited(ctx context.Context, id string) (runtime.ExitState, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	d, err := containers.Inspect(c, id, nil)
	if err != nil {
		err = e.translate(ctx, err)
		if errors.Is(err, runtime.ErrNotFound) {
			if code, eerr := e.exitFromEvents(ctx, id); eerr == nil {
				return runtime.ExitState{Exited: true, Code: code, SelfRemoving: true}, nil
			}
		}
		return runtime.ExitState{}, fmt.Errorf("inspecting %s: %w", id, err)
	}
	st := runtime.ExitState{SelfRemoving: d.HostConfig != nil && d.HostConfig.AutoRemove}
	if d.State != nil {
		switch d.State.Status {
		case "stopped", "exited":
			st.Exited, st.Code = true, int(d.State.ExitCode)
		}
	}
	return st, nil
}

// exitFromEvents finds the exit code of a container in the service's
// "died" event (Podman 4.3's wait cannot answer for a removed container).
// It reads the service's whole event log (Podman 4.3 filters after reading,
// with or without a since), so it is only a fallback.
func (e *Engine) exitFromEvents(ctx context.Context, id string) (int, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	opts := &system.EventsOptions{
		Filters: map[string][]string{"container": {id}, "event": {"died"}},
		Stream:  new(bool),
	}
	ch := make(chan entitiesTypes.Event, 4)
	if err := system.Events(c, ch, nil, opts); err != nil {
		return -1, e.translate(ctx, err)
	}
	code, found := -1, false
	for ev := range ch {
		if v, ok := ev.Actor.Attributes["containerExitCode"]; ok {
			if n, err := strconv.Atoi(v); err == nil {
				code, found = n, true
			}
		}
	}
	if !found {
		return -1, fmt.Errorf("no exit status for %s in the service's events: %w", id, runtime.ErrNotFound)
	}
	return code, nil
}

// Signal sends signal sig (a number) to the container's main process.
func (e *Engine) Signal(ctx context.Context, id string, sig int) error {
	c, cancel := e.call(ctx)
	defer cancel()
	if err := containers.Kill(c, id, new(containers.KillOptions).WithSignal(strconv.Itoa(sig))); err != nil {
		return fmt.Errorf("signalling %s with %d: %w", id, sig, e.translate(ctx, err))
	}
	return nil
}

// Resize sets the container's TTY size; the container must be running.
func (e *Engine) Resize(ctx context.Context, id string, height, width uint) error {
	return e.resize(ctx, id, func(c context.Context) error {
		return containers.ResizeContainerTTY(c, id, new(containers.ResizeTTYOptions).
			WithHeight(int(height)).WithWidth(int(width)))
	})
}

// resize makes one of the bindings' resize calls, which differ only in the
// TTY they name: a container's or an exec session's.
func (e *Engine) resize(ctx context.Context, tty string, call func(c context.Context) error) error {
	c, cancel := e.call(ctx)
	defer cancel()
	if err := call(c); err != nil {
		return fmt.Errorf("resizing %s: %w", tty, e.translate(ctx, err))
	}
	return nil
}

// Remove force-removes a container and its anonymous volumes, killing it
// at once if it runs.
func (e *Engine) Remove(ctx context.Context, id string) error {
	c, cancel := e.call(ctx)
	defer cancel()
	reports, err := containers.Remove(c, id, new(containers.RemoveOptions).
		WithForce(true).WithVolumes(true).WithTimeout(0))
	if err == nil {
		for _, r := range reports {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		return fmt.Errorf("removing %s: %w", id, e.translate(ctx, err))
	}
	return nil
}

// BuildContainers lists Buildah's working containers in the service's
// store: its storage containers that are not libpod's (`podman ps
// --external`, State "storage", the command "buildah").
func (e *Engine) BuildContainers(ctx context.Context) ([]runtime.BuildContainer, error) {
	c, cancel := e.call(ctx)
	defer cancel()
	list, err := containers.List(c, new(containers.ListOptions).WithAll(true).WithExternal(true))
	if err != nil {
		return nil, fmt.Errorf("listing build containers: %w", e.translate(ctx, err))
	}
	var out []runtime.BuildContainer
	for _, l := range list {
		if l.State != "storage" || !slices.Equal(l.Command, []string{"buildah"}) {
			continue
		}
		bc := runtime.BuildContainer{ID: l.ID, Created: l.Created}
		if len(l.Names) > 0 {
			bc.Name = l.Names[0]
		}
		out = append(out, bc)
	}
	return out, nil
}

// List lists containers, running or not, that carry all of labels.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	filters := labelSelectors(labels)
	o := new(containers.ListOptions).WithAll(true)
	if len(filters) > 0 {
		o = o.WithFilters(map[string][]string{"label": filters})
	}
	c, cancel := e.call(ctx)
	defer cancel()
	list, err := containers.List(c, o)
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", e.translate(ctx, err))
	}
	out := make([]runtime.Container, 0, len(list))
	for _, l := range list {
		ct := runtime.Container{ID: l.ID, Image: l.Image, State: l.State, Labels: l.Labels, SelfRemoving: l.AutoRemove}
		if len(l.Names) > 0 {
			ct.Name = l.Names[0]
		}
		out = append(out, ct)
	}
	return out, nil
}

// labelSelectors are labels as the API's "label" filter takes them, sorted:
// "key" for an empty value, else "key=value".
func labelSelectors(labels map[string]string) []string {
	var sel []string
	for k, v := range labels {
		if v == "" {
			sel = append(sel, k)
		} else {
			sel = append(sel, k+"="+v)
		}
	}
	slices.Sort(sel)
	return sel
}
