package project

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// fakeResolveEngine knows images by reference (each with a passwd that
// names uid 1000) and records the volumes ensured. Only what the resolver
// makes of a compose project is tested here.
type fakeResolveEngine struct {
	runtime.Engine // not called: a call panics

	mu      sync.Mutex
	images  map[string]runtime.Image
	volumes []string
}

func (f *fakeResolveEngine) Image(_ context.Context, ref string) (runtime.Image, error) {
	img, ok := f.images[ref]
	if !ok {
		return runtime.Image{}, runtime.ErrNotFound
	}
	return img, nil
}

func (f *fakeResolveEngine) ReadImageFiles(_ context.Context, _ string, paths ...string) (map[string][]byte, error) {
	known := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n",
		"/etc/group":  "root:x:0:\nnode:x:1000:\n",
	}
	out := map[string][]byte{}
	for _, p := range paths {
		if c, ok := known[p]; ok {
			out[p] = []byte(c)
		}
	}
	return out, nil
}

func (f *fakeResolveEngine) EnsureVolume(_ context.Context, spec runtime.VolumeSpec) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.volumes = append(f.volumes, spec.Name)
	return true, nil
}

// TestResolveCompose: the resolver gives a compose project's container its
// tmpfs, labels and ${UID}/${GID} as the plan's ids; a companion that does
// not mount the project runs unmapped, as its image or user: says; a
// literal user: is run as written and warned about.
func TestResolveCompose(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	dir := writeTree(t, map[string]string{"compose.yml": `services:
  web:
    image: app
    volumes: [".:/src", "data:/data"]
    environment: {HOST_IDS: "${UID}:${GID}"}
    tmpfs: [/run/app]
    labels: {tier: front}
    user: "${UID}:${GID}"
    depends_on: [db]
  db:
    image: db
    user: "1000"
    volumes: ["data:/var/lib/db", "/scratch"]
    command: ["serve", "--uid", "${UID}"]
volumes:
  data:
`})
	p, err := openCompose(t, dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := &fakeResolveEngine{images: map[string]runtime.Image{
		"app": {ID: "sha256:app", Ref: "app"},
		"db":  {ID: "sha256:db", Ref: "db", User: "1000"},
	}}
	host := idmap.Host{UID: 2345, GID: 2346, SubUIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}}, SubGIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}}}
	r := &Resolver{Engine: e, Info: runtime.Info{Endpoint: "unix:///fake", Mode: idmap.DockerRootless, Facts: idmap.Engine{Kind: idmap.KindDocker, Rootless: true, Version: "20.10"}}, Host: host}
	res, err := r.Resolve(context.Background(), p, Request{Companions: true, Labels: map[string]string{runtime.LabelPID: "1"}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Spec
	got := []any{s.Plan.User, s.Env, s.Tmpfs, s.Labels["tier"], s.Mounts[0], s.Volumes}
	want := []any{"0:0", []string{"HOST_IDS=0:0"}, []runtime.Tmpfs{{Target: "/run/app", Mode: 0o1777}}, "front",
		runtime.Mount{Source: dir, Target: "/src", Project: true}, []runtime.VolumeMount{{Name: "hpr-" + p.Name + "-data", Target: "/data"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dev spec (-want +got):\n%s", diff)
	}
	if len(res.Companions) != 1 {
		t.Fatalf("companions %+v, want db", res.Companions)
	}
	db := res.Companions[0].Spec
	got = []any{res.Companions[0].Name, db.ImageID, db.Plan.User, db.Plan.Userns, db.Cmd, db.Mounts, db.Volumes, db.Labels[runtime.LabelCompanion], db.Labels[runtime.LabelPID], db.Identity}
	want = []any{"db", "sha256:db", "1000", "", []string{"serve", "--uid", "0"}, []runtime.Mount(nil),
		[]runtime.VolumeMount{{Name: "hpr-" + p.Name + "-data", Target: "/var/lib/db"}, {Target: "/scratch"}}, "db", "1", runtime.Identity{}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("companion spec (-want +got):\n%s", diff)
	}
	if !db.KeepVolumeOwners {
		t.Errorf("the companion's volumes are handed to a plan it does not run as (KeepVolumeOwners unset)")
	}

	// A literal user: is run as written, and said not to land as you.
	p.Run.User, p.Run.UserSpec = idmap.OverrideImage, "node"
	res, err = r.Resolve(context.Background(), p, Request{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Spec.Plan.User != "1000:1000" || !strings.Contains(strings.Join(res.Warnings, "\n"), `user "node": files written in the project land on the host as 100999:100999, not as you (2345:2346)`) {
		t.Errorf("user node: plan user %q, warnings %q", res.Spec.Plan.User, res.Warnings)
	}
}
