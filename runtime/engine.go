package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hostpersist/hpr/idmap"
)

// Sentinel errors. Backends wrap their client's errors so that callers can
// branch with errors.Is.
var (
	// ErrNotFound: the image, container or volume does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnreachable: the endpoint did not answer (no socket, refused,
	// timed out, daemon gone).
	ErrUnreachable = errors.New("engine unreachable")
	// ErrPermission: the endpoint exists but the caller may not use it.
	ErrPermission = errors.New("permission denied")
	// ErrUnsupported: the engine or its mode cannot do what was asked.
	ErrUnsupported = errors.New("unsupported")
	// ErrConflict: a container or image of that name already exists / is in use.
	ErrConflict = errors.New("conflict")
	// ErrStale: a run was prepared from what hpr remembered of an image
	// (RunOptions.Verify), and the image to run is another one now: nothing
	// was started, and the run is to be prepared again from the engine's
	// answers.
	ErrStale = errors.New("the image to run has changed")
)

// Labels hpr puts on everything it creates.
const (
	LabelProject = "io.hpr.project"
	LabelVersion = "io.hpr.version"
	// LabelPID and LabelHost name the hpr process that runs a container, so
	// `hpr gc` and the next run can tell one whose hpr was killed.
	LabelPID  = "io.hpr.pid"
	LabelHost = "io.hpr.host"
	// LabelUser records the container user hpr chose, so that hpr exec
	// enters as the same user.
	LabelUser = "io.hpr.user"
	// LabelCompanion marks a container started for a service the project's
	// container depends on (compose depends_on); its value is the service
	// name. hpr exec never enters one.
	LabelCompanion = "io.hpr.companion"
	// LabelUID is the uid of the host user whose hpr made a container,
	// network or probe image: `hpr gc` on an engine users share removes
	// only its own user's.
	LabelUID = "io.hpr.uid"
)

// Info is what an engine says about itself. Backends make it with NewInfo.
type Info struct {
	// Endpoint is the URI the engine was reached at (unix:///run/...).
	Endpoint string
	// Local is true when the endpoint is a unix socket on this machine, so
	// bind mounts of host paths are meaningful.
	Local bool
	// Facts are the facts idmap plans with (kind, rootless, userns-remap,
	// versions, id maps).
	Facts idmap.Engine
	// Mode is Facts' mode.
	Mode idmap.Mode
	Platform
}

// Image is what hpr needs to know about a local image.
type Image struct {
	ID  string
	Ref string
	// User is the image config's USER, verbatim ("", "1000", "node:staff").
	User       string
	Env        []string
	WorkingDir string
	Entrypoint []string
	Cmd        []string
	Labels     map[string]string
}

// ImportOptions imports a root filesystem tarball as an image, like
// `docker import`.
type ImportOptions struct {
	// Ref is the name:tag the image gets.
	Ref string
	// Tar is the uncompressed tar stream of the root filesystem.
	Tar io.Reader
	// Changes are Dockerfile instructions applied on import
	// (`ENV PATH=...`, `CMD ["bash"]`, `USER 1000`).
	Changes []string
}

// BuildOptions builds an image from a context directory. Backends never pull:
// they check every FROM image exists first and fail with ErrNotFound naming
// it.
type BuildOptions struct {
	// ContextDir is the build context; .dockerignore in it is honoured.
	ContextDir string
	// Dockerfile is the Dockerfile's path relative to ContextDir.
	Dockerfile string
	// Tag is the name:tag the built image gets.
	Tag    string
	Args   map[string]string
	Labels map[string]string
	// Target is the stage to build; empty builds the last one.
	Target string
	// Output receives the build's human-readable progress.
	Output io.Writer
}

// Mount is a bind mount of a host path.
type Mount struct {
	Source   string
	Target   string
	ReadOnly bool
	// Project marks the project's mount: ContainerSpec.SELinux private
	// relabels it for this container alone (other bind mounts, hpr's own
	// files, are relabelled shared).
	Project bool
}

// VolumeMount mounts a named volume. Create hands the volume's root to the
// plan's user on every run (see Engine.Create).
type VolumeMount struct {
	Name   string
	Target string
}

// Port publishes a container port on the host.
type Port struct {
	HostIP        string // empty: all addresses
	HostPort      uint16
	ContainerPort uint16
	Protocol      string // "tcp" (default) or "udp"
}

// Proto returns the port's protocol, "tcp" when none is given. Any other
// than tcp and udp is an error wrapping ErrUnsupported.
func (p Port) Proto() (string, error) {
	switch p.Protocol {
	case "":
		return "tcp", nil
	case "tcp", "udp":
		return p.Protocol, nil
	default:
		return "", fmt.Errorf("%w: port %d: protocol %q (want tcp or udp)", ErrUnsupported, p.ContainerPort, p.Protocol)
	}
}

