package docker

import (
	"fmt"
	"os"
	"strings"

	"github.com/hostpersist/hpr/runtime"
)

// selinuxEnabled reports whether a daemon's SecurityOptions say it labels
// containers with SELinux (name=selinux).
func selinuxEnabled(entries []string) bool {
	for _, entry := range entries {
		for _, field := range strings.Split(entry, ",") {
			if strings.TrimSpace(field) == "name=selinux" {
				return true
			}
		}
	}
	return false
}

// relabelSourcesExist refuses a relabelled bind whose source is missing
// or a symlink, checked on this machine right before the create (a daemon
// on a unix socket is on this machine): Docker relabels only through the
// bind syntax (relabelledBind), which would create a missing source as
// root, and follow a symlink.
func relabelSourcesExist(spec runtime.ContainerSpec) error {
	for _, m := range spec.Mounts {
		relabel, err := spec.Relabel(m)
		if err != nil || relabel == "" {
			continue
		}
		fi, err := os.Lstat(m.Source)
		switch {
		case err != nil:
			return fmt.Errorf("%w: mounting %s relabelled (selinux): it cannot be checked (%v), and Docker would create it as root; create it first, or use [run] selinux = \"disable\"", runtime.ErrUnsupported, m.Source, err)
		case fi.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("%w: mounting %s relabelled (selinux): it is a symlink, which Docker would follow; mount what it points to, or use [run] selinux = \"disable\"", runtime.ErrUnsupported, m.Source)
		}
	}
	return nil
}

// relabelledBind is m as a HostConfig.Binds entry ("src:dst[:ro],z") when
// spec's labelling relabels it, else "": the Mounts API has no relabel
// option, only the bind syntax does. Unlike a Mounts entry, a bind creates
// a missing source as root: Create checks first that every relabelled
// source exists and is no symlink (relabelSourcesExist), after the
// project's gate checked it beneath the project.
func relabelledBind(spec runtime.ContainerSpec, m runtime.Mount) (string, error) {
	relabel, err := spec.Relabel(m)
	if err != nil || relabel == "" {
		return "", err
	}
	if strings.Contains(m.Source, ":") || strings.Contains(m.Target, ":") {
		return "", fmt.Errorf("%w: mounting %s relabelled: Docker's bind syntax cannot carry a path with ':' (use [run] selinux = \"disable\")", runtime.ErrUnsupported, m.Source)
	}
	opts := relabel
	if m.ReadOnly {
		opts = "ro," + relabel
	}
	return m.Source + ":" + m.Target + ":" + opts, nil
}
