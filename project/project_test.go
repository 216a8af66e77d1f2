package project

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// writeProject writes content as hpr.toml in a new directory named dir
// and returns the file's path.
func writeProject(t *testing.T, dir, content string) string {
	t.Helper()
	d := filepath.Join(t.TempDir(), dir)
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(d, FileName)
	if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestLoadBlog(t *testing.T) {
	root := abs(t, "testdata/blog")
	want := &Project{
		Path:     filepath.Join(root, FileName),
		Root:     root,
		RealRoot: root,
		Name:     "blog",
		Image: Image{
			BuildContext: root,
			Dockerfile:   filepath.Join(root, "Dockerfile"),
			Args:         map[string]string{"JEKYLL_ENV": "development"},
		},
		Run: Run{
			Command: []string{"jekyll", "serve", "--watch", "--host", "0.0.0.0", "--port", "5000"},
			Mount:   "/app",
			Ports:   []runtime.Port{{HostIP: "127.0.0.1", HostPort: 5000, ContainerPort: 5000, Protocol: "tcp"}},
			Env:     []string{"TZ=UTC"},
			Volumes: []runtime.VolumeMount{{Name: "hpr-blog-bundle", Target: "/usr/local/bundle"}},
			User:    idmap.OverrideAuto,
			CapDrop: DefaultCapDrop,
		},
	}
	got, err := Load("testdata/blog/hpr.toml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load (-want +got):\n%s", diff)
	}
	if got := got.Image.DockerfileInContext(); got != "Dockerfile" {
		t.Errorf("DockerfileInContext = %q, want Dockerfile", got)
	}
}

