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
// needs consent is refused with a message naming the key and the two ways
// to allow it (hpr run --allow KEY, or allow = ["KEY"] under [compose] in
// hpr.toml); once allowed it is applied as written.

// Consent keys.
const (
	AllowPrivileged  = "privileged"
	AllowDevices     = "devices"
	AllowNetworkMode = "network_mode"
	AllowPID         = "pid"
	AllowIPC         = "ipc"
	// AllowBind is the prefix of a bind's consent: "bind:" and the host
	// path, as hpr resolved it.
	AllowBind = "bind:"
)

// allowed reports whether the user consented to key.
func (c *composer) allowed(key string) bool { return slices.Contains(c.opts.Allow, key) }

// refuse is the error for what needs consent.
func (c *composer) refuse(at origin, key, what string) error {
	return at.fail(nil, "%s; hpr does not let a compose file do that on its own (allow it with hpr run --allow %s, or allow = [%q] under [compose] in %s)", what, key, key, FileName)
}

// bind checks a bind mount other than the project's: one inside the
// project is fine, the engine's socket or a path outside the project needs
// consent.
func (c *composer) bind(s *composeService, at origin, src string) error {
	key := AllowBind + src
	if c.allowed(key) {
		return nil
	}
	if isEngineSocket(src) {
		return c.refuse(at, key, fmt.Sprintf("service %q: volumes: %s is a container engine's socket, which gives the container control of the engine (root on this machine for a rootful one)", s.name, src))
	}
	if c.inside(src) {
		return nil
	}
	return c.refuse(at, key, fmt.Sprintf("service %q: volumes: %s is outside the project directory %s", s.name, src, c.root))
}

// inside reports whether host path p is the project directory or below
// it, following symlinks where p exists.
func (c *composer) inside(p string) bool {
	if _, ok := below(c.root, p); !ok {
		return false
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return true // not there yet: the engine creates it where written
	}
	_, ok := below(c.realRoot, real)
	return ok
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
