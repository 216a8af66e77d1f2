package podman

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// libpodInfo is a libpod /info answer, trimmed to what hpr reads.
func libpodInfo(rootless, selinux bool, uidmap string) string {
	return fmt.Sprintf(`{"host":{"arch":"amd64","os":"linux",
		"security":{"rootless":%v,"selinuxEnabled":%v,"seccompEnabled":true},
		"idMappings":{"uidmap":%s,"gidmap":%s}},
		"store":{"graphDriverName":"overlay"},
		"version":{"APIVersion":"5.4.0","Version":"5.4.0"}}`, rootless, selinux, uidmap, uidmap)
}

// Info says SELinux from libpod's Host.Security.SELinuxEnabled. These
// machines run no SELinux: the answers are recorded from reports of
// Fedora hosts, whose `podman info` shows the same fields.
func TestInfoSELinux(t *testing.T) {
	keepID := `[{"container_id":0,"host_id":1000,"size":1},{"container_id":1,"host_id":100000,"size":65536}]`
	for _, tc := range []struct {
		name string
		body string
		want bool
		mode idmap.Mode
	}{
		// Fedora 41 workstation, rootless (github.com/vllm-project/vllm/issues/12734):
		// SELinux on, as Fedora ships it.
		{"fedora rootless", libpodInfo(true, true, keepID), true, idmap.PodmanRootless},
		// A rootful podman machine runs Fedora CoreOS, SELinux on
		// (github.com/podman-container-tools/podman/issues/12097, #21074).
		{"podman machine rootful", libpodInfo(false, true, "null"), true, idmap.PodmanRootful},
		// A podman machine as it comes, rootless, its VM user given the Mac
		// user's uid, 502 (github.com/podman-container-tools/podman/issues/17560).
		{"podman machine rootless", libpodInfo(true, true, `[{"container_id":0,"host_id":502,"size":1},{"container_id":1,"host_id":100000,"size":1000000}]`), true, idmap.PodmanRootless},
		// This machine's Debian services.
		{"debian rootless", libpodInfo(true, false, keepID), false, idmap.PodmanRootless},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := fakeService(t, func(w http.ResponseWriter, r *http.Request) {
				if !strings.HasSuffix(r.URL.Path, "/libpod/info") {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, tc.body)
			})
			e, err := New(context.Background(), ep)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			info, err := e.Info(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if info.SELinux != tc.want || info.Mode != tc.mode {
				t.Errorf("SELinux %v, mode %s; want %v, %s", info.SELinux, info.Mode, tc.want, tc.mode)
			}
		})
	}
}

// Each labelling reaches the spec: label=disable as selinux_opts
// ["disable"]; z or Z as bind mount options (the project Z only under
// private; hpr's own files z).
func TestSpecGeneratorSELinux(t *testing.T) {
	cs := runtime.ContainerSpec{
		Image: "debian:bookworm-slim",
		Plan:  idmap.Plan{Mode: idmap.PodmanRootless, Userns: "keep-id"},
		Mounts: []runtime.Mount{
			{Source: "/home/me/blog", Target: "/app", Project: true},
			{Source: "/cache/passwd-1", Target: "/etc/passwd", ReadOnly: true},
		},
	}
	for _, tc := range []struct {
		label  runtime.SELinuxLabel
		opts   []string
		mounts [][]string
	}{
		{runtime.SELinuxNone, nil, [][]string{{"rbind"}, {"rbind", "ro"}}},
		{runtime.SELinuxDisable, []string{"disable"}, [][]string{{"rbind"}, {"rbind", "ro"}}},
		{runtime.SELinuxShared, nil, [][]string{{"rbind", "z"}, {"rbind", "ro", "z"}}},
		{runtime.SELinuxPrivate, nil, [][]string{{"rbind", "Z"}, {"rbind", "ro", "z"}}},
	} {
		t.Run(string(tc.label), func(t *testing.T) {
			c := cs
			c.SELinux = tc.label
			s, err := specGenerator(c)
			if err != nil {
				t.Fatal(err)
			}
			var mounts [][]string
			for _, m := range s.Mounts {
				mounts = append(mounts, m.Options)
			}
			if diff := cmp.Diff(tc.opts, s.SelinuxOpts); diff != "" {
				t.Errorf("selinux_opts (-want +got)\n%s", diff)
			}
			// Inspect reports security options from this annotation.
			if got, want := s.Annotations["io.podman.annotations.label"], strings.Join(tc.opts, ",label="); got != want {
				t.Errorf("label annotation %q, want %q", got, want)
			}
			if diff := cmp.Diff(tc.mounts, mounts); diff != "" {
				t.Errorf("mount options (-want +got)\n%s", diff)
			}
		})
	}
}
