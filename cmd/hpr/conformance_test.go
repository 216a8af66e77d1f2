package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/conformance"
	"github.com/hostpersist/hpr/idmap"
)

// TestConformanceTarget: inside a project, hpr conformance checks the
// project's image, user override and mount; --image replaces the image;
// outside a project, the defaults.
func TestConformanceTarget(t *testing.T) {
	cases := []struct {
		name     string
		toml     string // "" for no project
		image    string
		want     conformance.Options
		building bool
	}{
		{name: "no project", want: conformance.Options{}},
		{name: "no project, --image", image: "alpine:3", want: conformance.Options{Image: "alpine:3"}},
		{
			name: "image ref and user root",
			toml: "[image]\nref = \"debian:bookworm-slim\"\n[run]\nuser = \"root\"\nmount = \"/srv/site\"\n",
			want: conformance.Options{Image: "debian:bookworm-slim", Override: idmap.OverrideRoot, Mount: "/srv/site"},
		},
		{
			name:  "--image wins over the project's",
			toml:  "[image]\nref = \"debian:bookworm-slim\"\n",
			image: "alpine:3",
			want:  conformance.Options{Image: "alpine:3", Override: idmap.OverrideAuto, Mount: "/app"},
		},
		{
			name:     "a built image is looked up per engine",
			toml:     "name = \"blog\"\n[image]\nbuild = \".\"\n",
			want:     conformance.Options{Override: idmap.OverrideAuto, Mount: "/app"},
			building: true,
		},
		{
			name: "neither ref nor build: the probe image under the project's plan",
			toml: "[run]\nuser = \"image\"\n",
			want: conformance.Options{Override: idmap.OverrideImage, Mount: "/app"},
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
			got, err := newConformanceTarget(c.image)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, got.opts, cmp.Comparer(func(a, b func(idmap.Plan) idmap.Plan) bool { return (a == nil) == (b == nil) })); diff != "" {
				t.Errorf("options (-want +got)\n%s", diff)
			}
			if (got.proj != nil) != c.building {
				t.Errorf("building per engine = %v, want %v", got.proj != nil, c.building)
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
	if _, err := newConformanceTarget(""); err == nil {
		t.Error("a bad hpr.toml is not an error")
	}
}
