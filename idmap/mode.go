package idmap

import (
	"fmt"
	"strconv"
	"strings"
)

// Mode returns the engine mode e's facts describe. Contradictory facts
// (rootless and userns-remap together, Podman with userns-remap) and unknown
// kinds are errors.
func (e Engine) Mode() (Mode, error) {
	switch e.Kind {
	case KindDocker:
		switch {
		case e.Rootless && e.UsernsRemap:
			return "", fmt.Errorf("docker engine reports both rootless and userns-remap: a rootless daemon cannot remap; check the engine's SecurityOptions")
		case e.Rootless:
			return DockerRootless, nil
		case e.UsernsRemap:
			return DockerUsernsRemap, nil
		default:
			return DockerRootful, nil
		}
	case KindPodman:
		switch {
		case e.UsernsRemap:
			return "", fmt.Errorf("podman engine reports userns-remap: Podman has no userns-remap daemon mode; check the engine facts")
		case e.Rootless:
			return PodmanRootless, nil
		default:
			return PodmanRootful, nil
		}
	default:
		return "", fmt.Errorf("unknown engine kind %q: want %q or %q", e.Kind, KindDocker, KindPodman)
	}
}

// ParseMode returns the Mode named s, or an error listing the known modes.
func ParseMode(s string) (Mode, error) {
	m := Mode(s)
	if err := m.Validate(); err != nil {
		return "", err
	}
	return m, nil
}

// Validate returns an error unless m is one of Modes.
func (m Mode) Validate() error {
	_, err := m.title()
	return err
}

// title is how a mode is named in sentences.
func (m Mode) title() (string, error) {
	switch m {
	case DockerRootful:
		return "rootful Docker", nil
	case DockerUsernsRemap:
		return "Docker with userns-remap", nil
	case DockerRootless:
		return "rootless Docker", nil
	case PodmanRootless:
		return "rootless Podman", nil
	case PodmanRootful:
		return "rootful Podman", nil
	default:
		names := make([]string, len(Modes))
		for i, m := range Modes {
			names[i] = string(m)
		}
		return "", fmt.Errorf("unknown engine mode %q: want one of %s", string(m), strings.Join(names, ", "))
	}
}

// rootless reports whether container ids of m live in a user namespace owned
// by the host user.
func (m Mode) rootless() bool { return m == DockerRootless || m == PodmanRootless }

// ParseOverride returns the Override named s. The empty string is an error,
// not "auto": the caller's config decides the default.
func ParseOverride(s string) (Override, error) {
	o := Override(s)
	if err := o.Validate(); err != nil {
		return "", err
	}
	return o, nil
}

// Validate returns an error unless o is OverrideAuto, OverrideRoot or
// OverrideImage.
func (o Override) Validate() error {
	switch o {
	case OverrideAuto, OverrideRoot, OverrideImage:
		return nil
	default:
		return fmt.Errorf("unknown user override %q: want %q, %q or %q", string(o), OverrideAuto, OverrideRoot, OverrideImage)
	}
}

// versionAtLeast reports whether an engine version such as "4.3.1",
// "v5.0.0-dev" or "4.3" is at least major.minor.
func versionAtLeast(version string, major, minor int) (bool, error) {
	v := strings.TrimPrefix(strings.TrimSpace(version), "v")
	v, _, _ = strings.Cut(v, "-")
	v, _, _ = strings.Cut(v, "+")
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return false, fmt.Errorf("parsing engine version %q: want MAJOR.MINOR[.PATCH]", version)
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || maj < 0 || mnr < 0 {
		return false, fmt.Errorf("parsing engine version %q: want MAJOR.MINOR[.PATCH]", version)
	}
	if maj != major {
		return maj > major, nil
	}
	return mnr >= minor, nil
}