// ContainerSpec is everything needed to create a container.
type ContainerSpec struct {
	// Name is optional; empty lets the engine choose.
	Name string
	// Image names the image to run; ImageID, when set, is the image it was
	// planned for, and the container is created from exactly that image
	// (the name only labels it), so a tag moved since the inspect cannot
	// run under another image's plan.
	Image   string
	ImageID string
	// Entrypoint and Cmd replace the image's when not nil.
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	Mounts     []Mount
	Volumes    []VolumeMount
	// KeepVolumeOwners leaves the roots of Volumes as the engine and the
	// image make them: a container hpr does not map (a compose companion
	// that does not mount the project) runs as its image says, and its
	// volumes are its image's to own.
	KeepVolumeOwners bool
	Ports            []Port
	Labels           map[string]string
	// Plan is the idmap plan: user and userns mode.
	Plan idmap.Plan
	// Identity is the plan's passwd/group files and HOME, from PlanFor;
	// Run turns it into Mounts and Tmpfs before Create.
	Identity Identity
	// Tmpfs are tmpfs mounts (backends apply them as given).
	Tmpfs []Tmpfs
	TTY   bool
	// OpenStdin keeps stdin open for attach.
	OpenStdin bool
	// CapDrop and CapAdd adjust capabilities; NoNewPrivileges is on unless
	// AllowNewPrivileges.
	CapDrop            []string
	CapAdd             []string
	AllowNewPrivileges bool
	// SELinux is how the container meets SELinux labels: label=disable, or
	// its bind mounts relabelled; "" asks for nothing (see SELinuxFor).
	SELinux SELinuxLabel
	// Network is the network the container joins instead of the engine's
	// default: one CreateNetwork made, or NetworkHost.
	Network string
	// ExtraHosts are "name:address" lines added to the container's
	// /etc/hosts: how a run's containers find each other by name (Podman's
	// CNI networks have no DNS of their own).
	ExtraHosts []string
	// Privileged, PIDHost, IPCHost and Devices give the container the host;
	// hpr sets them only when the user allowed it explicitly.
	Privileged bool
	PIDHost    bool
	IPCHost    bool
	// Devices are "HOST[:CONTAINER[:PERMISSIONS]]", as docker run --device.
	Devices []string
}

// HandedOver returns the volumes whose roots Create hands to the plan's
// user: the named ones, unless KeepVolumeOwners. An anonymous volume is new
// with every container, and the engine gives it the mount point's owner.
func (s ContainerSpec) HandedOver() []VolumeMount {
	if s.KeepVolumeOwners {
		return nil
	}
	var out []VolumeMount
	for _, v := range s.Volumes {
		if v.Name != "" {
			out = append(out, v)
		}
	}
	return out
}

// NetworkHost as ContainerSpec.Network shares the host's network namespace.
const NetworkHost = "host"

// NetworkSpec describes a bridge network hpr creates for one run.
type NetworkSpec struct {
	Name   string
	Labels map[string]string
}

// Network is one network as listed.
type Network struct {
	Name   string
	Labels map[string]string
}

// Streams connects a container's standard streams. With TTY there is one
// output stream (Stdout).
type Streams struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	TTY    bool
}

// Container is one container as listed.
type Container struct {
	ID     string
	Name   string
	Image  string
	State  string // "created", "running", "exited", ...
	Labels map[string]string
	// SelfRemoving: the engine removes the container by itself once it has
	// exited (see ExitState).
	SelfRemoving bool
}

// BuildContainer is a container an engine made for a build of its own, not
// one of its containers: `ps -a` does not list it (Podman: a Buildah
// working container, which holds its overlay mounted while it exists).
type BuildContainer struct {
	ID      string
	Name    string
	Created time.Time
}

// ExecSpec runs a command in a running container.
type ExecSpec struct {
	Cmd        []string
	Env        []string
	WorkingDir string
	User       string
	Streams    Streams
	// Started, when not nil, is called with the exec session's id once
	// the command has started, so that its TTY can be sized (ResizeExec):
	// a size set before that is lost on Podman. It is called at most once,
	// possibly from another goroutine and after Exec has returned, and
	// must not block.
	Started func(execID string)
}

// VolumeSpec describes a named volume hpr ensures exists.
type VolumeSpec struct {
	Name   string
	Labels map[string]string
}

// ExitState is what Exited reports about a container's main process.
type ExitState struct {
	// Exited is true once the main process has ended; Code is then its
	// exit status.
	Exited bool
	Code   int
	// SelfRemoving is true when the engine removes the container by itself
	// after it exits (Podman: hpr creates containers with --rm semantics,
	// and the service's cleanup process removes them once it has released
	// their network and storage). The caller need not remove it, and
	// waiting for that removal only waits for the engine's cleanup.
	SelfRemoving bool
}

