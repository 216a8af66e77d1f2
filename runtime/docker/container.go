package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/pkg/stdcopy"
	"github.com/docker/go-connections/nat"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// Create creates a container and hands the roots of its named volumes to
// the plan's user (see handOverVolumes). A container whose volumes cannot be
// handed over is removed.
func (e *Engine) Create(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	if e.socket != "" {
		if err := relabelSourcesExist(spec); err != nil {
			return "", fmt.Errorf("creating container: %w", err)
		}
	}
	cfg, hc, err := containerConfig(spec)
	if err != nil {
		return "", fmt.Errorf("creating container: %w", err)
	}
	resp, err := e.c.ContainerCreate(ctx, cfg, hc, nil, nil, spec.Name)
	if err != nil {
		return "", fmt.Errorf("creating container: %w", e.translate(err))
	}
	if err := e.handOverVolumes(ctx, resp.ID, spec); err != nil {
		e.removeQuietly(ctx, resp.ID)
		return "", fmt.Errorf("creating container: %w", err)
	}
	return resp.ID, nil
}

// containerConfig turns a spec into the API's create request.
func containerConfig(spec runtime.ContainerSpec) (*container.Config, *container.HostConfig, error) {
	p := spec.Plan
	if err := runtime.CheckPlan(p, idmap.KindDocker); err != nil {
		return nil, nil, err
	}
	var userns container.UsernsMode
	switch p.Userns {
	case "":
	case "host":
		userns = "host"
	default:
		return nil, nil, fmt.Errorf("%w: user namespace mode %q is Podman's; docker knows only \"host\"", runtime.ErrUnsupported, p.Userns)
	}

	image := spec.Image
	if spec.ImageID != "" {
		image = spec.ImageID
	}
	cfg := &container.Config{
		Image:        image,
		Entrypoint:   spec.Entrypoint,
		Cmd:          spec.Cmd,
		Env:          mergeEnv(spec.Env, p.Env),
		WorkingDir:   spec.WorkingDir,
		User:         p.User,
		Labels:       spec.Labels,
		Tty:          spec.TTY,
		OpenStdin:    spec.OpenStdin,
		StdinOnce:    spec.OpenStdin, // stdin ends for the container when the attached stream ends
		AttachStdin:  spec.OpenStdin,
		AttachStdout: true,
		AttachStderr: true,
	}
	hc := &container.HostConfig{
		UsernsMode: userns,
		CapAdd:     spec.CapAdd,
		CapDrop:    spec.CapDrop,
	}
	for _, t := range spec.Tmpfs {
		if hc.Tmpfs == nil {
			hc.Tmpfs = map[string]string{}
		}
		hc.Tmpfs[t.Target] = fmt.Sprintf("uid=%d,gid=%d,mode=%04o,exec", t.UID, t.GID, unixMode(t.Mode))
	}
	if !spec.AllowNewPrivileges {
		hc.SecurityOpt = []string{"no-new-privileges"}
	}
	if spec.SELinux == runtime.SELinuxDisable {
		hc.SecurityOpt = append(hc.SecurityOpt, "label=disable")
	}
	if err := hostExtras(spec, hc); err != nil {
		return nil, nil, err
	}
	for _, m := range spec.Mounts {
		bind, err := relabelledBind(spec, m)
		if err != nil {
			return nil, nil, err
		}
		if bind != "" {
			hc.Binds = append(hc.Binds, bind)
			continue
		}
		// A bind mount through the Mounts API fails on a missing source
		// rather than creating it as root.
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	for _, v := range spec.Volumes {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeVolume, Source: v.Name, Target: v.Target})
	}
	var err error
	if cfg.ExposedPorts, hc.PortBindings, err = portBindings(spec.Ports); err != nil {
		return nil, nil, err
	}
	return cfg, hc, nil
}

