package docker

import (
	"errors"
	"os"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/go-connections/nat"
	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

func TestContainerConfig(t *testing.T) {
	plan := idmap.Plan{
		Mode: idmap.DockerRootful, User: "2000:2000", UID: 2000, GID: 2000,
		Home: "/home/alice", CreateHome: true,
		Env: []string{"USER=alice", "LOGNAME=alice", "HOME=/home/alice"},
	}
	base := runtime.ContainerSpec{
		Name:       "blog",
		Image:      "debian:bookworm-slim",
		Cmd:        []string{"sh"},
		Env:        []string{"TZ=UTC", "USER=me"},
		WorkingDir: "/app/sub",
		Mounts: []runtime.Mount{
			{Source: "/home/alice/blog", Target: "/app"},
			{Source: "/cache/passwd-1", Target: "/etc/passwd", ReadOnly: true},
		},
		Tmpfs:     []runtime.Tmpfs{{Target: "/home/alice", UID: 2000, GID: 2000, Mode: 0o755}, {Target: "/run/x", Mode: 0o1777}, {Target: "/run/y", Mode: os.ModeSticky | 0o700}},
		Volumes:   []runtime.VolumeMount{{Name: "blog-bundle", Target: "/usr/local/bundle"}},
		Ports:     []runtime.Port{{HostPort: 5000, ContainerPort: 5000}, {HostIP: "127.0.0.1", ContainerPort: 53, Protocol: "udp"}},
		Labels:    map[string]string{runtime.LabelProject: "/home/alice/blog"},
		Plan:      plan,
		TTY:       true,
		OpenStdin: true,
		CapDrop:   []string{"NET_RAW"},
	}
	wantCfg := &container.Config{
		Image: "debian:bookworm-slim", Cmd: []string{"sh"},
		Env:        []string{"TZ=UTC", "USER=me", "LOGNAME=alice", "HOME=/home/alice"},
		WorkingDir: "/app/sub", User: "2000:2000",
		Labels: map[string]string{runtime.LabelProject: "/home/alice/blog"},
		Tty:    true, OpenStdin: true, StdinOnce: true, AttachStdin: true, AttachStdout: true, AttachStderr: true,
		ExposedPorts: nat.PortSet{"5000/tcp": {}, "53/udp": {}},
	}
	wantHC := &container.HostConfig{
		CapDrop:     []string{"NET_RAW"},
		SecurityOpt: []string{"no-new-privileges"},
		Mounts: []mount.Mount{
			{Type: mount.TypeBind, Source: "/home/alice/blog", Target: "/app"},
			{Type: mount.TypeBind, Source: "/cache/passwd-1", Target: "/etc/passwd", ReadOnly: true},
			{Type: mount.TypeVolume, Source: "blog-bundle", Target: "/usr/local/bundle"},
		},
		Tmpfs: map[string]string{
			"/home/alice": "uid=2000,gid=2000,mode=0755,exec",
			"/run/x":      "uid=0,gid=0,mode=1777,exec",
			"/run/y":      "uid=0,gid=0,mode=1700,exec",
		},
		PortBindings: nat.PortMap{
			"5000/tcp": {{HostPort: "5000"}},
			"53/udp":   {{HostIP: "127.0.0.1"}},
		},
	}
	cfg, hc, err := containerConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantCfg, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantHC, hc); diff != "" {
		t.Errorf("host config (-want +got):\n%s", diff)
	}

	t.Run("userns-remap", func(t *testing.T) {
		s := base
		s.Plan.Mode, s.Plan.Userns = idmap.DockerUsernsRemap, "host"
		s.AllowNewPrivileges = true
		_, hc, err := containerConfig(s)
		if err != nil {
			t.Fatal(err)
		}
		if hc.UsernsMode != "host" || hc.SecurityOpt != nil {
			t.Errorf("UsernsMode = %q, SecurityOpt = %q; want host, none", hc.UsernsMode, hc.SecurityOpt)
		}
	})

	for _, tt := range []struct {
		name   string
		modify func(*runtime.ContainerSpec)
		want   error
	}{
		{"keep-id", func(s *runtime.ContainerSpec) { s.Plan.Userns = "keep-id" }, runtime.ErrUnsupported},
		{"podman plan", func(s *runtime.ContainerSpec) { s.Plan.Mode = idmap.PodmanRootless }, runtime.ErrUnsupported},
		{"unknown mode", func(s *runtime.ContainerSpec) { s.Plan.Mode = "docker-weird" }, nil},
		{"bad protocol", func(s *runtime.ContainerSpec) { s.Ports = []runtime.Port{{ContainerPort: 1, Protocol: "icmp"}} }, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			tt.modify(&s)
			_, _, err := containerConfig(s)
			if err == nil {
				t.Fatal("containerConfig() succeeded, want an error")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("containerConfig() = %v, want it to wrap %v", err, tt.want)
			}
		})
	}
}
