package project

import (
	"fmt"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// FileName is the name of a project file.
const FileName = "hpr.toml"

// DefaultMount is where the project is mounted unless [run] mount says
// otherwise.
const DefaultMount = "/app"

// Project is a loaded hpr.toml or compose file, with defaults applied and
// paths made absolute. Both fill the same model: nothing downstream of
// Open knows which it came from.
type Project struct {
	// Path is the absolute path of hpr.toml, or of the (first) compose file
	// when there is no hpr.toml; empty for an AdHoc project.
	Path string
	// Root is the project directory (hpr.toml's directory), absolute but
	// with symlinks kept, as the user reached it. It is the bind-mount
	// source, so messages show the path the user knows.
	Root string
	// RealRoot is Root with symlinks resolved. It identifies the project
	// (the io.hpr.project label, gc, WorkDir) so that one directory reached
	// through two paths is one project.
	RealRoot string
	// Name names the project's image, volumes and containers: hpr.toml's
	// name, by default RealRoot's base name sanitised (lower case, other
	// characters replaced by '-'), so it does not change with the path the
	// project is reached through. It matches
	// [a-z0-9]+([._-][a-z0-9]+)*, so it is valid in image references and in
	// container and volume names.
	Name string
	// Service is the compose service the project runs, or that a
	// companion is; empty for hpr.toml alone.
	Service string
	Engine  Engine
	Image   Image
	Run     Run
	// Companions are the services the project's container needs running
	// first (a compose file's depends_on), dependencies first.
	Companions []Companion
	// IDOverrides are the values the user's environment or .env gave UID
	// and GID where a compose file used ${UID}/${GID}: hpr replaces them
	// with the plan's ids, and says so.
	IDOverrides []IDOverride
	// Warnings are for the user before anything runs (Open adds one when
	// the project is the home directory).
	Warnings []string
}

// Companion is a service the project's container needs running first.
type Companion struct {
	// Name is the service's name: the host name the project's container
	// reaches it by.
	Name string
	// Project is the service's image and settings; its Root is the
	// project's. Run.Mount is empty unless it mounts the project too:
	// then it is mapped like the project's container, else it runs as
	// its image (or user:) says.
	Project *Project
	Wait    runtime.Condition
	Health  *runtime.Healthcheck
}

// IDOverride is a value UID or GID had in the user's environment or .env.
type IDOverride struct {
	Name, Value string
	// Source is "your environment" or the .env file's path.
	Source string
}

// Engine is hpr.toml's [engine]: a preference that explicit choices
// (--engine, HPR_ENGINE, CONTAINER_HOST, DOCKER_HOST) override.
type Engine struct {
	// Prefer is the kind to prefer when several engines answer; empty for
	// "auto".
	Prefer idmap.Kind
	// Endpoint is an engine URI on this machine (unix://, or tcp:// to a
	// loopback address); empty to detect one. A project file may not send
	// the project's commands to another machine: ssh:// and other tcp://
	// engines are the user's to choose (--engine, HPR_ENGINE, a context or
	// connection).
	Endpoint string
	// RemoteRoot is the project's directory on a remote engine's host
	// (absolute, clean, not /); empty when unset. RemoteRootLine is its
	// line in hpr.toml, for messages.
	RemoteRoot     string
	RemoteRootLine int
}

// Image is the image section of hpr.toml: an existing image (Ref), an image to build
// (BuildContext), or neither, in which case `hpr run` needs --image.
type Image struct {
	// Ref is an existing image reference; empty when building or unset.
	Ref string
	// BuildContext is the absolute build context directory; empty unless
	// [image] build is set.
	BuildContext string
	// Dockerfile is the absolute path of the Dockerfile, inside
	// BuildContext; empty unless building.
	Dockerfile string
	// Args are build args from hpr.toml; nil when none. UID and GID are
	// added by the builder unless set here. Values may hold the markers a
	// compose file's ${UID}/${GID} became (ExpandIDs).
	Args map[string]string
	// Target is the Dockerfile stage to build; empty for the last.
	Target string
}

// Building reports whether the image is built from a Dockerfile.
func (i Image) Building() bool { return i.BuildContext != "" }

// DockerfileInContext is Dockerfile relative to BuildContext, slash
// separated, as runtime.BuildOptions wants it. Empty unless building.
func (i Image) DockerfileInContext() string {
	if !i.Building() {
		return ""
	}
	rel, err := filepath.Rel(i.BuildContext, i.Dockerfile)
	if err != nil {
		return ""
	}
	return filepath.ToSlash(rel)
}

// Run is hpr.toml's [run]: how the container runs.
type Run struct {
	// Command replaces the image's CMD; nil keeps it. The CLI's CMD
	// arguments replace Command.
	Command []string
	// Entrypoint replaces the image's ENTRYPOINT; nil keeps it, an empty
	// non-nil slice (entrypoint = []) clears it.
	Entrypoint []string
	// Mount is where Root is bind-mounted: absolute, clean, not "/".
	Mount string
	// Ports are published ports, in file order. "5000" means 5000:5000.
	Ports []runtime.Port
	// Env is KEY=VALUE, sorted by key.
	Env []string
	// Volumes are named volumes with names already scoped by VolumeName, in
	// file order.
	Volumes []runtime.VolumeMount
	// User overrides the identity plan; idmap.OverrideAuto by default.
	User idmap.Override
	// CapDrop and CapAdd are capability names normalised to upper case
	// with the CAP_ prefix ("CAP_NET_RAW"), or "ALL". Unless hpr.toml sets
	// cap_drop, DefaultCapDrop is dropped (less what cap_add names).
	CapDrop []string
	CapAdd  []string
	// SELinux is how the container meets SELinux labels; the default
	// (runtime.SELinuxNone) disables labelling on an engine that enforces
	// SELinux (runtime.SELinuxFor).
	SELinux runtime.SELinuxLabel
	// UserSpec is a user to run as, as written ("1000:1000", "node"), with
	// User = OverrideImage: it replaces the image's USER.
	UserSpec string
	// WorkDir, when set, is the container's working directory whatever the
	// host's is.
	WorkDir string
	// Mounts are bind mounts besides the project's, their sources
	// symlink-free real paths.
	Mounts []runtime.Mount
	// Gates are Mounts' sources as the project wrote them, checked again
	// right before the container is created (Resolved.Gate).
	Gates []Gate
	// Tmpfs are the targets of tmpfs mounts, owned by the container's user.
	Tmpfs []string
	// Labels are the container's own labels (hpr's io.hpr.* are added).
	Labels map[string]string
	// NoTTY and NoStdin keep a terminal and stdin from the container even
	// when hpr runs on a terminal (a compose file's tty/stdin_open: false).
	NoTTY   bool
	NoStdin bool
	// Network is runtime.NetworkHost, or empty for the engine's (or the
	// run's) network. Privileged, PIDHost, IPCHost and Devices give the
	// container the host: only with the user's explicit consent.
	Network    string
	Privileged bool
	PIDHost    bool
	IPCHost    bool
	Devices    []string
}

// DefaultCapDrop are the capabilities of the engines' default set that a
// development command does not need — raw sockets, device nodes, the audit
// log, chroot, file capabilities — dropped unless hpr.toml's [run] cap_drop
// says otherwise (cap_drop = [] keeps them all) or cap_add names one.
var DefaultCapDrop = []string{"CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SYS_CHROOT"}

func defaultCapDrop(add []string) []string {
	var out []string
	for _, c := range DefaultCapDrop {
		if !slices.Contains(add, c) && !slices.Contains(add, "ALL") {
			out = append(out, c)
		}
	}
	return out
}

// VolumeName returns the engine-side name of the project's volume n:
// "hpr-<project name>-<n>", so that two projects' "bundle" volumes differ.
func (p *Project) VolumeName(n string) string {
	return "hpr-" + p.Name + "-" + n
}

// WorkDir returns the container's working directory for the host working
// directory cwd: Mount plus the path of cwd below the root. Symlinks are
// resolved on both sides first, so a root reached through a symlink works;
// when cwd cannot be resolved the paths are compared as given. A cwd
// outside the root is an error.
func (p *Project) WorkDir(cwd string) (string, error) {
	abs, err := filepath.Abs(cwd)
	if err != nil {
		return "", fmt.Errorf("resolving working directory: %w", err)
	}
	if p.Run.WorkDir != "" {
		return p.Run.WorkDir, nil
	}
	mount := p.Run.Mount
	if mount == "" {
		mount = DefaultMount
	}
	realRoot := p.RealRoot
	if realRoot == "" {
		realRoot = p.Root
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		if rel, ok := below(realRoot, real); ok {
			return path.Join(mount, rel), nil
		}
	} else if rel, ok := below(p.Root, abs); ok {
		return path.Join(mount, rel), nil
	}
	return "", fmt.Errorf("working directory %s is outside the project %s (cd into the project, or pass --image to run without it)", abs, p.Root)
}

// below returns p relative to root, slash separated, when p is root or
// inside it.
func below(root, p string) (string, bool) {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}
