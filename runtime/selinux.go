package runtime

import (
	"fmt"
	"strings"
)

// SELinuxLabel says how a container meets the SELinux labels of what it
// bind-mounts. On an SELinux host a container process runs as container_t
// and may not touch files labelled for the user (user_home_t), so a
// bind-mounted project is denied to it unless labelling is disabled for the
// container or the project is relabelled.
type SELinuxLabel string

// The SELinux labellings, as `[run] selinux` names them.
const (
	// SELinuxNone asks for nothing: the engine's default. On a host
	// without SELinux there is nothing to ask.
	SELinuxNone SELinuxLabel = ""
	// SELinuxDisable runs the container with label=disable: it is not
	// confined by labels and nothing is relabelled. The default on SELinux
	// hosts, as toolbx and distrobox do: relabelling costs time in
	// proportion to the project (every file) and rewrites the user's own
	// labels, which other confined programs (a web server, a VM) may need.
	SELinuxDisable SELinuxLabel = "disable"
	// SELinuxShared relabels the bind mounts :z, a label every container
	// may use.
	SELinuxShared SELinuxLabel = "shared"
	// SELinuxPrivate relabels the project :Z, a label for this container
	// alone (hpr's own files, which other containers mount too, :z).
	SELinuxPrivate SELinuxLabel = "private"
)

// ParseSELinux reads a `[run] selinux` setting; "" is the default.
func ParseSELinux(s string) (SELinuxLabel, error) {
	switch l := SELinuxLabel(s); l {
	case SELinuxNone, SELinuxDisable, SELinuxShared, SELinuxPrivate:
		return l, nil
	default:
		return "", fmt.Errorf("selinux %q: want disable, shared or private", s)
	}
}

// SELinuxFor is the labelling a container gets on the engine info
// describes: the setting when there is one (applied even where SELinux is
// off, where engines accept and ignore it), else label=disable on an
// SELinux host and nothing elsewhere.
func SELinuxFor(setting SELinuxLabel, info Info) SELinuxLabel {
	if setting != SELinuxNone || !info.SELinux {
		return setting
	}
	return SELinuxDisable
}

// Relabel is the relabelling option spec's labelling gives bind mount m:
// "", "z" or "Z". Both backends apply it.
func (spec ContainerSpec) Relabel(m Mount) (string, error) {
	switch spec.SELinux {
	case SELinuxNone, SELinuxDisable:
		return "", nil
	case SELinuxShared:
		return "z", nil
	case SELinuxPrivate:
		if m.Project {
			return "Z", nil
		}
		return "z", nil
	default:
		return "", fmt.Errorf("%w: selinux labelling %q", ErrUnsupported, spec.SELinux)
	}
}

// ExplainSELinux says in a sentence what hpr does about SELinux on the
// engine info describes, by default.
func ExplainSELinux(info Info) string {
	if !info.SELinux {
		return "SELinux: not enforced by this engine; hpr asks for no labelling unless [run] selinux says so."
	}
	return strings.Join([]string{
		"SELinux: enforced by this engine; hpr runs the container with label=disable,",
		"so the project is reachable without relabelling it",
		`([run] selinux = "shared" relabels it :z instead, "private" :Z).`,
	}, " ")
}
