package docker

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteContext(t *testing.T) {
	files := map[string]string{
		"Dockerfile":          "FROM debian:bookworm-slim\n",
		".dockerignore":       "# comment\n.git\n*.log\nnode_modules\n_site/\nDockerfile\n.dockerignore\nvendor\n!vendor/keep.txt\n",
		"app.rb":              "",
		"debug.log":           "",
		".git/HEAD":           "",
		"node_modules/x/y.js": "",
		"_site/index.html":    "",
		"src/a.rb":            "",
		"src/b.log":           "",
		"vendor/drop.txt":     "",
		"vendor/keep.txt":     "keep",
		"docker/Dockerfile":   "FROM debian:bookworm-slim\n",
	}
	tests := []struct {
		name       string
		dockerfile string
		ignore     string // replaces .dockerignore when set
		want       []string
	}{
		{
			name:       "dockerignore honoured",
			dockerfile: "Dockerfile",
			want:       []string{".dockerignore", "Dockerfile", "app.rb", "docker/", "docker/Dockerfile", "src/", "src/a.rb", "src/b.log", "vendor/keep.txt"}, // *.log is anchored at the root, as in docker,
		},
		{
			name:       "dockerfile in an ignored directory",
			dockerfile: "docker/Dockerfile",
			ignore:     "docker\n*\n",
			want:       []string{".dockerignore", "docker/", "docker/Dockerfile"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range files {
				if name == ".dockerignore" && tt.ignore != "" {
					content = tt.ignore
				}
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("app.rb", filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := writeContext(&buf, dir, tt.dockerfile); err != nil {
				t.Fatal(err)
			}
			var got []string
			tr := tar.NewReader(&buf)
			for {
				h, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if h.Uid != 0 || h.Gid != 0 {
					t.Errorf("%s owned by %d:%d, want 0:0", h.Name, h.Uid, h.Gid)
				}
				if h.Name == "link" {
					if h.Typeflag != tar.TypeSymlink || h.Linkname != "app.rb" {
						t.Errorf("link: type %c -> %q, want a symlink to app.rb", h.Typeflag, h.Linkname)
					}
					continue
				}
				got = append(got, h.Name)
			}
			sort.Strings(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("context (-want +got):\n%s", diff)
			}
		})
	}
}
