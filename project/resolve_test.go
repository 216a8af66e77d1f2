package project

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
)

// specEngine is an engine with one image, debian, whose passwd names root
// only, and volumes it records. Only the resolver's assembly of a spec is
// tested here; what the spec does is tested against the real engines.
type specEngine struct {
	runtime.Engine // not called: a call panics
	volumes        []string
}

func (f *specEngine) Image(_ context.Context, ref string) (runtime.Image, error) {
	if ref != "debian" {
		return runtime.Image{}, runtime.ErrNotFound
	}
	return runtime.Image{ID: "sha256:d", Ref: ref}, nil
}

func (f *specEngine) ReadImageFiles(context.Context, string, ...string) (map[string][]byte, error) {
	return map[string][]byte{"/etc/passwd": []byte("root:x:0:0::/root:/bin/sh\n"), "/etc/group": []byte("root:x:0:\n")}, nil
}

func (f *specEngine) EnsureVolume(_ context.Context, v runtime.VolumeSpec) (bool, error) {
	f.volumes = append(f.volumes, v.Name)
	return true, nil
}

// Resolve assembles the whole spec from the project, the request and the
// plan: the project mount marked as the project's, SELinux labelling by
// the setting or, by default, disabled where the engine enforces SELinux.
func TestResolveSpec(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	rootless := idmap.Engine{Kind: idmap.KindPodman, Rootless: true, Version: "4.3.1", APIVersion: "4.3.1"}
	for _, tc := range []struct {
		name    string
		setting string // [run] selinux, "" for none
		selinux bool   // the engine enforces SELinux
		want    runtime.SELinuxLabel
	}{
		{"no SELinux, no setting", "", false, runtime.SELinuxNone},
		{"SELinux, no setting: disabled", "", true, runtime.SELinuxDisable},
		{"SELinux, shared", "shared", true, runtime.SELinuxShared},
		{"SELinux, private", "private", true, runtime.SELinuxPrivate},
		{"no SELinux, a setting is passed on", "private", false, runtime.SELinuxPrivate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			toml := "name = \"app\"\n[image]\nref = \"debian\"\n[run]\nenv = { A = \"1\" }\nvolumes = [\"data:/data\"]\n"
			if tc.setting != "" {
				toml += "selinux = \"" + tc.setting + "\"\n"
			}
			p, err := Load(writeProject(t, "app", toml))
			if err != nil {
				t.Fatal(err)
			}
			f := &specEngine{}
			info, err := runtime.NewInfo("unix:///x.sock", rootless, runtime.Platform{SELinux: tc.selinux})
			if err != nil {
				t.Fatal(err)
			}
			r := &Resolver{Engine: f, Info: info, Host: idmap.Host{UID: 1000, GID: 1000, Name: "me"}, Cache: cache.Open(), Version: "v1"}
			res, err := r.Resolve(t.Context(), p, Request{Cmd: []string{"true"}, Env: []string{"B=2"}, Labels: map[string]string{"x": "y"}})
			if err != nil {
				t.Fatal(err)
			}
			s := res.Spec
			if s.SELinux != tc.want {
				t.Errorf("SELinux = %q, want %q", s.SELinux, tc.want)
			}
			wantMounts := []runtime.Mount{{Source: p.Root, Target: "/app", Project: true}}
			if diff := cmp.Diff(wantMounts, s.Mounts); diff != "" {
				t.Errorf("mounts (-want +got)\n%s", diff)
			}
			if s.ImageID != "sha256:d" || s.Plan.Userns != "keep-id" || s.Identity.PasswdFile == "" || filepath.Dir(s.Identity.PasswdFile) == "" {
				t.Errorf("image %s, userns %q, identity %+v: want the planned image under keep-id with an identity", s.ImageID, s.Plan.Userns, s.Identity)
			}
			if diff := cmp.Diff([]string{"A=1", "B=2"}, s.Env); diff != "" {
				t.Errorf("env (-want +got)\n%s", diff)
			}
			if diff := cmp.Diff([]string{"hpr-app-data"}, f.volumes); diff != "" {
				t.Errorf("volumes ensured (-want +got)\n%s", diff)
			}
			if s.Labels["x"] != "y" || s.Labels[runtime.LabelProject] != p.RealRoot || s.Labels[runtime.LabelUser] != s.Plan.User || s.Labels[runtime.LabelVersion] != "v1" {
				t.Errorf("labels %v", s.Labels)
			}
			if len(s.CapDrop) == 0 || s.Cmd[0] != "true" {
				t.Errorf("cap drop %v, cmd %v", s.CapDrop, s.Cmd)
			}
		})
	}
}

// The labels of what hpr makes for a project: later maps win, and none
// replaces the project's root or hpr's version, which gc selects by.
func TestLabels(t *testing.T) {
	p := &Project{RealRoot: "/real/p"}
	for _, tc := range []struct {
		name    string
		version string
		extra   []map[string]string
		want    map[string]string
	}{
		{"none", "v1", nil, map[string]string{runtime.LabelProject: "/real/p", runtime.LabelVersion: "v1"}},
		{"no version", "", nil, map[string]string{runtime.LabelProject: "/real/p", runtime.LabelVersion: "dev"}},
		{"later wins, project and version kept", "v1",
			[]map[string]string{{"a": "1", "b": "1"}, {"b": "2", runtime.LabelProject: "/elsewhere", runtime.LabelVersion: "v0"}},
			map[string]string{"a": "1", "b": "2", runtime.LabelProject: "/real/p", runtime.LabelVersion: "v1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &Resolver{Version: tc.version}
			if diff := cmp.Diff(tc.want, r.Labels(p, tc.extra...)); diff != "" {
				t.Errorf("Labels (-want +got):\n%s", diff)
			}
		})
	}
}
