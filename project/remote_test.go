package project

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/cache"
)

// fakeHost is an engine's host with one directory's owner and files.
type fakeHost struct {
	owner     idmap.Host
	login     int
	files     map[string]string // path → content, for ReadFile
	published map[string][]byte
	asked     []string // directories Owner was asked about
}

func (h *fakeHost) Owner(_ context.Context, dir string) (idmap.Host, int, error) {
	h.asked = append(h.asked, dir)
	return h.owner, h.login, nil
}

func (h *fakeHost) Publish(_ context.Context, files map[string][]byte) (map[string]string, error) {
	out := map[string]string{}
	for name, b := range files {
		h.published[name] = b
		out[name] = "/there/cache/" + name
	}
	return out, nil
}

func (h *fakeHost) ReadFile(_ context.Context, p string) ([]byte, error) {
	if c, ok := h.files[p]; ok {
		return []byte(c), nil
	}
	return nil, errors.New("cat: " + p + ": No such file or directory")
}

// remoteResolver is a resolver of a remote engine of mode m.
func remoteResolver(t *testing.T, facts idmap.Engine) *Resolver {
	t.Helper()
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	info, err := runtime.NewInfo("ssh://me@build", facts, runtime.Platform{})
	if err != nil {
		t.Fatal(err)
	}
	return &Resolver{Engine: &specEngine{}, Info: info, Host: idmap.Host{UID: 1000, GID: 1000, Name: "local"}, Cache: cache.Open(), Version: "v1"}
}

var (
	rootfulDocker  = idmap.Engine{Kind: idmap.KindDocker, Version: "20.10.24", APIVersion: "1.41"}
	rootlessPodman = idmap.Engine{Kind: idmap.KindPodman, Rootless: true, Version: "4.3.1", APIVersion: "4.3.1"}
)

// On a remote engine the project mount's source is the remote root, the
// working directory maps below it as below the local root, files land as
// the remote root's owner there (not the local user), and the identity
// files the plan mounts are published there.
func TestRemoteProjectSpec(t *testing.T) {
	p, err := Load(writeProject(t, "app", "name = \"app\"\n[image]\nref = \"debian\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(p.Root, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	r := remoteResolver(t, rootfulDocker)
	h := &fakeHost{owner: idmap.Host{UID: 3000, GID: 3001, Name: "builder"}, login: 3000, published: map[string][]byte{}}
	if err := r.RemoteProject(t.Context(), h, p, "/srv/app"); err != nil {
		t.Fatal(err)
	}
	res, err := r.Resolve(t.Context(), p, Request{Cwd: sub, Cmd: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Spec
	if diff := cmp.Diff([]runtime.Mount{{Source: "/srv/app", Target: "/app", Project: true}}, s.Mounts); diff != "" {
		t.Errorf("mounts (-want +got)\n%s", diff)
	}
	if s.WorkingDir != "/app/sub" || s.Plan.User != "3000:3001" || s.Plan.HostUserUID != 3000 {
		t.Errorf("working directory %q, user %q (host user %d); want /app/sub, 3000:3001 (the remote root's owner)", s.WorkingDir, s.Plan.User, s.Plan.HostUserUID)
	}
	if !strings.HasPrefix(s.Identity.PasswdFile, "/there/cache/passwd-") || !strings.HasPrefix(s.Identity.GroupFile, "/there/cache/group-") {
		t.Errorf("identity %+v: want the files published on the engine's host", s.Identity)
	}
	passwd := string(h.published[path.Base(s.Identity.PasswdFile)])
	if !strings.Contains(passwd, "builder:x:3000:3001:") {
		t.Errorf("published passwd %q: want the owner's entry", passwd)
	}
	if diff := cmp.Diff([]string{"/srv/app"}, h.asked); diff != "" {
		t.Errorf("owner asked of (-want +got)\n%s", diff)
	}
}

// A remote run is refused, in one line that says what to do, without a
// remote root, without ssh to the engine's host, with a root that is not
// a usable path, on a rootless engine whose user does not own the root,
// and with hpr.toml's root when the directory there is not a copy of the
// project; a copy with the same hpr.toml is used.
func TestRemoteProjectRefusals(t *testing.T) {
	toml := "name = \"app\"\n[engine]\nremote_root = \"/srv/app\"\n[image]\nref = \"debian\"\n"
	file, err := Load(writeProject(t, "app", toml))
	if err != nil {
		t.Fatal(err)
	}
	adhoc := AdHoc(t.TempDir(), "debian")
	owner := idmap.Host{UID: 3000, GID: 3000}
	for _, tc := range []struct {
		name  string
		facts idmap.Engine
		p     *Project
		root  string
		host  *fakeHost
		want  string // "" for success
	}{
		{"no root", rootfulDocker, adhoc, "", &fakeHost{owner: owner, login: 3000}, "hpr does not copy files there"},
		{"no ssh", rootfulDocker, adhoc, "/srv/app", nil, "reach it with an ssh:// endpoint"},
		{"relative", rootfulDocker, adhoc, "srv/app", &fakeHost{owner: owner, login: 3000}, "not an absolute path"},
		{"unclean", rootfulDocker, adhoc, "/srv/../app", &fakeHost{owner: owner, login: 3000}, `write "/app"`},
		{"whole machine", rootfulDocker, adhoc, "/", &fakeHost{owner: owner, login: 3000}, "the whole machine"},
		{"rootless, another user's", rootlessPodman, adhoc, "/srv/app", &fakeHost{owner: owner, login: 2000}, "owned by uid 3000, but the engine is podman-rootless"},
		{"rootless, the engine user's", rootlessPodman, adhoc, "/srv/app", &fakeHost{owner: owner, login: 3000}, ""},
		{"file's root, missing there", rootfulDocker, file, "", &fakeHost{owner: owner, login: 3000}, "hpr.toml:3: [engine] remote_root \"/srv/app\" is not a copy of this project"},
		{"file's root, another hpr.toml", rootfulDocker, file, "", &fakeHost{owner: owner, login: 3000, files: map[string]string{"/srv/app/hpr.toml": toml + "# x\n"}}, "it holds a different hpr.toml"},
		{"file's root, a copy", rootfulDocker, file, "", &fakeHost{owner: owner, login: 3000, files: map[string]string{"/srv/app/hpr.toml": toml}}, ""},
		{"the flag's root, no copy needed", rootfulDocker, file, "/srv/other", &fakeHost{owner: owner, login: 3000}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := remoteResolver(t, tc.facts)
			var h EngineHost
			if tc.host != nil {
				h = tc.host
			}
			err := r.RemoteProject(t.Context(), h, tc.p, tc.root)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tc.want == "" && r.Host.UID != 3000:
				t.Errorf("host user %d, want the root's owner 3000", r.Host.UID)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n")):
				t.Errorf("error %v, want one line containing %q", err, tc.want)
			}
		})
	}
}
