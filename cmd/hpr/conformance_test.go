package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
)

// TestConformanceTarget: inside a project, hpr conformance checks the
// project (its image, user override and mount, through the resolver hpr
// run uses); --image replaces the image; outside a project, the defaults.
func TestConformanceTarget(t *testing.T) {
	type target struct {
		Project  bool
		Image    string // the options' Image, or the project's ref
		Building bool
		User     idmap.Override
		Mount    string
	}
	cases := []struct {
		name  string
		toml  string // "" for no project
		image string
		want  target
	}{
		{name: "no project", want: target{}},
		{name: "no project, --image", image: "alpine:3", want: target{Image: "alpine:3"}},
		{
			name: "image ref and user root",
			toml: "[image]\nref = \"debian:bookworm-slim\"\n[run]\nuser = \"root\"\nmount = \"/srv/site\"\n",
			want: target{Project: true, Image: "debian:bookworm-slim", User: idmap.OverrideRoot, Mount: "/srv/site"},
		},
		{
			name:  "--image wins over the project's",
			toml:  "[image]\nref = \"debian:bookworm-slim\"\n",
			image: "alpine:3",
			want:  target{Project: true, Image: "alpine:3", User: idmap.OverrideAuto, Mount: "/app"},
		},
		{
			name: "a built image is looked up per engine",
			toml: "name = \"blog\"\n[image]\nbuild = \".\"\n",
			want: target{Project: true, Building: true, User: idmap.OverrideAuto, Mount: "/app"},
		},
		{
			name: "neither ref nor build: the probe image under the project's plan",
			toml: "[run]\nuser = \"image\"\n",
			want: target{Project: true, User: idmap.OverrideImage, Mount: "/app"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.toml != "" {
				if err := os.WriteFile(filepath.Join(dir, "hpr.toml"), []byte(c.toml), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			sub := filepath.Join(dir, "sub")
			if err := os.Mkdir(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			t.Chdir(sub)
			got, err := newConformanceTarget(c.image, composeFlags{})
			if err != nil {
				t.Fatal(err)
			}
			g := target{Project: got.opts.Project != nil, Image: got.opts.Image}
			if p := got.opts.Project; p != nil {
				g.Image, g.Building, g.User, g.Mount = p.Image.Ref, p.Image.Building(), p.Run.User, p.Run.Mount
			}
			if diff := cmp.Diff(c.want, g); diff != "" {
				t.Errorf("target (-want +got)\n%s", diff)
			}
			if (c.toml != "" || c.image != "") != (got.about != "") {
				t.Errorf("about = %q", got.about)
			}
		})
	}
}

func TestConformanceBadProject(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hpr.toml"), []byte("[run]\nuser = \"nobody\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	if _, err := newConformanceTarget("", composeFlags{}); err == nil {
		t.Error("a bad hpr.toml is not an error")
	}
}