// Engine is one container engine endpoint. Implementations MUST be safe for
// concurrent use and MUST return errors that wrap the sentinels above where
// they apply. Every method takes the caller's context and returns when it is
// done.
type Engine interface {
	// Info asks the engine what it is. An answer hpr cannot classify is an
	// error, not a guess.
	Info(ctx context.Context) (Info, error)

	// Image inspects a local image; ErrNotFound when absent. Never pulls.
	Image(ctx context.Context, ref string) (Image, error)
	// ImageExists reports whether a local image answers to ref (a name or
	// an image ID) — cheaper than Image where the engine has a call for it.
	ImageExists(ctx context.Context, ref string) (bool, error)
	// ImagesNamed lists the local images tagged repo:<any tag>, one Image
	// (ID, Ref and Labels) per tag.
	ImagesNamed(ctx context.Context, repo string) ([]Image, error)
	// ReadImageFiles returns the content of regular files inside an image,
	// keyed by the paths as given, read through one container that is
	// created for the call and never started. A path the image does not
	// have is absent from the map; any other failure (a path that is not a
	// regular file, an image that is not there: ErrNotFound) is an error
	// naming the path and the image.
	ReadImageFiles(ctx context.Context, ref string, paths ...string) (map[string][]byte, error)
	// Import creates an image from a root filesystem tarball.
	Import(ctx context.Context, opts ImportOptions) error
	// Build builds an image; see BuildOptions.
	Build(ctx context.Context, opts BuildOptions) error
	// RemoveImage removes an image by reference.
	RemoveImage(ctx context.Context, ref string) error

	// Create creates (does not start) a container from spec: its Mounts and
	// Tmpfs as given, Plan.User and Plan.Userns, and the root of every named
	// volume handed to the plan's user (Plan.UID:GID, mode 0755; mode 1777 on
	// docker-userns-remap, where owners cannot be mapped), whoever made the
	// volume and whoever owns its root now (ContainerSpec.HandedOver). A
	// container whose volumes cannot be handed over is removed.
	Create(ctx context.Context, spec ContainerSpec) (id string, err error)
	// Attach connects streams to a created container. It returns once the
	// attachment is established; done is closed when the output streams end.
	Attach(ctx context.Context, id string, s Streams) (done <-chan error, err error)
	// Start starts a created container. A command that cannot be found or
	// run gives an error wrapping ErrCommandNotFound / ErrCommandNotExecutable.
	Start(ctx context.Context, id string) error
	// Wait blocks until the container exits and returns its exit code.
	Wait(ctx context.Context, id string) (int, error)
	// Exited reports, without waiting, the exit status of a container
	// whose output has ended, when the engine can tell before Wait returns.
	// ExitState.Exited false means "not known yet": Wait has the answer.
	// Run asks when the output streams end, which on Podman is well before
	// Wait returns; the Docker backend never knows earlier.
	Exited(ctx context.Context, id string) (ExitState, error)
	// Signal sends a signal (by number) to the container's main process.
	Signal(ctx context.Context, id string, sig int) error
	// Resize sets the TTY size of a container.
	Resize(ctx context.Context, id string, height, width uint) error
	// Remove force-removes a container and its anonymous volumes.
	Remove(ctx context.Context, id string) error
	// List lists containers (running or not) carrying all the labels given;
	// a label with an empty value matches any value.
	List(ctx context.Context, labels map[string]string) ([]Container, error)
	// BuildContainers lists the containers the engine's builds make for
	// themselves, which Remove removes (unmounting them). A build the
	// engine ends, well or not, removes its own (Build asks for that); one
	// cut short by the engine itself stopping leaves them behind.
	BuildContainers(ctx context.Context) ([]BuildContainer, error)
	// Exec runs a command in a running container and returns its exit code.
	Exec(ctx context.Context, id string, spec ExecSpec) (int, error)
	// ResizeExec sets the TTY size of an exec session, named by
	// ExecSpec.Started; the container's own TTY keeps its size.
	ResizeExec(ctx context.Context, execID string, height, width uint) error
	// EnsureVolume creates a named volume if it does not exist, and reports
	// whether it did.
	EnsureVolume(ctx context.Context, spec VolumeSpec) (created bool, err error)
	// RemoveVolume removes a named volume; ErrNotFound when absent,
	// ErrConflict while a container refers to it.
	RemoveVolume(ctx context.Context, name string) error

	// CreateNetwork creates a bridge network; ErrConflict when one of that
	// name exists.
	CreateNetwork(ctx context.Context, spec NetworkSpec) error
	// RemoveNetwork removes a network no container uses any more;
	// ErrNotFound when absent.
	RemoveNetwork(ctx context.Context, name string) error
	// Networks lists the networks carrying all the labels given; a label
	// with an empty value matches any value.
	Networks(ctx context.Context, labels map[string]string) ([]Network, error)
	// Address returns the IPv4 address a started container has on network.
	Address(ctx context.Context, id, network string) (string, error)

	// Close releases the client's connections.
	Close() error
}

// Errors a Start can wrap, mapped to exit codes 127 and 126 like docker run.
var (
	ErrCommandNotFound      = errors.New("command not found")
	ErrCommandNotExecutable = errors.New("command cannot be executed")
)

// DialTimeout bounds how long connecting to an endpoint may take. Unreachable
// engines must be reported within about two seconds.
const DialTimeout = 1500 * time.Millisecond
