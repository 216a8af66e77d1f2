package docker

import (
	"context"
	"testing"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/system"
	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// infoClient answers Info and ServerVersion as a recorded daemon did.
type infoClient struct {
	Client
	info    system.Info
	version types.Version
}

func (c infoClient) Info(context.Context) (system.Info, error) { return c.info, nil }
func (c infoClient) ServerVersion(context.Context) (types.Version, error) {
	return c.version, nil
}

// Info says SELinux from the daemon's own answer, the way dockerd writes it
// (daemon/info.go fillSecurityOptions: "name=selinux" when it labels
// containers). The machines here run no SELinux: the answers are recorded.
func TestInfoSELinux(t *testing.T) {
	for _, tc := range []struct {
		name     string
		security []string
		want     bool
		mode     idmap.Mode
	}{
		// Fedora 37's moby-engine 20.10.23 runs dockerd --selinux-enabled; its
		// `docker info` lists seccomp (Profile: default), selinux, cgroupns
		// (github.com/nestybox/sysbox/issues/675).
		{"fedora moby-engine", []string{"name=seccomp,profile=default", "name=selinux", "name=cgroupns"}, true, idmap.DockerRootful},
		// Docker Desktop on the same Fedora: its daemon runs in a VM without
		// SELinux, so the engine enforces none (github.com/docker/desktop-linux/issues/104).
		{"docker desktop on fedora", []string{"name=seccomp,profile=default", "name=cgroupns"}, false, ""},
		// This machine's Debian daemons.
		{"debian", []string{"name=seccomp,profile=default"}, false, idmap.DockerRootful},
		{"rootless with selinux", []string{"name=seccomp,profile=default", "name=selinux", "name=rootless"}, true, idmap.DockerRootless},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New("unix:///fake.sock", WithClient(infoClient{
				info:    system.Info{SecurityOptions: tc.security, OSType: "linux"},
				version: types.Version{Version: "20.10.23", APIVersion: "1.41"},
			}))
			if err != nil {
				t.Fatal(err)
			}
			info, err := e.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if info.SELinux != tc.want {
				t.Errorf("SELinux = %v, want %v", info.SELinux, tc.want)
			}
			if tc.mode != "" && info.Mode != tc.mode {
				t.Errorf("mode %s, want %s", info.Mode, tc.mode)
			}
		})
	}
}

// Each labelling reaches the create request: label=disable as a security
// option; :z or :Z through the bind syntax, the only one that relabels (the
// project :Z only under private, hpr's own files :z).
func TestContainerConfigSELinux(t *testing.T) {
	spec := runtime.ContainerSpec{
		Image: "debian:bookworm-slim",
		Plan:  idmap.Plan{Mode: idmap.DockerRootful, User: "1000:1000"},
		Mounts: []runtime.Mount{
			{Source: "/home/me/blog", Target: "/app", Project: true},
			{Source: "/cache/passwd-1", Target: "/etc/passwd", ReadOnly: true},
		},
	}
	plain := []mount.Mount{
		{Type: mount.TypeBind, Source: "/home/me/blog", Target: "/app"},
		{Type: mount.TypeBind, Source: "/cache/passwd-1", Target: "/etc/passwd", ReadOnly: true},
	}
	for _, tc := range []struct {
		label runtime.SELinuxLabel
		want  container.HostConfig
	}{
		{runtime.SELinuxNone, container.HostConfig{SecurityOpt: []string{"no-new-privileges"}, Mounts: plain}},
		{runtime.SELinuxDisable, container.HostConfig{SecurityOpt: []string{"no-new-privileges", "label=disable"}, Mounts: plain}},
		{runtime.SELinuxShared, container.HostConfig{SecurityOpt: []string{"no-new-privileges"},
			Binds: []string{"/home/me/blog:/app:z", "/cache/passwd-1:/etc/passwd:ro,z"}}},
		{runtime.SELinuxPrivate, container.HostConfig{SecurityOpt: []string{"no-new-privileges"},
			Binds: []string{"/home/me/blog:/app:Z", "/cache/passwd-1:/etc/passwd:ro,z"}}},
	} {
		t.Run(string(tc.label), func(t *testing.T) {
			s := spec
			s.SELinux = tc.label
			_, hc, err := containerConfig(s)
			if err != nil {
				t.Fatal(err)
			}
			got := container.HostConfig{SecurityOpt: hc.SecurityOpt, Binds: hc.Binds, Mounts: hc.Mounts}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
	s := spec
	s.SELinux = runtime.SELinuxShared
	s.Mounts = []runtime.Mount{{Source: "/home/me/a:b", Target: "/app", Project: true}}
	if _, _, err := containerConfig(s); err == nil {
		t.Error("a path with ':' relabelled through the bind syntax: no error")
	}
}
