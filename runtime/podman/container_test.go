package podman

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/containers/podman/v5/pkg/specgen"
	"github.com/google/go-cmp/cmp"
	spec "github.com/opencontainers/runtime-spec/specs-go"
	nettypes "go.podman.io/common/libnetwork/types"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

func TestSpecGenerator(t *testing.T) {
	yes, no := true, false
	cs := runtime.ContainerSpec{
		Name:       "blog",
		Image:      "debian:bookworm-slim",
		Entrypoint: []string{"/bin/sh", "-c"},
		Cmd:        []string{"jekyll serve"},
		Env:        []string{"TZ=UTC", "HOME=/srv", "EMPTY="},
		WorkingDir: "/app/site",
		Mounts: []runtime.Mount{
			{Source: "/home/me/blog", Target: "/app"},
			{Source: "/usr/bin/hpr", Target: "/hpr", ReadOnly: true},
		},
		Volumes: []runtime.VolumeMount{{Name: "bundle", Target: "/usr/local/bundle"}, {Name: "new", Target: "/data"}},
		Tmpfs:   []runtime.Tmpfs{{Target: "/home/node", UID: 1000, GID: 1000, Mode: 0o755}},
		Ports: []runtime.Port{
			{HostPort: 5000, ContainerPort: 5000},
			{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 5353, Protocol: "udp"},
		},
		Labels: map[string]string{runtime.LabelProject: "/home/me/blog"},
		Plan: idmap.Plan{
			User: "1000:1000", UID: 1000, GID: 1000, Userns: "keep-id:uid=1000,gid=1000",
			Env: []string{"USER=node", "LOGNAME=node", "HOME=/home/node"},
		},
		TTY:       true,
		OpenStdin: true,
		CapDrop:   []string{"ALL"},
		CapAdd:    []string{"CHOWN"},
	}
	got, err := specGenerator(cs)
	if err != nil {
		t.Fatal(err)
	}
	want := specgen.NewSpecGenerator("debian:bookworm-slim", false)
	want.Name = "blog"
	want.Entrypoint = []string{"/bin/sh", "-c"}
	want.Command = []string{"jekyll serve"}
	// The spec's HOME wins over the plan's.
	want.Env = map[string]string{"TZ": "UTC", "HOME": "/srv", "EMPTY": "", "USER": "node", "LOGNAME": "node"}
	want.WorkDir = "/app/site"
	want.User = "1000:1000"
	want.UserNS = specgen.Namespace{NSMode: specgen.KeepID, Value: "uid=1000,gid=1000"}
	want.Mounts = []spec.Mount{
		{Type: "bind", Source: "/home/me/blog", Destination: "/app", Options: []string{"rbind"}},
		{Type: "bind", Source: "/usr/bin/hpr", Destination: "/hpr", Options: []string{"rbind", "ro"}},
		{Type: "tmpfs", Source: "tmpfs", Destination: "/home/node", Options: []string{"rw", "exec", "nosuid", "nodev", "U", "mode=0755"}},
	}
	want.Volumes = []*specgen.NamedVolume{{Name: "bundle", Dest: "/usr/local/bundle"}, {Name: "new", Dest: "/data"}}
	want.PortMappings = []nettypes.PortMapping{
		{HostPort: 5000, ContainerPort: 5000, Protocol: "tcp"},
		{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 5353, Protocol: "udp"},
	}
	want.Labels = map[string]string{runtime.LabelProject: "/home/me/blog"}
	want.Terminal = &yes
	want.Stdin = &yes
	want.NoNewPrivileges = &yes
	want.Privileged = &no
	want.CapDrop = []string{"ALL"}
	want.CapAdd = []string{"CHOWN"}
	// Compare what goes on the wire: the generator has unexported fields.
	if diff := cmp.Diff(wire(t, want), wire(t, got)); diff != "" {
		t.Errorf("specGenerator() (-want +got):\n%s", diff)
	}
	if got.Init != nil {
		t.Errorf("Init = %v, want unset: there is no catatonit on every host", *got.Init)
	}

	docker := cs
	docker.Plan.Mode = idmap.DockerRootful
	if _, err := specGenerator(docker); !errors.Is(err, runtime.ErrUnsupported) {
		t.Errorf("a plan for docker: %v, want ErrUnsupported", err)
	}
	cs.Tmpfs[0].UID = 0
	if _, err := specGenerator(cs); !errors.Is(err, runtime.ErrUnsupported) {
		t.Errorf("tmpfs not the user's: %v, want ErrUnsupported", err)
	}
	cs.Tmpfs = nil
	cs.AllowNewPrivileges = true
	cs.Ports = []runtime.Port{{ContainerPort: 1, Protocol: "sctp"}}
	if _, err := specGenerator(cs); !errors.Is(err, runtime.ErrUnsupported) {
		t.Errorf("sctp port: %v, want ErrUnsupported", err)
	}
	cs.Ports = nil
	got, err = specGenerator(cs)
	if err != nil || *got.NoNewPrivileges {
		t.Errorf("AllowNewPrivileges: NoNewPrivileges = %v, %v", *got.NoNewPrivileges, err)
	}
}

func wire(t *testing.T, s *specgen.SpecGenerator) map[string]any {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestUsernsMode(t *testing.T) {
	tests := []struct {
		in      string
		want    specgen.Namespace
		wantErr bool
	}{
		{in: "", want: specgen.Namespace{}},
		{in: "host", want: specgen.Namespace{NSMode: specgen.Host}},
		{in: "keep-id", want: specgen.Namespace{NSMode: specgen.KeepID}},
		{in: "keep-id:uid=1000,gid=100", want: specgen.Namespace{NSMode: specgen.KeepID, Value: "uid=1000,gid=100"}},
		{in: "auto", wantErr: true},
		{in: "private", wantErr: true},
	}
	for _, tt := range tests {
		got, err := usernsMode(tt.in)
		if tt.wantErr {
			if !errors.Is(err, runtime.ErrUnsupported) {
				t.Errorf("usernsMode(%q) error = %v, want ErrUnsupported", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("usernsMode(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestStartFailure(t *testing.T) {
	tests := []struct {
		msg  string
		want error
	}{
		{`runc: runc create failed: unable to start container process: exec: "nope": executable file not found in $PATH: OCI runtime attempted to invoke a command that was not found`, runtime.ErrCommandNotFound},
		{`runc: exec: "/no/such": stat /no/such: no such file or directory: OCI runtime attempted to invoke a command that was not found`, runtime.ErrCommandNotFound},
		{`crun: executable file 'nope' not found in $PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found`, runtime.ErrCommandNotFound},
		{`runc: exec: "/etc/passwd": permission denied: OCI permission denied`, runtime.ErrCommandNotExecutable},
		{`runc: cgroup mountpoint does not exist`, nil},
	}
	for _, tt := range tests {
		if got := startFailure(tt.msg); got != tt.want {
			t.Errorf("startFailure(%q) = %v, want %v", tt.msg, got, tt.want)
		}
	}
}

func TestDirArchive(t *testing.T) {
	b, err := dirArchive([]string{"usr/local", "data"}, 1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %c %o %d:%d", h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid))
	}
	want := []string{"usr/local/ 5 755 1000:100", "data/ 5 755 1000:100"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("archive (-want +got):\n%s", diff)
	}
}
