package doctor

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
)

// host is the test user of the examples: uid 2000 with one subordinate
// range, as on the harness machines.
var host = idmap.Host{
	UID: 2000, GID: 2000, Name: "hprtest", Home: "/home/hprtest",
	SubUIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}},
	SubGIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}},
}

var remap = []idmap.IDRange{{HostID: 165536, Count: 65536}}

func TestGroups(t *testing.T) {
	files := []File{
		{Path: "sub/rl/f", UID: 101499, GID: 101499},
		{Path: "out/deep/b", UID: 0, GID: 0},
		{Path: "out", UID: 0, GID: 0, Dir: true},
		{Path: "sub/rl", UID: 101499, GID: 101499, Dir: true},
		{Path: "a", UID: 0, GID: 0},
		{Path: "g", UID: 0, GID: 5},
	}
	got := Groups(files)
	want := []Group{
		{Owner: Owner{0, 0}, Files: []File{
			{Path: "a", UID: 0, GID: 0},
			{Path: "out", UID: 0, GID: 0, Dir: true},
			{Path: "out/deep/b", UID: 0, GID: 0},
		}},
		{Owner: Owner{0, 5}, Files: []File{{Path: "g", UID: 0, GID: 5}}},
		{Owner: Owner{101499, 101499}, Files: []File{
			{Path: "sub/rl", UID: 101499, GID: 101499, Dir: true},
			{Path: "sub/rl/f", UID: 101499, GID: 101499},
		}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Groups() mismatch (-want +got):\n%s", diff)
	}
}

func TestExamples(t *testing.T) {
	g := Group{Files: []File{
		{Path: ".", Dir: true},
		{Path: "secret", Dir: true, Unreadable: true},
		{Path: "new\nline"},
		{Path: "linked", SharedLinks: true},
	}}
	want := []string{".", "secret/ (unreadable: contents unknown)", `"new\nline"`, "linked (hard-linked outside the project)"}
	if diff := cmp.Diff(want, g.Examples(10)); diff != "" {
		t.Errorf("Examples() mismatch (-want +got):\n%s", diff)
	}
	if got := g.Examples(2); len(got) != 2 {
		t.Errorf("Examples(2) = %q, want 2", got)
	}
	if got := len(g.Fixable()); got != 3 {
		t.Errorf("len(Fixable()) = %d, want 3 (all but the hard-linked file)", got)
	}
}

func TestNamespaces(t *testing.T) {
	tests := []struct {
		mode    idmap.Mode
		remap   []idmap.IDRange
		want    []idmap.Namespace
		wantErr string
	}{
		{mode: idmap.DockerRootful, want: []idmap.Namespace{{Mode: idmap.DockerRootful}}},
		{mode: idmap.PodmanRootful, want: []idmap.Namespace{{Mode: idmap.PodmanRootful}}},
		{mode: idmap.DockerRootless, want: []idmap.Namespace{{Mode: idmap.DockerRootless}}},
		{mode: idmap.PodmanRootless, want: []idmap.Namespace{{Mode: idmap.PodmanRootless}, {Mode: idmap.PodmanRootless, Userns: "keep-id"}}},
		{mode: idmap.DockerUsernsRemap, want: []idmap.Namespace{{Mode: idmap.DockerUsernsRemap, Userns: "host"}}},
		{mode: idmap.DockerUsernsRemap, remap: remap, want: []idmap.Namespace{
			{Mode: idmap.DockerUsernsRemap, Userns: "host"},
			{Mode: idmap.DockerUsernsRemap, RemapUIDs: remap, RemapGIDs: remap},
		}},
		{mode: "lxc", wantErr: `unknown engine mode "lxc"`},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			got, err := Namespaces(tt.mode, tt.remap, tt.remap)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Namespaces() error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Namespaces() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// every is the namespaces of one engine of each mode.
func every(t *testing.T) []idmap.Namespace {
	t.Helper()
	var nss []idmap.Namespace
	for _, m := range idmap.Modes {
		ns, err := Namespaces(m, remap, remap)
		if err != nil {
			t.Fatal(err)
		}
		nss = append(nss, ns...)
	}
	return nss
}

func TestOrigins(t *testing.T) {
	tests := []struct {
		name  string
		owner Owner
		nss   []idmap.Namespace
		want  []string
	}{{
		name:  "root under every engine: only the host-sharing ones",
		owner: Owner{0, 0},
		nss:   every(t),
		want: []string{
			"owned by root = container root under rootful Docker: the container ran as root; run it as 2000:2000",
			"owned by root = container root under Docker with userns-remap: the container ran as root; run it with --userns=host as 2000:2000",
			"owned by root = container root under rootful Podman: the container ran as root; run it as 2000:2000",
		},
	}, {
		name:  "subuid: rootless explanations win over rootful ones",
		owner: Owner{101499, 101499},
		nss:   every(t),
		want: []string{
			"owned by 101499 = container uid 1500 under rootless Docker: --user must not be set: container root (0:0) is you, any other uid is a subordinate id",
			"owned by 101499 = container uid 1500 under rootless Podman: the container ran as uid 1500 without keep-id; run it with --userns=keep-id (container uid 2000 is then you) or as 0:0",
			"owned by 101499 = container uid 1499 under rootless Podman: the container ran as uid 1499, but under --userns=keep-id only container uid 2000 is you; run it as 2000:2000",
		},
	}, {
		name:  "remap range",
		owner: Owner{166536, 166536},
		nss:   every(t),
		want: []string{
			"owned by 166536 = container uid 1000 under Docker with userns-remap: the container ran without --userns=host, so the daemon remapped it; run it with --userns=host as 2000:2000",
		},
	}, {
		name:  "subuid with only a rootful engine",
		owner: Owner{101499, 101499},
		nss:   []idmap.Namespace{{Mode: idmap.DockerRootful}},
		want:  []string{"owned by 101499 = container uid 101499 under rootful Docker: the container ran as uid 101499; run it as 2000:2000"},
	}, {
		name:  "root with only a rootless engine: unexplained",
		owner: Owner{0, 0},
		nss:   []idmap.Namespace{{Mode: idmap.DockerRootless}},
	}, {
		name:  "no engines",
		owner: Owner{0, 0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Origins(tt.owner, tt.nss, host)
			if err != nil {
				t.Fatal(err)
			}
			var texts []string
			for _, o := range got {
				texts = append(texts, o.Text)
			}
			if diff := cmp.Diff(tt.want, texts); diff != "" {
				t.Errorf("Origins() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRootNamespaceAndTarget(t *testing.T) {
	tests := []struct {
		e        idmap.Engine
		want     idmap.Namespace
		uid, gid int
	}{
		{idmap.Engine{Kind: idmap.KindDocker}, idmap.Namespace{Mode: idmap.DockerRootful}, 2000, 2000},
		{idmap.Engine{Kind: idmap.KindDocker, UsernsRemap: true}, idmap.Namespace{Mode: idmap.DockerUsernsRemap, Userns: "host"}, 2000, 2000},
		{idmap.Engine{Kind: idmap.KindDocker, Rootless: true}, idmap.Namespace{Mode: idmap.DockerRootless}, 0, 0},
		{idmap.Engine{Kind: idmap.KindPodman, Rootless: true, Version: "5.4.2"}, idmap.Namespace{Mode: idmap.PodmanRootless}, 0, 0},
		{idmap.Engine{Kind: idmap.KindPodman, Version: "5.4.2"}, idmap.Namespace{Mode: idmap.PodmanRootful}, 2000, 2000},
	}
	for _, tt := range tests {
		t.Run(string(tt.want.Mode), func(t *testing.T) {
			ns, err := RootNamespace(host, tt.e)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, ns); diff != "" {
				t.Errorf("RootNamespace() mismatch (-want +got):\n%s", diff)
			}
			uid, gid, err := Target(ns, host)
			if err != nil || uid != tt.uid || gid != tt.gid {
				t.Errorf("Target() = %d, %d, %v; want %d, %d", uid, gid, err, tt.uid, tt.gid)
			}
		})
	}
	if _, err := RootNamespace(idmap.Host{}, idmap.Engine{Kind: idmap.KindDocker, Rootless: true}); err == nil {
		t.Error("RootNamespace() of a rootless engine for host root: want an error")
	}
}

func TestCanFix(t *testing.T) {
	rootless := idmap.Namespace{Mode: idmap.DockerRootless}
	rootful := idmap.Namespace{Mode: idmap.DockerRootful}
	tests := []struct {
		ns    idmap.Namespace
		owner Owner
		want  bool
	}{
		{rootless, Owner{101499, 101499}, true},
		{rootless, Owner{0, 0}, false},
		{rootless, Owner{101499, 0}, false}, // the gid is not mapped: CAP_CHOWN does not cover the file
		{rootless, Owner{166536, 166536}, false},
		{rootful, Owner{0, 0}, true},
		{rootful, Owner{101499, 101499}, true},
		{idmap.Namespace{Mode: idmap.DockerUsernsRemap, Userns: "host"}, Owner{166536, 166536}, true},
	}
	for _, tt := range tests {
		got, err := CanFix(tt.ns, tt.owner, host)
		if err != nil || got != tt.want {
			t.Errorf("CanFix(%s, %s) = %v, %v; want %v", tt.ns.Mode, tt.owner, got, err, tt.want)
		}
	}
}

func TestAssign(t *testing.T) {
	rootOwned := Group{Owner: Owner{0, 0}, Files: []File{{Path: "out", UID: 0, GID: 0, Dir: true}}}
	subuid := Group{Owner: Owner{101499, 101499}, Files: []File{{Path: "sub", UID: 101499, GID: 101499}}}
	linked := Group{Owner: Owner{0, 7}, Files: []File{{Path: "l", UID: 0, GID: 7, SharedLinks: true}}}
	rootless := Fixer{Name: "rootless", NS: idmap.Namespace{Mode: idmap.DockerRootless}}
	podman := Fixer{Name: "podman", NS: idmap.Namespace{Mode: idmap.PodmanRootless}}
	rootful := Fixer{Name: "rootful", NS: idmap.Namespace{Mode: idmap.DockerRootful}}
	remapHost := Fixer{Name: "remap", NS: idmap.Namespace{Mode: idmap.DockerUsernsRemap, Userns: "host"}}
	tests := []struct {
		name          string
		groups        []Group
		fixers        []Fixer
		want          []Assignment
		wantUnfixable []int
	}{{
		name:   "one rootful engine fixes everything",
		groups: []Group{rootOwned, subuid},
		fixers: []Fixer{rootless, remapHost, rootful},
		want:   []Assignment{{Fixer: 2, Groups: []int{0, 1}}},
	}, {
		name:   "subuids only: the rootless engine, least privileged",
		groups: []Group{subuid},
		fixers: []Fixer{rootful, podman, rootless},
		want:   []Assignment{{Fixer: 2, Groups: []int{0}}},
	}, {
		name:          "rootless only: root-owned files are unfixable",
		groups:        []Group{rootOwned, subuid},
		fixers:        []Fixer{rootless},
		want:          []Assignment{{Fixer: 0, Groups: []int{1}}},
		wantUnfixable: []int{0},
	}, {
		name:          "nothing answers",
		groups:        []Group{rootOwned, subuid},
		wantUnfixable: []int{0, 1},
	}, {
		name:          "hard-linked outside the project",
		groups:        []Group{linked, rootOwned},
		fixers:        []Fixer{rootful},
		want:          []Assignment{{Fixer: 0, Groups: []int{1}}},
		wantUnfixable: []int{0},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, unfixable, err := Assign(tt.groups, tt.fixers, host)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Assign() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantUnfixable, unfixable); diff != "" {
				t.Errorf("Assign() unfixable mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnfixable(t *testing.T) {
	root := Group{Owner: Owner{0, 0}, Files: []File{
		{Path: "out", Dir: true}, {Path: "out/a"}, {Path: "it's"},
	}}
	sub := Group{Owner: Owner{101499, 101499}, Files: []File{{Path: "sub"}}}
	other := Group{Owner: Owner{1000, 1000}, Files: []File{{Path: "x"}}}
	linked := Group{Owner: Owner{0, 0}, Files: []File{{Path: "l", SharedLinks: true}}}
	var many Group
	many.Owner = Owner{0, 0}
	for _, p := range []string{"a", "b", "c", "d", "e", "f"} {
		many.Files = append(many.Files, File{Path: p})
	}
	tests := []struct {
		name string
		g    Group
		want string
	}{
		{"root", root, "files owned by root (0:0) and no rootful engine you can use: run `sudo chown -R -h 2000:2000 -- /p/out '/p/it'\\''s'`"},
		{"subuid", sub, "files owned by your subordinate ids (101499:101499) and no engine you can use maps them: start rootless Docker or Podman and run `hpr doctor --fix` again, or run `sudo chown -R -h 2000:2000 -- /p/sub`"},
		{"another user", other, "files owned by 1000:1000, which only a rootful engine can change, and none you can use answered: run `sudo chown -R -h 2000:2000 -- /p/x`"},
		{"hard links", linked, "1 path owned by 0:0 has hard links outside the project, so hpr leaves it alone"},
		{"many paths: the root", many, "run `sudo chown -R -h 2000:2000 -- /p`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Unfixable(tt.g, "/p", host); !strings.Contains(got, tt.want) {
				t.Errorf("Unfixable() = %q\nwant it to contain %q", got, tt.want)
			}
		})
	}
}

func TestList(t *testing.T) {
	files := []File{
		{Path: "."},
		{Path: "a b/new\nline"},
		{Path: "secret", Dir: true, Unreadable: true},
		{Path: "unreadable file", Unreadable: true},
	}
	got, err := decodeList(EncodeList(files))
	if err != nil {
		t.Fatal(err)
	}
	want := []entry{{".", false}, {"a b/new\nline", false}, {"secret", true}, {"unreadable file", false}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(entry{})); diff != "" {
		t.Errorf("decodeList(EncodeList()) mismatch (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"fa", "x\x00", "f../etc\x00", "f/etc/passwd\x00", "f\x00", "fa/../../b\x00"} {
		if _, err := decodeList([]byte(bad)); err == nil {
			t.Errorf("decodeList(%q): want an error", bad)
		}
	}
}

func TestWriteText(t *testing.T) {
	files := []File{
		{Path: "out", UID: 0, GID: 0, Dir: true},
		{Path: "out/a", UID: 0, GID: 0},
		{Path: "out/b", UID: 0, GID: 0},
		{Path: "out/c", UID: 0, GID: 0},
		{Path: "sub", UID: 101499, GID: 101499, Dir: true},
		{Path: "x", UID: 4242, GID: 4242},
	}
	groups := Groups(files)
	var origins [][]idmap.Owner
	for _, g := range groups {
		o, err := Origins(g.Owner, []idmap.Namespace{{Mode: idmap.DockerRootless}}, host)
		if err != nil {
			t.Fatal(err)
		}
		origins = append(origins, o)
	}
	r := Report{
		Root: "/p", Host: host, Groups: groups, Origins: origins, Names: map[int]string{0: "root"},
		Scan: &Scan{Root: "/p", UID: 2000, Seen: 9, Files: files, Problems: []string{"mine/: cannot list it: permission denied"}},
	}
	var b strings.Builder
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := `6 paths of 9 under /p are not owned by you (hprtest, uid 2000):

  0:0 (root): 4 paths: out/, out/a, out/b and 1 more
    - owned by root: left by a container running as root on a rootful engine, or by sudo; none of the engines used here runs containers as host root

  4242:4242: 1 path: x
    - no engine here maps 4242:4242 to a container id: not written by a container of an engine that answers (another user, a tool run with sudo, or changed subuid ranges)

  101499:101499: 1 path: sub/
    - owned by 101499 = container uid 1500 under rootless Docker: --user must not be set: container root (0:0) is you, any other uid is a subordinate id

Not inspected:
  mine/: cannot list it: permission denied
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("WriteText() mismatch (-want +got):\n%s", diff)
	}

	b.Reset()
	clean := Report{Root: "/p", Host: host, Scan: &Scan{Root: "/p", UID: 2000, Seen: 1}}
	if err := clean.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), "The only path under /p is owned by you (hprtest, uid 2000).\n"; got != want {
		t.Errorf("WriteText() of a clean scan = %q, want %q", got, want)
	}
}
