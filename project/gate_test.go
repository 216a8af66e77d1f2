package project

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostpersist/hpr/runtime"
)

// gateTree is a project below a directory with an outside secret; links
// (name → target, relative to the top) are made in the project.
func gateTree(t *testing.T, files map[string]string, links map[string]string) (proj, top string) {
	t.Helper()
	top = writeTree(t, map[string]string{"outside/secret": "SECRET=x\n", "outside/base.yml": "services:\n  base:\n    image: x\n"})
	proj = filepath.Join(top, "proj")
	for name, content := range files {
		p := filepath.Join(proj, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(content, "TOP", top)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		if err := os.Symlink(strings.ReplaceAll(target, "TOP", top), filepath.Join(proj, name)); err != nil {
			t.Fatal(err)
		}
	}
	return proj, top
}

const gateDev = "services:\n  dev:\n    image: x\n    volumes:\n      - .:/app\n"

// TestGateLoad: every host path a project names is judged beneath the
// project, refused in one line naming where it points and the grant, and
// let through (with its real path) once granted.
func TestGateLoad(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		links map[string]string
		file  string
		// points is where the refusal says it points, relative to top;
		// key is the grant, with TOP.
		points, key string
	}{
		{"bind through a link out", map[string]string{"docker-compose.yml": gateDev + "      - ./l/secret:/x\n"}, map[string]string{"l": "TOP/outside"}, "docker-compose.yml", "outside/secret", "bind:TOP/outside/secret"},
		{"missing below a link out", map[string]string{"docker-compose.yml": gateDev + "      - ./l/new:/x\n"}, map[string]string{"l": "TOP/outside"}, "docker-compose.yml", "outside/new", "bind:TOP/outside/new"},
		{"env_file outside", map[string]string{"docker-compose.yml": gateDev + "    env_file: ../outside/secret\n"}, nil, "docker-compose.yml", "outside/secret", "read:TOP/outside/secret"},
		{".env a link out", map[string]string{"docker-compose.yml": gateDev}, map[string]string{".env": "TOP/outside/secret"}, "docker-compose.yml", "outside/secret", "read:TOP/outside/secret"},
		{"extends outside", map[string]string{"docker-compose.yml": gateDev + "    extends: {file: ../outside/base.yml, service: base}\n"}, nil, "docker-compose.yml", "outside/base.yml", "read:TOP/outside/base.yml"},
		{"build context outside", map[string]string{"docker-compose.yml": "services:\n  dev:\n    build: {context: .., dockerfile: proj/Dockerfile}\n    volumes:\n      - .:/app\n", "Dockerfile": "FROM x\n"}, nil, "docker-compose.yml", "", "read:TOP"},
		{"hpr.toml build outside", map[string]string{"hpr.toml": "[image]\nbuild = \"..\"\ndockerfile = \"proj/Dockerfile\"\n", "Dockerfile": "FROM x\n"}, nil, "hpr.toml", "", "read:TOP"},
		{"companion writes an ancestor", map[string]string{"docker-compose.yml": gateDev + "      - ./d/sub:/x\n    depends_on: [swap]\n  swap:\n    image: x\n    volumes:\n      - .:/w\n", "d/sub/f": ""}, nil, "docker-compose.yml", "proj/d/sub", "bind:TOP/proj/d/sub"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			proj, top := gateTree(t, c.files, c.links)
			top, _ = filepath.EvalSymlinks(top)
			key := strings.ReplaceAll(c.key, "TOP", top)
			o := OpenOptions{Service: "dev"}
			if c.file == "hpr.toml" {
				o.Service = ""
			}
			_, err := Open(proj, o)
			want := filepath.Join(top, c.points)
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "hpr run --allow "+key+";") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Open = %v; want one line naming %s and --allow %s", err, want, key)
			}
			o.Allow = []string{key}
			if _, err := Open(proj, o); err != nil {
				t.Errorf("granted %s: %v", key, err)
			}
		})
	}
}

// TestGateAtCreate: a bind source swapped for a link out after the load
// is refused by the gate right before the create; a missing one is made
// inside the project.
func TestGateAtCreate(t *testing.T) {
	proj, top := gateTree(t, map[string]string{"docker-compose.yml": gateDev + "      - ./d/sub:/x\n      - ./new/dir:/y\n", "d/sub/f": ""}, nil)
	p, err := Open(proj, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := &Resolver{}
	spec := runtime.ContainerSpec{Mounts: p.Run.Mounts}
	gate := r.gate(p)
	got, err := gate(spec)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(proj, "new/dir")); err != nil || !fi.IsDir() || got.Mounts[1].Source != filepath.Join(p.RealRoot, "new/dir") {
		t.Errorf("missing source: %v, mounted %s", err, got.Mounts[1].Source)
	}
	if err := os.RemoveAll(filepath.Join(proj, "d/sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(top, "outside"), filepath.Join(proj, "d/sub")); err != nil {
		t.Fatal(err)
	}
	if _, err := gate(spec); err == nil || !strings.Contains(err.Error(), "outside") || !strings.Contains(err.Error(), "--allow bind:") {
		t.Errorf("gate after the swap = %v, want the refusal", err)
	}
}