// portBindings returns the ports a container exposes and publishes.
func portBindings(ports []runtime.Port) (nat.PortSet, nat.PortMap, error) {
	if len(ports) == 0 {
		return nil, nil, nil
	}
	exposed, bindings := nat.PortSet{}, nat.PortMap{}
	for _, pt := range ports {
		proto, err := pt.Proto()
		if err != nil {
			return nil, nil, err
		}
		port, err := nat.NewPort(proto, strconv.Itoa(int(pt.ContainerPort)))
		if err != nil {
			return nil, nil, fmt.Errorf("port %d: %w", pt.ContainerPort, err)
		}
		exposed[port] = struct{}{}
		hostPort := ""
		if pt.HostPort != 0 {
			hostPort = strconv.Itoa(int(pt.HostPort))
		}
		bindings[port] = append(bindings[port], nat.PortBinding{HostIP: pt.HostIP, HostPort: hostPort})
	}
	return exposed, bindings, nil
}

// unixMode returns the permission bits of m as chmod takes them, with the
// setuid, setgid and sticky bits given either as os.FileMode flags or as the
// octal 07000 bits of a literal such as 0o1777.
func unixMode(m os.FileMode) uint32 {
	u := uint32(m & 0o7777)
	if m&os.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// mergeEnv returns env followed by the entries of extra whose keys env does
// not set: the user's environment wins over the plan's.
func mergeEnv(env, extra []string) []string {
	if len(extra) == 0 {
		return env
	}
	set := make(map[string]bool, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		set[k] = true
	}
	out := append([]string(nil), env...)
	for _, kv := range extra {
		if k, _, _ := strings.Cut(kv, "="); !set[k] {
			out = append(out, kv)
		}
	}
	return out
}

// Attach connects s to a created container; call it before Start so that no
// output is lost. The attachment ends when the container's output ends or ctx
// is cancelled.
func (e *Engine) Attach(ctx context.Context, id string, s runtime.Streams) (<-chan error, error) {
	resp, err := e.c.ContainerAttach(ctx, id, container.AttachOptions{
		Stream: true,
		Stdin:  s.Stdin != nil,
		Stdout: true,
		Stderr: true,
	})
	if err != nil {
		return nil, fmt.Errorf("attaching to container %s: %w", runtime.ShortID(id), e.translate(err))
	}
	return pipe(ctx, resp, s), nil
}

// pipe copies stdin into a hijacked connection and its output to s until the
// output ends; the returned channel then gets the copy's error and closes.
func pipe(ctx context.Context, resp types.HijackedResponse, s runtime.Streams) <-chan error {
	stop := context.AfterFunc(ctx, resp.Close)
	if s.Stdin != nil {
		go func() {
			_, _ = io.Copy(resp.Conn, s.Stdin)
			_ = resp.CloseWrite()
		}()
	}
	done := make(chan error, 1)
	go func() {
		defer close(done)
		defer stop()
		defer resp.Close()
		stdout, stderr := orDiscard(s.Stdout), orDiscard(s.Stderr)
		var err error
		if s.TTY {
			_, err = io.Copy(stdout, resp.Reader)
		} else {
			_, err = stdcopy.StdCopy(stdout, stderr, resp.Reader)
		}
		if err != nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			done <- fmt.Errorf("copying container output: %w", err)
		}
	}()
	return done
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// Start starts a created container. A command that is not there or cannot
// be executed gives ErrCommandNotFound or ErrCommandNotExecutable.
func (e *Engine) Start(ctx context.Context, id string) error {
	if err := e.c.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		return fmt.Errorf("starting container %s: %w", runtime.ShortID(id), e.startError(err))
	}
	return nil
}

// startError classifies a start failure the way docker run does for its exit
// codes 127 and 126; the runtime's message arrives as text.
func (e *Engine) startError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "executable file not found"),
		strings.Contains(msg, "exec:") && strings.Contains(msg, "no such file or directory"):
		return fmt.Errorf("%w: %v", runtime.ErrCommandNotFound, err)
	case strings.Contains(msg, "exec:") && (strings.Contains(msg, "permission denied") ||
		strings.Contains(msg, "is a directory") || strings.Contains(msg, "exec format error")):
		return fmt.Errorf("%w: %v", runtime.ErrCommandNotExecutable, err)
	default:
		return e.translate(err)
	}
}

