package runtime

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
)

func TestNewInfo(t *testing.T) {
	docker := idmap.Engine{Kind: idmap.KindDocker, Version: "20.10.24", APIVersion: "1.41"}
	platform := Platform{OS: "linux", Arch: "amd64", StorageDriver: "overlay2"}
	tests := []struct {
		name     string
		endpoint string
		facts    idmap.Engine
		want     Info
		wantErr  bool
	}{
		{name: "local rootful docker", endpoint: "unix:///var/run/docker.sock", facts: docker,
			want: Info{Endpoint: "unix:///var/run/docker.sock", Local: true, Facts: docker, Mode: idmap.DockerRootful, Platform: platform}},
		{name: "tcp is not local", endpoint: "tcp://host:2375", facts: docker,
			want: Info{Endpoint: "tcp://host:2375", Facts: docker, Mode: idmap.DockerRootful, Platform: platform}},
		{name: "rootless podman",
			endpoint: "unix:///run/user/1000/podman/podman.sock",
			facts:    idmap.Engine{Kind: idmap.KindPodman, Rootless: true, Version: "4.3.1", APIVersion: "4.3.1"},
			want: Info{Endpoint: "unix:///run/user/1000/podman/podman.sock", Local: true, Mode: idmap.PodmanRootless, Platform: platform,
				Facts: idmap.Engine{Kind: idmap.KindPodman, Rootless: true, Version: "4.3.1", APIVersion: "4.3.1"}}},
		{name: "rootless and remapped", endpoint: "unix:///d.sock", facts: idmap.Engine{Kind: idmap.KindDocker, Rootless: true, UsernsRemap: true, Version: "1", APIVersion: "1"}, wantErr: true},
		{name: "unknown kind", endpoint: "unix:///d.sock", facts: idmap.Engine{Kind: "lxd", Version: "1", APIVersion: "1"}, wantErr: true},
		{name: "no version", endpoint: "unix:///d.sock", facts: idmap.Engine{Kind: idmap.KindDocker, APIVersion: "1.41"}, wantErr: true},
		{name: "no API version", endpoint: "unix:///d.sock", facts: idmap.Engine{Kind: idmap.KindDocker, Version: "20.10"}, wantErr: true},
		{name: "no scheme", endpoint: "/var/run/docker.sock", facts: docker, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewInfo(tt.endpoint, tt.facts, platform)
			if (err != nil) != tt.wantErr {
				t.Fatalf("NewInfo() error = %v, wantErr %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewInfo() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckPlan(t *testing.T) {
	tests := []struct {
		mode        idmap.Mode
		kind        idmap.Kind
		ok          bool
		unsupported bool
	}{
		{"", idmap.KindDocker, true, false},
		{"", idmap.KindPodman, true, false},
		{idmap.DockerUsernsRemap, idmap.KindDocker, true, false},
		{idmap.PodmanRootless, idmap.KindPodman, true, false},
		{idmap.PodmanRootful, idmap.KindDocker, false, true},
		{idmap.DockerRootless, idmap.KindPodman, false, true},
		{"docker-weird", idmap.KindDocker, false, false},
	}
	for _, tt := range tests {
		err := CheckPlan(idmap.Plan{Mode: tt.mode}, tt.kind)
		if (err == nil) != tt.ok || errors.Is(err, ErrUnsupported) != tt.unsupported {
			t.Errorf("CheckPlan(%q, %s) = %v; want ok %v, ErrUnsupported %v", tt.mode, tt.kind, err, tt.ok, tt.unsupported)
		}
	}
}
