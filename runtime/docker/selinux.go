package docker

import (
	"fmt"
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

// relabelledBind is m as a HostConfig.Binds entry ("src:dst[:ro],z") when
// spec's labelling relabels it, else "": the Mounts API has no relabel
// option, only the bind syntax does. (Unlike a Mounts entry, a bind creates
// a missing source as root; the project and hpr's own files exist.)
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
