package idmap

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

var remapRange = []IDRange{{HostID: 231072, Count: 65536}}

func TestMappings(t *testing.T) {
	subs := []IDRange{{HostID: 100000, Count: 1000}, {HostID: 300000, Count: 65536}}
	tests := []struct {
		name string
		got  Mapping
		want Mapping
	}{{
		name: "rootless, two subuid ranges",
		got:  RootlessMapping(1001, subs),
		want: Mapping{
			{ContainerID: 0, HostID: 1001, Count: 1},
			{ContainerID: 1, HostID: 100000, Count: 1000},
			{ContainerID: 1001, HostID: 300000, Count: 65536},
		},
	}, {
		name: "rootless without ranges",
		got:  RootlessMapping(1001, nil),
		want: Mapping{{ContainerID: 0, HostID: 1001, Count: 1}},
	}, {
		name: "keep-id splits inside the first range",
		got:  KeepIDMapping(1001, []IDRange{{HostID: 100000, Count: 65536}}, 1001),
		want: Mapping{
			{ContainerID: 0, HostID: 100000, Count: 1001},
			{ContainerID: 1001, HostID: 1001, Count: 1},
			{ContainerID: 1002, HostID: 101001, Count: 64535},
		},
	}, {
		name: "keep-id splits across ranges",
		got:  KeepIDMapping(1001, subs, 1500),
		want: Mapping{
			{ContainerID: 0, HostID: 100000, Count: 1000},
			{ContainerID: 1000, HostID: 300000, Count: 500},
			{ContainerID: 1500, HostID: 1001, Count: 1},
			{ContainerID: 1501, HostID: 300500, Count: 65036},
		},
	}, {
		name: "keep-id uid beyond the ranges",
		got:  KeepIDMapping(1001, []IDRange{{HostID: 100000, Count: 10}}, 1000),
		want: Mapping{
			{ContainerID: 0, HostID: 100000, Count: 10},
			{ContainerID: 1000, HostID: 1001, Count: 1},
		},
	}, {
		name: "userns-remap",
		got:  RemapMapping(remapRange),
		want: Mapping{{ContainerID: 0, HostID: 231072, Count: 65536}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got); diff != "" {
				t.Errorf("mapping mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMappingToHost(t *testing.T) {
	m := RootlessMapping(1001, hprtest.SubUIDs)
	tests := []struct {
		container, host int
		ok              bool
	}{{0, 1001, true}, {1, 100000, true}, {1500, 101499, true}, {65536, 165535, true}, {65537, -1, false}}
	for _, tt := range tests {
		got, ok := m.ToHost(tt.container)
		if got != tt.host || ok != tt.ok {
			t.Errorf("ToHost(%d) = %d, %v; want %d, %v", tt.container, got, ok, tt.host, tt.ok)
		}
		if !tt.ok {
			continue
		}
		back, ok := m.ToContainer(got)
		if back != tt.container || !ok {
			t.Errorf("ToContainer(%d) = %d, %v; want %d, true", got, back, ok, tt.container)
		}
	}
	if got, ok := IdentityMapping().ToContainer(4294967294); got != 4294967294 || !ok {
		t.Errorf("IdentityMapping().ToContainer(4294967294) = %d, %v", got, ok)
	}
}

func TestReverse(t *testing.T) {
	tests := []struct {
		name     string
		uid, gid int
		ns       Namespace
		want     Owner
		wantErr  string
	}{{
		name: "rootless Docker subuid",
		uid:  101499, gid: 101499,
		ns: Namespace{Mode: DockerRootless},
		want: Owner{
			HostUID: 101499, HostGID: 101499, Mapped: true, ContainerUID: 1500, ContainerGID: 1500,
			Text: "owned by 101499 = container uid 1500 under rootless Docker: --user must not be set: container root (0:0) is you, any other uid is a subordinate id",
		},
	}, {
		name: "rootless Docker host user",
		uid:  1001, gid: 1001,
		ns:   Namespace{Mode: DockerRootless},
		want: Owner{HostUID: 1001, HostGID: 1001, Mapped: true, ContainerUID: 0, ContainerGID: 0, OK: true, Text: "owned by you"},
	}, {
		name: "rootless Docker host root is outside",
		uid:  0, gid: 0,
		ns: Namespace{Mode: DockerRootless},
		want: Owner{
			ContainerUID: -1, ContainerGID: -1,
			Text: "owned by root, which no container uid maps to under rootless Docker: it was not written by a container run this way (another engine or mode, or changed subuid ranges)",
		},
	}, {
		name: "rootless Podman without keep-id",
		uid:  101499, gid: 1001,
		ns: Namespace{Mode: PodmanRootless},
		want: Owner{
			HostUID: 101499, HostGID: 1001, Mapped: true, ContainerUID: 1500, ContainerGID: 0,
			Text: "owned by 101499 = container uid 1500 under rootless Podman: the container ran as uid 1500 without keep-id; run it with --userns=keep-id (container uid 1001 is then you) or as 0:0",
		},
	}, {
		name: "rootless Podman keep-id, container root",
		uid:  100000, gid: 100000,
		ns: Namespace{Mode: PodmanRootless, Userns: "keep-id"},
		want: Owner{
			HostUID: 100000, HostGID: 100000, Mapped: true, ContainerUID: 0, ContainerGID: 0,
			Text: "owned by 100000 = container root under rootless Podman: the container ran as root, but under --userns=keep-id only container uid 1001 is you; run it as 1001:1001",
		},
	}, {
		name: "rootless Podman keep-id, above the host uid",
		uid:  101001, gid: 1001,
		ns: Namespace{Mode: PodmanRootless, Userns: "keep-id"},
		want: Owner{
			HostUID: 101001, HostGID: 1001, Mapped: true, ContainerUID: 1002, ContainerGID: 1001,
			Text: "owned by 101001 = container uid 1002 under rootless Podman: the container ran as uid 1002, but under --userns=keep-id only container uid 1001 is you; run it as 1001:1001",
		},
	}, {
		name: "rootless Podman keep-id host user",
		uid:  1001, gid: 1001,
		ns:   Namespace{Mode: PodmanRootless, Userns: "keep-id"},
		want: Owner{HostUID: 1001, HostGID: 1001, Mapped: true, ContainerUID: 1001, ContainerGID: 1001, OK: true, Text: "owned by you"},
	}, {
		name: "rootless Podman keep-id:uid=1000",
		uid:  101000, gid: 1001,
		ns: Namespace{Mode: PodmanRootless, Userns: "keep-id:uid=1000,gid=1000"},
		want: Owner{
			HostUID: 101000, HostGID: 1001, Mapped: true, ContainerUID: 1001, ContainerGID: 1000,
			Text: "owned by 101000 = container uid 1001 under rootless Podman: the container ran as uid 1001, but under --userns=keep-id:uid=1000,gid=1000 only container uid 1000 is you; run it as 1000:1000",
		},
	}, {
		name: "rootless Podman keep-id:uid=1000 host user",
		uid:  1001, gid: 1001,
		ns:   Namespace{Mode: PodmanRootless, Userns: "keep-id:uid=1000,gid=1000"},
		want: Owner{HostUID: 1001, HostGID: 1001, Mapped: true, ContainerUID: 1000, ContainerGID: 1000, OK: true, Text: "owned by you"},
	}, {
		name: "userns-remap without --userns=host",
		uid:  232072, gid: 232072,
		ns: Namespace{Mode: DockerUsernsRemap, RemapUIDs: remapRange, RemapGIDs: remapRange},
		want: Owner{
			HostUID: 232072, HostGID: 232072, Mapped: true, ContainerUID: 1000, ContainerGID: 1000,
			Text: "owned by 232072 = container uid 1000 under Docker with userns-remap: the container ran without --userns=host, so the daemon remapped it; run it with --userns=host as 1001:1001",
		},
	}, {
		name: "userns-remap root of a remapped container",
		uid:  231072, gid: 231072,
		ns: Namespace{Mode: DockerUsernsRemap, RemapUIDs: remapRange, RemapGIDs: remapRange},
		want: Owner{
			HostUID: 231072, HostGID: 231072, Mapped: true, ContainerUID: 0, ContainerGID: 0,
			Text: "owned by 231072 = container root under Docker with userns-remap: the container ran without --userns=host, so the daemon remapped it; run it with --userns=host as 1001:1001",
		},
	}, {
		name: "userns-remap with --userns=host, root",
		uid:  0, gid: 0,
		ns: Namespace{Mode: DockerUsernsRemap, Userns: "host"},
		want: Owner{
			Mapped: true,
			Text:   "owned by root = container root under Docker with userns-remap: the container ran as root; run it with --userns=host as 1001:1001",
		},
	}, {
		name: "rootful Docker root",
		uid:  0, gid: 0,
		ns: Namespace{Mode: DockerRootful},
		want: Owner{
			Mapped: true,
			Text:   "owned by root = container root under rootful Docker: the container ran as root; run it as 1001:1001",
		},
	}, {
		name: "rootful Podman image user",
		uid:  1000, gid: 1000,
		ns: Namespace{Mode: PodmanRootful},
		want: Owner{
			HostUID: 1000, HostGID: 1000, Mapped: true, ContainerUID: 1000, ContainerGID: 1000,
			Text: "owned by 1000 = container uid 1000 under rootful Podman: the container ran as uid 1000; run it as 1001:1001",
		},
	}, {
		name: "rootful Docker host user",
		uid:  1001, gid: 1001,
		ns:   Namespace{Mode: DockerRootful},
		want: Owner{HostUID: 1001, HostGID: 1001, Mapped: true, ContainerUID: 1001, ContainerGID: 1001, OK: true, Text: "owned by you"},
	}, {
		name: "negative owner", uid: -1, ns: Namespace{Mode: DockerRootful},
		wantErr: "invalid file owner -1:0",
	}, {
		name: "remap ranges unknown", uid: 232072, gid: 232072, ns: Namespace{Mode: DockerUsernsRemap},
		wantErr: "remap ranges are unknown",
	}, {
		name: "unknown mode", uid: 1, ns: Namespace{Mode: "lxc"},
		wantErr: `unknown engine mode "lxc"`,
	}, {
		name: "keep-id on rootful", uid: 1, ns: Namespace{Mode: PodmanRootful, Userns: "keep-id"},
		wantErr: `userns "keep-id" is not one hpr uses on podman-rootful`,
	}, {
		name: "keep-id on Docker", uid: 1, ns: Namespace{Mode: DockerRootless, Userns: "keep-id"},
		wantErr: `userns "keep-id" is not one hpr uses on docker-rootless`,
	}, {
		name: "bad keep-id option", uid: 1, ns: Namespace{Mode: PodmanRootless, Userns: "keep-id:uid=1000,size=9"},
		wantErr: `unknown keep-id option "size"`,
	}, {
		name: "bad keep-id id", uid: 1, ns: Namespace{Mode: PodmanRootless, Userns: "keep-id:uid=x"},
		wantErr: `"uid=x" is not a non-negative id`,
	}, {
		name: "other podman userns", uid: 1, ns: Namespace{Mode: PodmanRootless, Userns: "auto"},
		wantErr: `userns "auto" is not one hpr uses`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Reverse(tt.uid, tt.gid, tt.ns, hprtest)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Reverse() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReverseOfPlan checks that a plan's HostUID maps back, in the plan's own
// namespace, to the uid the plan runs as.
func TestReverseOfPlan(t *testing.T) {
	for _, tc := range []struct {
		name string
		e    Engine
		user string
		o    Override
	}{
		{"docker-rootful", dockerRootful, "node", OverrideAuto},
		{"docker-userns-remap", dockerRemap, "node", OverrideAuto},
		{"docker-rootless", dockerRootless, "node", OverrideAuto},
		{"podman-rootless keep-id", podman43, "", OverrideAuto},
		{"podman-rootless keep-id:uid", podman43, "node", OverrideAuto},
		{"podman-rootful", podmanRoot43, "node", OverrideAuto},
		{"docker-rootless image", dockerRootless, "node", OverrideImage},
		{"podman-rootless root", podman43, "node", OverrideRoot},
		{"podman-rootless image", podman43, "node", OverrideImage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := NewPlan(hprtest, tc.e, fixtureImage(t, tc.user), tc.o)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Reverse(p.HostUID, p.HostGID, Namespace{Mode: p.Mode, Userns: p.Userns}, hprtest)
			if err != nil {
				t.Fatal(err)
			}
			want := Owner{
				HostUID: p.HostUID, HostGID: p.HostGID, Mapped: true, ContainerUID: p.UID, ContainerGID: p.GID,
				OK: p.HostUID == hprtest.UID, Text: got.Text,
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Reverse(plan) mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
