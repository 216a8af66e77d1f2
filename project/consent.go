package project

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/hostpersist/hpr/runtime"
)

// A compose file comes with a cloned repository: nothing in it may reach
// the host outside the project without the user's explicit consent. What
// needs consent is refused in one line naming the key, where it points and
// the --allow that grants it (Refusal); once allowed it is applied.

// Consent keys.
const (
	AllowPrivileged  = "privileged"
	AllowDevices     = "devices"
	AllowNetworkMode = "network_mode"
	AllowPID         = "pid"
	AllowIPC         = "ipc"
	// AllowBind is the prefix of a bind's consent: "bind:" and the host
	// path where it really points, symlinks resolved.
	AllowBind = KindBind + ":"
)

// allowed reports whether the user consented to key.
func (c *composer) allowed(key string) bool { return slices.Contains(c.opts.Allow, key) }

// refuse is the error for what needs consent: the vocabulary's one line.
func (c *composer) refuse(at origin, key, what string) error {
	e := at.fail(nil, "").(*Error)
	return Refusal(*e, what, key)
}

// bind checks a bind mount other than the project's through the gate
// (gate.go): inside the project is fine, anything else needs consent. It
// returns the gate the run checks again right before the create.
func (c *composer) bind(s *composeService, at origin, src, target string) (Gate, error) {
	e := at.fail(nil, "").(*Error)
	g := Gate{Target: target, Written: src, What: fmt.Sprintf("service %q: volumes: %s", s.name, src), At: *e, Allow: c.opts.Allow}
	j := judge(c.hroot, src, KindBind, g.What, c.opts.Allow)
	if j.what != "" {
		return Gate{}, c.refuse(at, j.key, j.what)
	}
	g.Real, g.Missing = j.real, j.missing
	return g, nil
}

// read checks a file hpr reads or sends to the engine (an env file, an
// extends file, a build context or Dockerfile) and returns its real path.
func (c *composer) read(at origin, p, name string) (string, error) {
	e := at.fail(nil, "").(*Error)
	return readable(c.hroot, p, name, c.opts.Allow, *e)
}

// isEngineSocket reports whether p is a unix socket or has a container
// engine socket's name.
func isEngineSocket(p string) bool {
	switch filepath.Base(p) {
	case "docker.sock", "podman.sock", "containerd.sock":
		return true
	}
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&fs.ModeSocket != 0
}

// hostAccess reads privileged, network_mode, pid, ipc and devices: each
// needs consent, and only host namespaces are supported.
func (c *composer) hostAccess(p *Project, s *composeService) error {
	if v, ok := s.def["privileged"]; ok {
		b, isBool := boolean(v)
		switch {
		case !isBool:
			return s.at("privileged").fail(nil, "service %q: privileged must be true or false", s.name)
		case b && !c.allowed(AllowPrivileged):
			return c.refuse(s.at("privileged"), AllowPrivileged, fmt.Sprintf("service %q: privileged: true gives the container every device and capability of the machine", s.name))
		}
		p.Run.Privileged = b
	}
	for _, k := range []string{AllowNetworkMode, AllowPID, AllowIPC} {
		v, ok := s.def[k]
		if !ok {
			continue
		}
		mode, _ := str(v)
		switch {
		case mode != "host":
			return s.at(k).fail(nil, "service %q: %s %q is not supported by hpr (only host, with consent)", s.name, k, mode)
		case !c.allowed(k):
			return c.refuse(s.at(k), k, fmt.Sprintf("service %q: %s: host shares the machine's %s namespace with the container", s.name, k, map[string]string{"network_mode": "network", "pid": "process", "ipc": "IPC"}[k]))
		}
		switch k {
		case "network_mode":
			p.Run.Network = runtime.NetworkHost
		case "pid":
			p.Run.PIDHost = true
		case "ipc":
			p.Run.IPCHost = true
		}
	}
	if v, ok := s.def["devices"]; ok {
		list, _ := v.([]any)
		if !c.allowed(AllowDevices) && len(list) > 0 {
			return c.refuse(s.at("devices"), AllowDevices, fmt.Sprintf("service %q: devices gives the container the machine's devices", s.name))
		}
		for _, d := range list {
			ds, _ := str(d)
			p.Run.Devices = append(p.Run.Devices, ds)
		}
	}
	return nil
}