// TestLoadValues covers valid files beyond the blog example; dir is the
// project directory's name, want the parts of the Project checked.
func TestLoadValues(t *testing.T) {
	type parts struct {
		Name   string
		Engine Engine
		Image  Image
		Run    Run
	}
	defaults := Run{Mount: "/app", User: idmap.OverrideAuto, CapDrop: DefaultCapDrop}
	tests := []struct {
		name    string
		dir     string
		content string
		want    func(root string) parts
	}{
		{
			name: "empty file",
			dir:  "My Project!",
			want: func(string) parts { return parts{Name: "my-project", Run: defaults} },
		},
		{
			name: "ref and engine",
			dir:  "x",
			content: `[engine]
prefer = "podman"
endpoint = "unix:///run/user/1000/podman/podman.sock"
[image]
ref = "debian:bookworm-slim"`,
			want: func(string) parts {
				return parts{
					Name:   "x",
					Engine: Engine{Prefer: idmap.KindPodman, Endpoint: "unix:///run/user/1000/podman/podman.sock"},
					Image:  Image{Ref: "debian:bookworm-slim"},
					Run:    defaults,
				}
			},
		},
		{
			name: "build paths",
			dir:  "p",
			content: `[image]
build = "docker/ctx"
dockerfile = "files/Dockerfile.dev"
args = {}`,
			want: func(root string) parts {
				return parts{
					Name: "p",
					Image: Image{
						BuildContext: filepath.Join(root, "docker/ctx"),
						Dockerfile:   filepath.Join(root, "docker/ctx/files/Dockerfile.dev"),
					},
					Run: defaults,
				}
			},
		},
		{
			name: "run in full",
			dir:  "p",
			content: `name = "site.v2"
[run]
command = ["make", ""]
entrypoint = []
mount = "/src/site"
ports = ["5000", "127.0.0.1:8080:80", "[::1]:8080:80", "8080:80/udp", "53:53/tcp"]
env = { TZ = "UTC", A = "1", "B C" = "" }
volumes = ["bundle:/usr/local/bundle", "Cache.1:/src/site/node_modules"]
user = "root"
cap_drop = ["all"]
cap_add = ["net_bind_service", "CAP_CHOWN", "CHOWN"]`,
			want: func(string) parts {
				return parts{
					Name: "site.v2",
					Run: Run{
						Command:    []string{"make", ""},
						Entrypoint: []string{},
						Mount:      "/src/site",
						Ports: []runtime.Port{
							{HostIP: "127.0.0.1", HostPort: 5000, ContainerPort: 5000, Protocol: "tcp"},
							{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
							{HostIP: "::1", HostPort: 8080, ContainerPort: 80, Protocol: "tcp"},
							{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80, Protocol: "udp"},
							{HostIP: "127.0.0.1", HostPort: 53, ContainerPort: 53, Protocol: "tcp"},
						},
						Env: []string{"A=1", "B C=", "TZ=UTC"},
						Volumes: []runtime.VolumeMount{
							{Name: "hpr-site.v2-bundle", Target: "/usr/local/bundle"},
							{Name: "hpr-site.v2-Cache.1", Target: "/src/site/node_modules"},
						},
						User:    idmap.OverrideRoot,
						CapDrop: []string{"ALL"},
						CapAdd:  []string{"CAP_NET_BIND_SERVICE", "CAP_CHOWN"},
					},
				}
			},
		},
		{
			name: "inline tables and auto",
			dir:  "p",
			content: `engine = { prefer = "auto" }
run = { user = "image", command = ["true"] }`,
			want: func(string) parts {
				return parts{Name: "p", Run: Run{Command: []string{"true"}, Mount: "/app", User: idmap.OverrideImage, CapDrop: DefaultCapDrop}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeProject(t, tt.dir, tt.content)
			p, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			got := parts{Name: p.Name, Engine: p.Engine, Image: p.Image, Run: p.Run}
			if diff := cmp.Diff(tt.want(filepath.Dir(f)), got); diff != "" {
				t.Errorf("Load (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadErrors loads each file in testdata/errors and checks the exact
// one-line message and the key.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file string
		key  string
		want string
	}{
		{"syntax", "run.command", "4:28: invalid TOML: strings cannot contain newlines (fix the syntax; see https://toml.io)"},
		{"duplicate_key", "name", "2:1: invalid TOML: Key 'name' has already been defined (fix the syntax; see https://toml.io)"},
		{"unknown_key", "run.comand", `4: unknown key "comand" in [run] (did you mean "command"?)`},
		{"uppercase_key", "run.Mount", `2: unknown key "Mount" in [run] (did you mean "mount"?)`},
		{"unknown_table", "build", `3: unknown table [build] (valid keys: name, [engine], [image], [run], [compose])`},
		{"unknown_subtable", "run.extra", `1:6: unknown table [run.extra] (valid keys: command, entrypoint, mount, ports, env, volumes, user, cap_drop, cap_add, selinux)`},
		{"misspelled_table", "Run", `3: unknown table [Run] (did you mean [run]?)`},
		{"unknown_top", "version", `1: unknown key "version" (valid keys: name, [engine], [image], [run], [compose])`},
		{"type_string", "name", `1: name must be a string, not an integer (write name = "blog")`},
		{"type_list", "run.command", `2: [run] command must be a list of strings, not a string (write command = ["jekyll", "serve"])`},
		{"type_element", "run.ports", `4: [run] ports must hold strings, not an integer (quote it: "8080")`},
		{"type_map", "run.env.PORT", `2:21: [run] env.PORT must be a string, not an integer (quote it: PORT = "5000")`},
		{"type_table", "run", `2: run must be a table, not a string (make it a section: [run])`},
		{"array_of_tables", "run", `1: [[run]] must be a table, not an array of tables (write [run], not [[run]])`},
		{"ref_and_build", "image.build", `8: [image] ref and build are exclusive (keep one)`},
		{"dockerfile_without_build", "image.dockerfile", `3: [image] dockerfile needs build (add build = "." or remove dockerfile)`},
		{"dockerfile_outside", "image.dockerfile", `3: [image] dockerfile "../Dockerfile" is outside the build context "app" (it is relative to build; move it into the context or widen build)`},
		{"bad_name", "name", `1: name "My Blog" is not a valid project name (use lower-case letters and digits, with single '.', '_' or '-' between them: name = "my-blog")`},
		{"bad_prefer", "engine.prefer", `2: [engine] prefer "dockr" is not auto, docker or podman (write prefer = "auto", "docker" or "podman")`},
		{"bad_endpoint", "engine.endpoint", `2: [engine] endpoint "/run/docker.sock" is not a unix, tcp or ssh URI (write unix:///path/to/engine.sock or tcp://127.0.0.1:PORT, or remove endpoint to detect the engine)`},
		{"remote_endpoint", "engine.endpoint", `2: [engine] endpoint "ssh://me@build.example" names an engine on another machine (or as another user), and a project file may not send the project's commands there (remove endpoint and choose that engine yourself: --engine URI, HPR_ENGINE, or your Docker context or Podman connection)`},
		{"remote_root_relative", "engine.remote_root", `2: [engine] remote_root "src/blog" is not an absolute path (write the directory's full path on the engine's host)`},
		{"empty_command", "run.command", `2: [run] command is empty (remove it to use the image's CMD, or list the program and its arguments)`},
		{"empty_program", "run.command", `2:12: [run] command starts with an empty string (put the program first: command = ["jekyll", "serve"])`},
		{"mount_relative", "run.mount", `2: [run] mount "app" must be an absolute path (write mount = "/app")`},
		{"mount_unclean", "run.mount", `2: [run] mount "/app/" is not a clean path (write mount = "/app")`},
		{"mount_root", "run.mount", `2: [run] mount "/" is the root directory (use a directory such as "/app")`},
		{"bad_port", "run.ports", `2:23: [run] ports: "5000:abc" is not a port mapping (write "PORT", "HOST:CONTAINER" or "IP:HOST:CONTAINER", optionally ending in "/tcp" or "/udp")`},
		{"port_range", "run.ports", `2:10: [run] ports: "70000:80" has port 70000 out of range (use 1-65535)`},
		{"bad_env_key", `run.env."A=B"`, `2:9: [run] env key "A=B" is not a valid variable name (use letters, digits and '_')`},
		{"bad_volume", "run.volumes", `2:12: [run] volumes: "bundle" is not NAME:/PATH (write e.g. "bundle:/usr/local/bundle")`},
		{"volume_name", "run.volumes", `3: [run] volumes: "-bundle:/usr/local/bundle" has an invalid volume name "-bundle" (start with a letter or digit, then letters, digits, '_', '.' or '-')`},
		{"volume_target", "run.volumes", `2:12: [run] volumes: "bundle:usr/local/bundle" has a relative target "usr/local/bundle" (write "bundle:/usr/local/bundle")`},
		{"volume_hides_project", "run.volumes", `2:12: [run] volumes: "data:/app" would hide the project mounted at /app (mount the volume elsewhere)`},
		{"bad_user", "run.user", `2: [run] user "me" is not auto, root or image (write user = "auto", "root" or "image")`},
		{"bad_cap", "run.cap_add", `3:12: [run] cap_add: "NET_BIND_SERVCE" is not a Linux capability (see capabilities(7); write e.g. "NET_BIND_SERVICE" or "ALL")`},
		{"cap_conflict", "run.cap_add", `3:12: [run] CAP_CHOWN is both in cap_drop and cap_add (keep it in one)`},
	}
	files, err := filepath.Glob("testdata/errors/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(tests) {
		t.Errorf("testdata/errors has %d files, the table %d cases", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := "testdata/errors/" + tt.file + ".toml"
			_, err := Load(path)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Load error = %v, want an *Error", err)
			}
			if diff := cmp.Diff(path+":"+tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
			if e.Key != tt.key {
				t.Errorf("Key = %q, want %q", e.Key, tt.key)
			}
		})
	}
}

// TestLoadFirstError checks which of several errors is reported: the
// structural ones (unknown keys, types) first, each group in file order.
func TestLoadFirstError(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{
			name:    "values in file order",
			content: "[run]\nuser = \"me\"\n[engine]\nprefer = \"x\"\n",
			want:    `:2: [run] user "me" is not auto, root or image (write user = "auto", "root" or "image")`,
		},
		{
			name:    "structure before values",
			content: "[run]\nuser = \"me\"\n[engine]\nprefer = 1\n[extra]\n",
			want:    `:4: [engine] prefer must be a string, not an integer (write prefer = "auto", "docker" or "podman")`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := writeProject(t, "p", tt.content)
			_, err := Load(f)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if diff := cmp.Diff(f+tt.want, err.Error()); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), FileName))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load error = %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  Error
		want string
	}{
		{"line", Error{Path: "hpr.toml", Line: 7, Msg: "m (f)"}, "hpr.toml:7: m (f)"},
		{"line and column", Error{Path: "hpr.toml", Line: 7, Col: 3, Msg: "m"}, "hpr.toml:7:3: m"},
		{"no position", Error{Path: "a/hpr.toml", Col: 3, Msg: "m"}, "a/hpr.toml: m"},
		{"newlines", Error{Path: "hpr.toml", Line: 1, Msg: "a\nb\r\nc"}, "hpr.toml:1: a b c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.err.Error()); diff != "" {
				t.Errorf("Error() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFind(t *testing.T) {
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	proj := filepath.Join(tmp, "proj")
	deep := filepath.Join(proj, "a", "b")
	empty := filepath.Join(tmp, "empty")
	odd := filepath.Join(tmp, "odd")
	for _, d := range []string{deep, empty, filepath.Join(odd, FileName)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(proj, FileName), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "link")
	if err := os.Symlink(deep, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		want    string
		wantErr string
	}{
		{name: "here", dir: proj, want: filepath.Join(proj, FileName)},
		{name: "parent", dir: deep, want: filepath.Join(proj, FileName)},
		{name: "through a symlink", dir: link, want: filepath.Join(proj, FileName)},
		{name: "none", dir: empty, wantErr: "no hpr.toml found in " + empty + " or any parent directory (create one with `hpr init`)"},
		{name: "a directory", dir: odd, wantErr: filepath.Join(odd, FileName) + " is not a regular file (remove it or make it a file)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Find(tt.dir)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Find error = %v, want %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Find = %q, want %q", got, tt.want)
			}
		})
	}
	_, err = Find(empty)
	if !errors.Is(err, ErrNoProject) {
		t.Errorf("Find(empty) = %v, want ErrNoProject", err)
	}
}

func TestWorkDir(t *testing.T) {
	tmp, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(tmp, "real")
	sub := filepath.Join(root, "src", "posts")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(tmp, "link")
	if err := os.Symlink(root, link); err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(root, "escape")
	if err := os.Symlink(tmp, escape); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(link, FileName)
	if err := os.WriteFile(f, []byte("[run]\nmount = \"/src\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	viaLink, err := Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if viaLink.Root != link || viaLink.RealRoot != root {
		t.Fatalf("Root, RealRoot = %q, %q; want %q, %q", viaLink.Root, viaLink.RealRoot, link, root)
	}
	tests := []struct {
		name    string
		cwd     string
		want    string
		wantErr bool
	}{
		{name: "root", cwd: root, want: "/src"},
		{name: "below", cwd: sub, want: "/src/src/posts"},
		{name: "below through the link", cwd: filepath.Join(link, "src"), want: "/src/src"},
		{name: "missing below", cwd: filepath.Join(link, "gone", "x"), want: "/src/gone/x"},
		{name: "outside", cwd: tmp, wantErr: true},
		{name: "symlink leading out", cwd: escape, wantErr: true},
		{name: "sibling prefix", cwd: root + "2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := viaLink.WorkDir(tt.cwd)
			if (err != nil) != tt.wantErr {
				t.Fatalf("WorkDir(%q) error = %v, want error %v", tt.cwd, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("WorkDir(%q) = %q, want %q", tt.cwd, got, tt.want)
			}
		})
	}
}

func TestAdHoc(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(dir, "Web_App")
	want := &Project{
		Root:     dir,
		RealRoot: dir, // does not exist: kept as is
		Name:     "web_app",
		Image:    Image{Ref: "debian:bookworm-slim"},
		Run:      Run{Mount: "/app", User: idmap.OverrideAuto, CapDrop: DefaultCapDrop},
	}
	got := AdHoc(dir, "debian:bookworm-slim")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AdHoc (-want +got):\n%s", diff)
	}
	if w, err := got.WorkDir(filepath.Join(dir, "x")); err != nil || w != "/app/x" {
		t.Errorf("WorkDir = %q, %v; want /app/x", w, err)
	}
	if v := got.VolumeName("cache"); v != "hpr-web_app-cache" {
		t.Errorf("VolumeName = %q", v)
	}
}

func TestTemplate(t *testing.T) {
	tests := []struct {
		name          string
		hasDockerfile bool
		projectName   string
		wantName      string
		wantImage     func(root string) Image
	}{
		{
			name: "dockerfile", hasDockerfile: true, projectName: "blog", wantName: "blog",
			wantImage: func(root string) Image {
				return Image{BuildContext: root, Dockerfile: filepath.Join(root, "Dockerfile")}
			},
		},
		{
			name: "no dockerfile", projectName: "My Site", wantName: "my-site",
			wantImage: func(string) Image { return Image{} },
		},
		{
			name: "no name", wantName: "dir",
			wantImage: func(string) Image { return Image{} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			text := Template(tt.hasDockerfile, tt.projectName)
			f := writeProject(t, "dir", text)
			p, err := Load(f)
			if err != nil {
				t.Fatalf("Load(Template) = %v\n%s", err, text)
			}
			if p.Name != tt.wantName {
				t.Errorf("Name = %q, want %q", p.Name, tt.wantName)
			}
			if diff := cmp.Diff(tt.wantImage(filepath.Dir(f)), p.Image); diff != "" {
				t.Errorf("Image (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(Run{Mount: "/app", User: idmap.OverrideAuto, CapDrop: DefaultCapDrop}, p.Run); diff != "" {
				t.Errorf("Run (-want +got):\n%s", diff)
			}
			// Every commented example must load too once uncommented
			// (except ref, exclusive with build).
			var lines []string
			for l := range strings.Lines(text) {
				if after, ok := strings.CutPrefix(l, "# "); ok && strings.Contains(after, " = ") && !strings.HasPrefix(after, "ref") {
					l = after
				}
				lines = append(lines, l)
			}
			if _, err := Load(writeProject(t, "dir", strings.Join(lines, ""))); err != nil {
				t.Errorf("Load(uncommented Template) = %v", err)
			}
		})
	}
}

// [run] selinux takes the three labellings and names the key's line when
// it is anything else.
func TestLoadSELinux(t *testing.T) {
	for _, v := range []string{"disable", "shared", "private"} {
		p, err := Load(writeProject(t, "app", "[run]\nselinux = \""+v+"\"\n"))
		if err != nil || string(p.Run.SELinux) != v {
			t.Errorf("selinux = %q: %v, %v", v, p, err)
		}
	}
	_, err := Load(writeProject(t, "app", "[run]\n\nselinux = \"off\"\n"))
	if err == nil || !strings.Contains(err.Error(), "hpr.toml:3:") || !strings.Contains(err.Error(), "selinux") {
		t.Errorf("selinux = \"off\": %v; want an error at line 3 naming the key", err)
	}
}
