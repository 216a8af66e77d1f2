package idmap

// Kind is the family of a container engine.
type Kind string

// Engine kinds hpr supports.
const (
	KindDocker Kind = "docker"
	KindPodman Kind = "podman"
)

// Mode is how an engine maps users, per DESIGN's table.
type Mode string

// The engine modes hpr knows. Any other value is an error wherever a Mode is
// consumed.
const (
	DockerRootful     Mode = "docker-rootful"
	DockerUsernsRemap Mode = "docker-userns-remap"
	DockerRootless    Mode = "docker-rootless"
	PodmanRootless    Mode = "podman-rootless"
	PodmanRootful     Mode = "podman-rootful"
)

// Modes lists every mode, in the order hpr reports them.
var Modes = []Mode{DockerRootful, DockerUsernsRemap, DockerRootless, PodmanRootless, PodmanRootful}

// IDRange maps Count ids starting at ContainerID (inside) to HostID (outside),
// as a line of /proc/self/uid_map or an engine's reported id map does.
type IDRange struct {
	ContainerID int64
	HostID      int64
	Count       int64
}

// Engine holds the facts an engine reports about itself that decide the plan.
type Engine struct {
	Kind        Kind
	Rootless    bool
	UsernsRemap bool
	// Version is the engine's own version ("28.2.2", "4.3.1").
	Version string
	// APIVersion is the API version the endpoint speaks.
	APIVersion string
	// UIDMap and GIDMap are the engine's id maps when it reports them
	// (rootless Podman does); empty otherwise.
	UIDMap []IDRange
	GIDMap []IDRange
}

// Override changes the plan hpr would make on its own (hpr.toml [run].user).
type Override string

// Overrides.
const (
	// OverrideAuto lets hpr pick the mapping that lands files as the host user.
	OverrideAuto Override = "auto"
	// OverrideRoot runs as container root whatever that maps to.
	OverrideRoot Override = "root"
	// OverrideImage keeps the image's USER; hpr warns when that will not land
	// as the host user.
	OverrideImage Override = "image"
)
