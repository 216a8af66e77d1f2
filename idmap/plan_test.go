package idmap

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	hprtest = Host{
		UID: 1001, GID: 1001, Groups: []int{1001}, Name: "hprtest", Home: "/home/hprtest",
		SubUIDs: []IDRange{{HostID: 100000, Count: 65536}},
		SubGIDs: []IDRange{{HostID: 100000, Count: 65536}},
	}
	hostRoot = Host{Name: "root", Home: "/root"}

	dockerRootful  = Engine{Kind: KindDocker, Version: "28.2.2"}
	dockerRemap    = Engine{Kind: KindDocker, UsernsRemap: true, Version: "28.2.2"}
	dockerRootless = Engine{Kind: KindDocker, Rootless: true, Version: "28.2.2"}
	podman42       = Engine{Kind: KindPodman, Rootless: true, Version: "4.2.0"}
	podman43       = Engine{Kind: KindPodman, Rootless: true, Version: "4.3.1"}
	podmanRoot42   = Engine{Kind: KindPodman, Version: "4.2.0"}
	podmanRoot43   = Engine{Kind: KindPodman, Version: "4.3.1"}
)

// ident is the identity part of a Plan.
type ident struct {
	name, home, passwd, group string
	create                    bool
}

var (
	hprtestIdent = ident{
		name: "hprtest", home: "/home/hprtest", create: true,
		passwd: "hprtest:x:1001:1001:hpr:/home/hprtest:/bin/sh", group: "hprtest:x:1001:",
	}
	rootIdent = ident{name: "root", home: "/root"}
	nodeIdent = ident{name: "node", home: "/home/node"}
)

// with fills p's identity fields from id.
func with(p Plan, id ident) Plan {
	p.UserName, p.Home, p.CreateHome = id.name, id.home, id.create
	p.PasswdLine, p.GroupLine = id.passwd, id.group
	p.Env = []string{"USER=" + id.name, "LOGNAME=" + id.name, "HOME=" + id.home}
	return p
}

type planCase struct {
	name    string
	host    Host
	engine  Engine
	user    string
	o       Override
	img     *Image // overrides the fixture image when set
	want    Plan
	wantErr string
}

