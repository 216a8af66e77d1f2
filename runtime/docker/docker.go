package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

var _ runtime.Engine = (*Engine)(nil)

// Client is the part of the Docker API client the Engine uses;
// *client.Client implements it. Tests hand New a fake through WithClient.
type Client interface {
	Info(ctx context.Context) (system.Info, error)
	ServerVersion(ctx context.Context) (types.Version, error)

	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageImport(ctx context.Context, source image.ImportSource, ref string, opts image.ImportOptions) (io.ReadCloser, error)
	ImageBuild(ctx context.Context, buildContext io.Reader, opts build.ImageBuildOptions) (build.ImageBuildResponse, error)
	ImageRemove(ctx context.Context, ref string, opts image.RemoveOptions) ([]image.DeleteResponse, error)
	ImageList(ctx context.Context, opts image.ListOptions) ([]image.Summary, error)

	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, name string) (container.CreateResponse, error)
	CopyFromContainer(ctx context.Context, id, srcPath string) (io.ReadCloser, container.PathStat, error)
	CopyToContainer(ctx context.Context, id, dstPath string, content io.Reader, opts container.CopyToContainerOptions) error
	ContainerAttach(ctx context.Context, id string, opts container.AttachOptions) (types.HijackedResponse, error)
	ContainerStart(ctx context.Context, id string, opts container.StartOptions) error
	ContainerWait(ctx context.Context, id string, condition container.WaitCondition) (<-chan container.WaitResponse, <-chan error)
	ContainerInspect(ctx context.Context, id string) (container.InspectResponse, error)
	ContainerKill(ctx context.Context, id, signal string) error
	ContainerResize(ctx context.Context, id string, opts container.ResizeOptions) error
	ContainerRemove(ctx context.Context, id string, opts container.RemoveOptions) error
	ContainerList(ctx context.Context, opts container.ListOptions) ([]container.Summary, error)

	ContainerExecCreate(ctx context.Context, id string, opts container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, opts container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
	ContainerExecResize(ctx context.Context, execID string, opts container.ResizeOptions) error

	VolumeInspect(ctx context.Context, name string) (volume.Volume, error)
	VolumeCreate(ctx context.Context, opts volume.CreateOptions) (volume.Volume, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error

	Close() error
}

// Engine is one Docker daemon endpoint. It is safe for concurrent use.
type Engine struct {
	endpoint string
	// socket is the unix socket path, or "" for other transports.
	socket string
	c      Client
}

// Option configures New.
type Option func(*options)

type options struct {
	client Client
	ssh    sshconn.Options
}

// WithClient makes the Engine use c instead of dialling the endpoint; the
// endpoint is then only used in messages.
func WithClient(c Client) Option {
	return func(o *options) { o.client = c }
}

// New returns an Engine for a Docker endpoint such as
// "unix:///var/run/docker.sock", "tcp://host:2375" or "ssh://user@host" (each
// connection then runs `docker system dial-stdio` there; see sshconn). It
// does no I/O: an unreachable endpoint shows up as runtime.ErrUnreachable
// from the first call. Connections are dialled with a timeout of
// runtime.DialTimeout.
func New(endpoint string, opts ...Option) (*Engine, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	scheme, addr, ok := strings.Cut(endpoint, "://")
	if !ok || addr == "" {
		return nil, fmt.Errorf("creating docker client: endpoint %q: want unix:///path or tcp://host:port", endpoint)
	}
	e := &Engine{endpoint: endpoint, c: o.client}
	switch scheme {
	case "unix":
		e.socket = addr
	case "tcp", "ssh":
	default:
		return nil, fmt.Errorf("creating docker client: endpoint %q: %w: scheme %q (want unix, tcp or ssh)", endpoint, runtime.ErrUnsupported, scheme)
	}
	if e.c != nil {
		return e, nil
	}
	d := &net.Dialer{Timeout: runtime.DialTimeout}
	host, dial := endpoint, func(ctx context.Context, network, address string) (net.Conn, error) {
		if e.socket != "" {
			return d.DialContext(ctx, "unix", e.socket)
		}
		return d.DialContext(ctx, network, address)
	}
	if scheme == "ssh" {
		t, err := sshconn.Parse(endpoint, o.ssh)
		if err != nil {
			return nil, fmt.Errorf("creating docker client: %w", err)
		}
		host, dial = "http://docker.example.com", t.DialDocker // as docker/cli's connhelper
	}
	c, err := client.NewClientWithOpts(
		client.WithHost(host),
		client.WithAPIVersionNegotiation(),
		client.WithDialContext(dial), // after WithHost, which resets the dialer
	)
	if err != nil {
		return nil, fmt.Errorf("creating docker client for %s: %w", endpoint, err)
	}
	e.c = c
	return e, nil
}

// Endpoint returns the endpoint e was made for.
func (e *Engine) Endpoint() string { return e.endpoint }

// Close releases the client's connections.
func (e *Engine) Close() error { return e.c.Close() }

// Info asks the daemon what it is: rootless, userns-remap or neither, by the
// name= field of its SecurityOptions.
func (e *Engine) Info(ctx context.Context) (runtime.Info, error) {
	in, err := e.c.Info(ctx)
	if err != nil {
		return runtime.Info{}, fmt.Errorf("asking docker for its info: %w", e.translate(err))
	}
	v, err := e.c.ServerVersion(ctx)
	if err != nil {
		return runtime.Info{}, fmt.Errorf("asking docker for its version: %w", e.translate(err))
	}
	facts := idmap.Engine{
		Kind:       idmap.KindDocker,
		Version:    v.Version,
		APIVersion: v.APIVersion,
	}
	facts.Rootless, facts.UsernsRemap = securityOptions(in.SecurityOptions)
	return runtime.NewInfo(e.endpoint, facts, runtime.Platform{OS: in.OSType, Arch: in.Architecture, StorageDriver: in.Driver,
		SELinux: selinuxEnabled(in.SecurityOptions)})
}

// securityOptions reports whether a daemon's SecurityOptions entries
// ("name=seccomp,profile=default", "name=rootless", "name=userns") say it is
// rootless or remaps users.
func securityOptions(entries []string) (rootless, usernsRemap bool) {
	for _, entry := range entries {
		for _, field := range strings.Split(entry, ",") {
			switch strings.TrimSpace(field) {
			case "name=rootless":
				rootless = true
			case "name=userns":
				usernsRemap = true
			}
		}
	}
	return rootless, usernsRemap
}

// translate wraps a client error in the runtime sentinel it stands for,
// keeping the client's text.
func (e *Engine) translate(err error) error {
	if err == nil {
		return nil
	}
	connFailed := client.IsErrConnectionFailed(err)
	switch {
	case errors.Is(err, context.Canceled):
		return err
	case errors.As(err, new(*sshconn.Error)):
		return runtime.DialError(e.endpoint, err)
	case errors.Is(err, syscall.EACCES) || connFailed && strings.Contains(err.Error(), "permission denied"):
		return fmt.Errorf("%w: %s: %s", runtime.ErrPermission, e.permissionHint(), err)
	case cerrdefs.IsNotFound(err), isHijackNotFound(err):
		return fmt.Errorf("%w: %v", runtime.ErrNotFound, err)
	case cerrdefs.IsConflict(err):
		return fmt.Errorf("%w: %v", runtime.ErrConflict, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%w: %s did not answer in time: %w", runtime.ErrUnreachable, e.endpoint, err)
	case connFailed || isConnectionError(err):
		return fmt.Errorf("%w: %s: %s (%v)", runtime.ErrUnreachable, e.endpoint, e.diagnose(), err)
	default:
		return err
	}
}

// isHijackNotFound reports the client's error for an attach to a container
// the daemon does not have: the client drops the answer's body and keeps
// only its status, in text.
func isHijackNotFound(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "unable to upgrade to") && strings.HasSuffix(msg, "received 404")
}

// isConnectionError reports errors that mean the daemon is not there or went
// away mid-request.
func isConnectionError(err error) bool {
	for _, target := range []error{syscall.ECONNREFUSED, syscall.ENOENT, syscall.ECONNRESET, syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF} {
		if errors.Is(err, target) {
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// diagnose says why the endpoint does not answer. The client reduces most
// dial errors to "Cannot connect to the Docker daemon", so for a unix socket
// it looks again.
func (e *Engine) diagnose() string {
	if e.socket == "" {
		return "the daemon did not answer; is dockerd running and listening there?"
	}
	fi, err := os.Stat(e.socket)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("no socket at %s; is dockerd running?", e.socket)
	case err != nil:
		return err.Error()
	case fi.Mode()&fs.ModeSocket == 0:
		return fmt.Sprintf("%s is not a socket", e.socket)
	}
	conn, err := net.DialTimeout("unix", e.socket, runtime.DialTimeout)
	switch {
	case err == nil:
		conn.Close()
		return "the daemon accepted the connection but did not answer; is it overloaded or shutting down?"
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing is listening on %s (a stale socket); is dockerd running?", e.socket)
	default:
		return err.Error()
	}
}

// permissionHint tells the user how to get access to the socket.
func (e *Engine) permissionHint() string {
	if e.socket == "" {
		return fmt.Sprintf("%s refused access", e.endpoint)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(e.socket, &st); err != nil {
		// Typically another user's $XDG_RUNTIME_DIR (mode 0700).
		dir := filepath.Dir(e.socket)
		if err := syscall.Stat(dir, &st); err == nil {
			return fmt.Sprintf("cannot reach %s: it is in %s's private directory %s; run hpr as %s or use your own engine", e.socket, userName(st.Uid), dir, userName(st.Uid))
		}
		return fmt.Sprintf("cannot reach %s: %v", e.socket, err)
	}
	if st.Gid == 0 {
		return fmt.Sprintf("cannot use %s (owned by %s, group root); run hpr as %s or use your own engine", e.socket, userName(st.Uid), userName(st.Uid))
	}
	gid := strconv.FormatUint(uint64(st.Gid), 10)
	group := "gid " + gid
	if g, err := user.LookupGroupId(gid); err == nil {
		group = g.Name
	}
	return fmt.Sprintf("cannot use %s; add yourself to group %s (sudo usermod -aG %s $USER) and log in again", e.socket, group, group)
}

// userName returns the name of uid, or the number when it has none.
func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid " + id
}