// Wait blocks until the container exits and returns its exit code. It may be
// called before or after Start and does not miss an exit that happens in
// between: a container not yet started is waited for with "next-exit", and
// its state is read again once the daemon has registered the wait. A Wait
// called before a Start that fails returns only when ctx ends.
func (e *Engine) Wait(ctx context.Context, id string) (int, error) {
	st, err := e.state(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("waiting for container %s: %w", runtime.ShortID(id), err)
	}
	cond := container.WaitConditionNotRunning
	if st.Status == container.StateCreated {
		cond = container.WaitConditionNextExit
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resC, errC := e.c.ContainerWait(ctx, id, cond)
	if cond == container.WaitConditionNextExit {
		// ContainerWait returns once the daemon has registered the wait; an
		// exit before that would never be reported to it.
		st, err := e.state(ctx, id)
		if err != nil {
			return 0, fmt.Errorf("waiting for container %s: %w", runtime.ShortID(id), err)
		}
		if st.Status == container.StateExited || st.Status == container.StateDead {
			return st.ExitCode, nil
		}
	}
	select {
	case res := <-resC:
		if res.Error != nil && res.Error.Message != "" {
			return 0, fmt.Errorf("waiting for container %s: %s", runtime.ShortID(id), res.Error.Message)
		}
		return int(res.StatusCode), nil
	case err := <-errC:
		return 0, fmt.Errorf("waiting for container %s: %w", runtime.ShortID(id), e.translate(err))
	}
}

// Exited never knows an exit status before Wait does: the daemon reports a
// container "exited" only once it has handled the exit (released the
// network, unmounted), which is when Wait returns, and an inspect while it
// does blocks on the container as long. So it answers "not known", without
// asking, and hpr removes Docker containers itself.
func (e *Engine) Exited(context.Context, string) (runtime.ExitState, error) {
	return runtime.ExitState{}, nil
}

func (e *Engine) state(ctx context.Context, id string) (*container.State, error) {
	ci, err := e.c.ContainerInspect(ctx, id)
	if err != nil {
		return nil, e.translate(err)
	}
	if ci.ContainerJSONBase == nil || ci.State == nil {
		return nil, fmt.Errorf("inspecting container %s: the daemon reported no state", runtime.ShortID(id))
	}
	return ci.State, nil
}

// Signal sends signal number sig to the container's main process.
func (e *Engine) Signal(ctx context.Context, id string, sig int) error {
	if err := e.c.ContainerKill(ctx, id, strconv.Itoa(sig)); err != nil {
		return fmt.Errorf("signalling container %s: %w", runtime.ShortID(id), e.translate(err))
	}
	return nil
}

// Resize sets the container's TTY size.
func (e *Engine) Resize(ctx context.Context, id string, height, width uint) error {
	if err := e.c.ContainerResize(ctx, id, container.ResizeOptions{Height: height, Width: width}); err != nil {
		return fmt.Errorf("resizing container %s: %w", runtime.ShortID(id), e.translate(err))
	}
	return nil
}

// Remove force-removes a container and its anonymous volumes.
func (e *Engine) Remove(ctx context.Context, id string) error {
	if err := e.c.ContainerRemove(ctx, id, container.RemoveOptions{Force: true, RemoveVolumes: true}); err != nil {
		return fmt.Errorf("removing container %s: %w", runtime.ShortID(id), e.translate(err))
	}
	return nil
}

// List lists containers in any state carrying all the labels given; a label
// BuildContainers lists no containers: the classic builder's containers
// are the daemon's own containers, which its build removes (ForceRemove)
// and a restart of the daemon does not leave behind.
func (e *Engine) BuildContainers(ctx context.Context) ([]runtime.BuildContainer, error) {
	return nil, nil
}

// with an empty value matches on the key alone.
func (e *Engine) List(ctx context.Context, labels map[string]string) ([]runtime.Container, error) {
	cs, err := e.c.ContainerList(ctx, container.ListOptions{All: true, Filters: labelFilters(labels)})
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", e.translate(err))
	}
	out := make([]runtime.Container, 0, len(cs))
	for _, c := range cs {
		var name string
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		out = append(out, runtime.Container{ID: c.ID, Name: name, Image: c.Image, State: string(c.State), Labels: c.Labels})
	}
	return out, nil
}