func runPlanCases(t *testing.T, tests []planCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := fixtureImage(t, tt.user)
			if tt.img != nil {
				img = *tt.img
			}
			o := tt.o
			if o == "" {
				o = OverrideAuto
			}
			got, err := NewPlan(tt.host, tt.engine, img, o)
			checkErr(t, err, tt.wantErr)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("NewPlan() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNewPlanMatrix covers every mode × image USER × host user × Podman
// version with the default (auto) override.
func TestNewPlanMatrix(t *testing.T) {
	rootUsers := []string{"", "root", "0"}
	nodeUsers := []string{"1000", "1000:1000", "node"}
	allUsers := append(append([]string{}, rootUsers...), nodeUsers...)

	var tests []planCase
	add := func(label string, h Host, e Engine, users []string, want func(user string) Plan, wantErr string) {
		for _, u := range users {
			c := planCase{name: fmt.Sprintf("%s/user=%q", label, u), host: h, engine: e, user: u, wantErr: wantErr}
			if want != nil {
				c.want = want(u)
			}
			tests = append(tests, c)
		}
	}
	const host, root = "host=hprtest", "host=root"

	// Rootful engines: the host user's ids whatever the image says.
	for _, r := range []struct {
		label string
		e     Engine
		mode  Mode
	}{
		{"docker-rootful", dockerRootful, DockerRootful},
		{"podman-rootful-4.2", podmanRoot42, PodmanRootful},
		{"podman-rootful-4.3", podmanRoot43, PodmanRootful},
	} {
		add(r.label+"/"+host, hprtest, r.e, allUsers, func(string) Plan {
			return with(Plan{
				Mode: r.mode, Override: OverrideAuto, User: "1001:1001", UID: 1001, GID: 1001,
				BuildUID: 1001, BuildGID: 1001, HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
			}, hprtestIdent)
		}, "")
		add(r.label+"/"+root, hostRoot, r.e, allUsers, func(string) Plan {
			return with(Plan{Mode: r.mode, Override: OverrideAuto, User: "0:0"}, rootIdent)
		}, "")
	}

	// userns-remap: --userns=host, then as rootful.
	add("docker-userns-remap/"+host, hprtest, dockerRemap, allUsers, func(string) Plan {
		return with(Plan{
			Mode: DockerUsernsRemap, Override: OverrideAuto, User: "1001:1001", Userns: "host", UID: 1001, GID: 1001,
			BuildUID: 1001, BuildGID: 1001, HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, hprtestIdent)
	}, "")
	add("docker-userns-remap/"+root, hostRoot, dockerRemap, allUsers, func(string) Plan {
		return with(Plan{Mode: DockerUsernsRemap, Override: OverrideAuto, User: "0:0", Userns: "host"}, rootIdent)
	}, "")

	// Rootless Docker: container root is the host user.
	add("docker-rootless/"+host, hprtest, dockerRootless, allUsers, func(string) Plan {
		return with(Plan{
			Mode: DockerRootless, Override: OverrideAuto, User: "0:0",
			HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, rootIdent)
	}, "")
	add("docker-rootless/"+root, hostRoot, dockerRootless, allUsers, nil, "host user is root but the engine is rootless Docker")

	// Rootless Podman: keep-id, with uid= for a non-root image USER on 4.3+.
	keepID := func(string) Plan {
		return with(Plan{
			Mode: PodmanRootless, Override: OverrideAuto, User: "1001:1001", Userns: "keep-id", UID: 1001, GID: 1001,
			BuildUID: 1001, BuildGID: 1001, HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, hprtestIdent)
	}
	add("podman-rootless-4.2/"+host, hprtest, podman42, rootUsers, keepID, "")
	add("podman-rootless-4.3/"+host, hprtest, podman43, rootUsers, keepID, "")
	add("podman-rootless-4.3/"+host, hprtest, podman43, nodeUsers, func(string) Plan {
		return with(Plan{
			Mode: PodmanRootless, Override: OverrideAuto, User: "1000:1000", Userns: "keep-id:uid=1000,gid=1000", UID: 1000, GID: 1000,
			BuildUID: 1001, BuildGID: 1001, HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, nodeIdent)
	}, "")
	add("podman-rootless-4.2/"+host, hprtest, podman42, nodeUsers, func(u string) Plan {
		p := keepID(u)
		p.Warnings = []string{fmt.Sprintf(`Podman 4.2.0 lacks --userns=keep-id:uid=,gid= (added in 4.3): running as you (1001:1001) instead of the image's USER %q (1000:1000), so files land as you but the image's own user setup is not used; upgrade Podman to 4.3 or later`, u)}
		return p
	}, "")
	add("podman-rootless-4.2/"+root, hostRoot, podman42, allUsers, nil, "host user is root but the engine is rootless Podman")
	add("podman-rootless-4.3/"+root, hostRoot, podman43, allUsers, nil, "host user is root but the engine is rootless Podman")

	// A USER the image's passwd lacks is an error in every mode.
	for _, e := range []Engine{dockerRootful, dockerRemap, dockerRootless, podman42, podman43, podmanRoot42, podmanRoot43} {
		for _, h := range []Host{hprtest, hostRoot} {
			add(fmt.Sprintf("%s-%s/host=%s", e.Kind, e.Version, h.Name)+fmt.Sprintf("/rootless=%v/remap=%v", e.Rootless, e.UsernsRemap),
				h, e, []string{"ghost"}, nil, "unable to find user ghost")
		}
	}
	runPlanCases(t, tests)
}

func TestNewPlanOverrides(t *testing.T) {
	const landWarning = `user override %q: files written in the project land on the host as %d:%d, not as you (1001:1001); set [run] user = "auto" to have them owned by you`
	tests := []planCase{{
		name: "root/docker-rootful", host: hprtest, engine: dockerRootful, user: "node", o: OverrideRoot,
		want: with(Plan{
			Mode: DockerRootful, Override: OverrideRoot, User: "0:0", BuildUID: 1001, BuildGID: 1001,
			HostUserUID: 1001, HostUserGID: 1001, Warnings: []string{fmt.Sprintf(landWarning, "root", 0, 0)},
		}, rootIdent),
	}, {
		name: "root/podman-rootful", host: hprtest, engine: podmanRoot43, user: "", o: OverrideRoot,
		want: with(Plan{
			Mode: PodmanRootful, Override: OverrideRoot, User: "0:0", BuildUID: 1001, BuildGID: 1001,
			HostUserUID: 1001, HostUserGID: 1001, Warnings: []string{fmt.Sprintf(landWarning, "root", 0, 0)},
		}, rootIdent),
	}, {
		name: "root/docker-userns-remap", host: hprtest, engine: dockerRemap, user: "node", o: OverrideRoot,
		want: with(Plan{
			Mode: DockerUsernsRemap, Override: OverrideRoot, User: "0:0", Userns: "host", BuildUID: 1001, BuildGID: 1001,
			HostUserUID: 1001, HostUserGID: 1001, Warnings: []string{fmt.Sprintf(landWarning, "root", 0, 0)},
		}, rootIdent),
	}, {
		name: "root/docker-rootless", host: hprtest, engine: dockerRootless, user: "node", o: OverrideRoot,
		want: with(Plan{
			Mode: DockerRootless, Override: OverrideRoot, User: "0:0",
			HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, rootIdent),
	}, {
		name: "root/podman-rootless drops keep-id", host: hprtest, engine: podman43, user: "node", o: OverrideRoot,
		want: with(Plan{
			Mode: PodmanRootless, Override: OverrideRoot, User: "0:0", BuildUID: 1001, BuildGID: 1001,
			HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, rootIdent),
	}, {
		name: "root/host root on rootful", host: hostRoot, engine: dockerRootful, user: "node", o: OverrideRoot,
		want: with(Plan{Mode: DockerRootful, Override: OverrideRoot, User: "0:0"}, rootIdent),
	}, {
		name: "image/docker-rootful node", host: hprtest, engine: dockerRootful, user: "node", o: OverrideImage,
		want: with(Plan{
			Mode: DockerRootful, Override: OverrideImage, UID: 1000, GID: 1000, BuildUID: 1001, BuildGID: 1001,
			HostUID: 1000, HostGID: 1000, HostUserUID: 1001, HostUserGID: 1001,
			Warnings: []string{fmt.Sprintf(landWarning, "image", 1000, 1000)},
		}, nodeIdent),
	}, {
		name: "image/docker-rootful root", host: hprtest, engine: dockerRootful, user: "", o: OverrideImage,
		want: with(Plan{
			Mode: DockerRootful, Override: OverrideImage, BuildUID: 1001, BuildGID: 1001,
			HostUserUID: 1001, HostUserGID: 1001, Warnings: []string{fmt.Sprintf(landWarning, "image", 0, 0)},
		}, rootIdent),
	}, {
		name: "image/podman-rootful host user's own uid", host: hprtest, engine: podmanRoot42, user: "1001:1001", o: OverrideImage,
		want: with(Plan{
			Mode: PodmanRootful, Override: OverrideImage, UID: 1001, GID: 1001, BuildUID: 1001, BuildGID: 1001,
			HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, hprtestIdent),
	}, {
		name: "image/docker-userns-remap keeps userns host", host: hprtest, engine: dockerRemap, user: "node", o: OverrideImage,
		want: with(Plan{
			Mode: DockerUsernsRemap, Override: OverrideImage, Userns: "host", UID: 1000, GID: 1000, BuildUID: 1001, BuildGID: 1001,
			HostUID: 1000, HostGID: 1000, HostUserUID: 1001, HostUserGID: 1001,
			Warnings: []string{fmt.Sprintf(landWarning, "image", 1000, 1000)},
		}, nodeIdent),
	}, {
		name: "image/docker-rootless root lands as you", host: hprtest, engine: dockerRootless, user: "root", o: OverrideImage,
		want: with(Plan{
			Mode: DockerRootless, Override: OverrideImage,
			HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, rootIdent),
	}, {
		name: "image/docker-rootless node lands on a subuid", host: hprtest, engine: dockerRootless, user: "node", o: OverrideImage,
		want: with(Plan{
			Mode: DockerRootless, Override: OverrideImage, UID: 1000, GID: 1000,
			HostUID: 100999, HostGID: 100999, HostUserUID: 1001, HostUserGID: 1001,
			Warnings: []string{fmt.Sprintf(landWarning, "image", 100999, 100999)},
		}, nodeIdent),
	}, {
		name: "image/podman-rootless uid 1500 without entry", host: hprtest, engine: podman43, user: "1500", o: OverrideImage,
		want: with(Plan{
			Mode: PodmanRootless, Override: OverrideImage, UID: 1500, GID: 0, BuildUID: 1001, BuildGID: 1001,
			HostUID: 101499, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
			Warnings: []string{fmt.Sprintf(landWarning, "image", 101499, 1001)},
		}, ident{name: "hpr", home: "/home/hpr", create: true, passwd: "hpr:x:1500:0:hpr:/home/hpr:/bin/sh"}),
	}, {
		name: "image/rootless uid beyond subuid range", host: hprtest, engine: podman43, user: "70000", o: OverrideImage,
		wantErr: `image USER "70000" (70000:0) has no host id under podman-rootless`,
	}, {
		name: "image/rootless without subuid ranges", host: Host{UID: 1001, GID: 1001, Name: "hprtest"}, engine: dockerRootless, user: "node", o: OverrideImage,
		wantErr: "subuid none, subgid none",
	}, {
		name: "auto/podman 4.2 image USER equal to the host user needs no uid=", host: hprtest, engine: podman42, user: "1001:1001", o: OverrideAuto,
		want: with(Plan{
			Mode: PodmanRootless, Override: OverrideAuto, User: "1001:1001", Userns: "keep-id", UID: 1001, GID: 1001,
			BuildUID: 1001, BuildGID: 1001, HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, hprtestIdent),
	}, {
		name: "unknown override", host: hprtest, engine: dockerRootful, user: "node", o: "nobody",
		wantErr: `unknown user override "nobody"`,
	}}
	runPlanCases(t, tests)
}

func TestNewPlanIdentity(t *testing.T) {
	autoRootful := func(id ident, host Host) Plan {
		return with(Plan{
			Mode: DockerRootful, Override: OverrideAuto, User: fmt.Sprintf("%d:%d", host.UID, host.GID), UID: host.UID, GID: host.GID,
			BuildUID: host.UID, BuildGID: host.GID, HostUID: host.UID, HostGID: host.GID, HostUserUID: host.UID, HostUserGID: host.GID,
		}, id)
	}
	taken := &Image{
		Passwd: []byte("root:x:0:0:root:/root:/bin/sh\nhprtest:x:2000:2000::/home/hprtest:/bin/sh\n"),
		Group:  []byte("root:x:0:\nhprtest:x:2000:\n"),
	}
	nameless := Host{UID: 1001, GID: 1001}
	www := Host{UID: 33, GID: 33, Name: "www-data"}
	tests := []planCase{{
		name: "nil passwd and group", host: hprtest, engine: dockerRootful, img: &Image{},
		want: autoRootful(hprtestIdent, hprtest),
	}, {
		name: "nil files, root", host: hostRoot, engine: dockerRootless, img: &Image{},
		wantErr: "host user is root",
	}, {
		name: "nil files, docker-rootless root line", host: hprtest, engine: dockerRootless, img: &Image{},
		want: with(Plan{
			Mode: DockerRootless, Override: OverrideAuto, User: "0:0",
			HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, ident{name: "root", home: "/root", create: true, passwd: "root:x:0:0:root:/root:/bin/sh", group: "root:x:0:"}),
	}, {
		name: "image already has the host user's name", host: hprtest, engine: dockerRootful, img: taken,
		want: autoRootful(ident{name: "hpr", home: "/home/hpr", create: true, passwd: "hpr:x:1001:1001:hpr:/home/hpr:/bin/sh", group: "hpr:x:1001:"}, hprtest),
	}, {
		name: "host user without a name", host: nameless, engine: dockerRootful, user: "node",
		want: autoRootful(ident{name: "hpr", home: "/home/hpr", create: true, passwd: "hpr:x:1001:1001:hpr:/home/hpr:/bin/sh", group: "hpr:x:1001:"}, nameless),
	}, {
		name: "entry with home / gets a created home", host: www, engine: dockerRootful, user: "node",
		want: autoRootful(ident{name: "www", home: "/home/www", create: true}, www),
	}, {
		name: "entry with home /nonexistent gets a created home", host: hprtest, engine: dockerRootful, user: "nobody", o: OverrideImage,
		want: with(Plan{
			Mode: DockerRootful, Override: OverrideImage, UID: 65534, GID: 65534, BuildUID: 1001, BuildGID: 1001,
			HostUID: 65534, HostGID: 65534, HostUserUID: 1001, HostUserGID: 1001,
			Warnings: []string{`user override "image": files written in the project land on the host as 65534:65534, not as you (1001:1001); set [run] user = "auto" to have them owned by you`},
		}, ident{name: "nobody", home: "/home/nobody", create: true}),
	}, {
		name: "group missing for an existing user", host: hprtest, engine: podman43, user: "node",
		img: &Image{User: "node", Passwd: []byte("node:x:1000:1000::/home/node:/bin/sh\n")},
		want: with(Plan{
			Mode: PodmanRootless, Override: OverrideAuto, User: "1000:1000", Userns: "keep-id:uid=1000,gid=1000", UID: 1000, GID: 1000,
			BuildUID: 1001, BuildGID: 1001, HostUID: 1001, HostGID: 1001, HostUserUID: 1001, HostUserGID: 1001,
		}, ident{name: "node", home: "/home/node", group: "node:x:1000:"}),
	}}
	runPlanCases(t, tests)
}

func TestNewPlanErrors(t *testing.T) {
	tests := []planCase{
		{name: "unknown kind", host: hprtest, engine: Engine{Kind: "lxc"}, wantErr: `unknown engine kind "lxc"`},
		{name: "rootless and remap", host: hprtest, engine: Engine{Kind: KindDocker, Rootless: true, UsernsRemap: true}, wantErr: "both rootless and userns-remap"},
		{name: "podman remap", host: hprtest, engine: Engine{Kind: KindPodman, UsernsRemap: true}, wantErr: "userns-remap"},
		{name: "negative uid", host: Host{UID: -1, GID: 1001}, engine: dockerRootful, wantErr: "must not be negative"},
		{name: "negative gid", host: Host{UID: 1001, GID: -1}, engine: dockerRootful, wantErr: "must not be negative"},
		{name: "empty override", host: hprtest, engine: dockerRootful, o: Override("none"), wantErr: "unknown user override"},
		{name: "missing group", host: hprtest, engine: dockerRootful, user: "node:ghosts", wantErr: "unable to find group ghosts"},
		{name: "unparsable podman version", host: hprtest, engine: Engine{Kind: KindPodman, Rootless: true, Version: "dev"}, user: "node", wantErr: `parsing engine version "dev"`},
	}
	runPlanCases(t, tests)

	// The zero Override is not "auto".
	if _, err := NewPlan(hprtest, dockerRootful, Image{}, ""); err == nil {
		t.Error(`NewPlan with override "" succeeded, want an error`)
	}
}
