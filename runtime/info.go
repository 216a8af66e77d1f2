package runtime

import (
	"fmt"
	"net/url"

	"github.com/hostpersist/hpr/idmap"
)

// Platform is what an engine says about the machine its containers run on.
type Platform struct {
	OS            string
	Arch          string
	StorageDriver string
	// SELinux is true when the engine labels containers with SELinux (its
	// host enforces it): Docker's SecurityOptions name=selinux, libpod's
	// Host.Security.SELinuxEnabled. A bind mount is then denied to the
	// container unless labelling is disabled or the mount relabelled (see
	// SELinuxLabel).
	SELinux bool
}

// NewInfo makes the Info of the engine at endpoint from the facts its
// backend read. Every backend calls it, so that both classify and check
// their answers alike: the mode comes from the facts (facts an engine
// cannot have, or a kind hpr does not know, are an error, not a guess), the
// engine must have said its version, and the endpoint is local when it is a
// unix socket.
func NewInfo(endpoint string, facts idmap.Engine, p Platform) (Info, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme == "" {
		return Info{}, fmt.Errorf("classifying the engine at %q: want an endpoint such as unix:///path or tcp://host:port", endpoint)
	}
	mode, err := facts.Mode()
	if err != nil {
		return Info{}, fmt.Errorf("classifying %s at %s: %w", facts.Kind, endpoint, err)
	}
	if facts.Version == "" || facts.APIVersion == "" {
		return Info{}, fmt.Errorf("classifying %s at %s: it did not say its version (%q, API %q); is it a %s service?", facts.Kind, endpoint, facts.Version, facts.APIVersion, facts.Kind)
	}
	return Info{
		Endpoint: endpoint,
		Local:    u.Scheme == "unix",
		Facts:    facts,
		Mode:     mode,
		Platform: p,
	}, nil
}

// CheckPlan returns an error wrapping ErrUnsupported unless plan was made
// for an engine of kind; the zero plan (no mode) runs as the image says, on
// any engine.
func CheckPlan(plan idmap.Plan, kind idmap.Kind) error {
	var planKind idmap.Kind
	switch plan.Mode {
	case "":
		return nil
	case idmap.DockerRootful, idmap.DockerUsernsRemap, idmap.DockerRootless:
		planKind = idmap.KindDocker
	case idmap.PodmanRootful, idmap.PodmanRootless:
		planKind = idmap.KindPodman
	default:
		return fmt.Errorf("unknown engine mode %q in plan", plan.Mode)
	}
	if planKind != kind {
		return fmt.Errorf("%w: a plan for %s cannot run on %s", ErrUnsupported, plan.Mode, kind)
	}
	return nil
}
