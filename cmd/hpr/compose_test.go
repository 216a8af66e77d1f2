package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hostpersist/hpr/project"
)

// composeService is a dev service that bind-mounts the project.
const composeService = "services:\n  web:\n    image: debian:bookworm-slim\n    volumes:\n      - .:/app\n"

// TestComposeRefusals: what a compose file may not do on its own, an
// unsupported key and several candidate services stop every command that
// opens the project before any engine is asked: exit 125, one line, naming
// the file and the key (and the way to allow it).
func TestComposeRefusals(t *testing.T) {
	for _, c := range []struct {
		name, extra string
		args        []string
		want        []string
	}{
		{"privileged", "    privileged: true\n", nil, []string{"privileged", "--allow privileged"}},
		{"network_mode", "    network_mode: host\n", nil, []string{"network_mode: host", "--allow network_mode"}},
		{"pid", "    pid: host\n", nil, []string{"pid: host", "--allow pid"}},
		{"ipc", "    ipc: host\n", nil, []string{"ipc: host", "--allow ipc"}},
		{"devices", "    devices: [/dev/fuse]\n", nil, []string{"devices", "--allow devices"}},
		{"bind outside", "      - /etc:/etc-of-host\n", nil, []string{"volumes: /etc is /etc, outside the project", "--allow bind:/etc;", "hpr trust --allow bind:/etc"}},
		{"engine socket", "      - /var/run/docker.sock:/var/run/docker.sock\n", nil, []string{"volumes: /var/run/docker.sock points to /run/docker.sock, a container engine's socket", "--allow bind:/run/docker.sock"}},
		{"unsupported key", "    init: true\n", nil, []string{`key "init" is not supported`}},
		{"several candidates", "  worker:\n    image: debian:bookworm-slim\n    volumes: [\".:/src\"]\n", nil, []string{"services web, worker all bind-mount the project directory (volumes)", "--service NAME"}},
		{"refused for build too", "    privileged: true\n", []string{"build"}, []string{"--allow privileged"}},
		{"allowed, another refused", "    privileged: true\n    pid: host\n", []string{"run", "--allow", "privileged"}, []string{"--allow pid"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			extra := c.extra
			if strings.HasPrefix(extra, "    ") && !strings.HasPrefix(extra, "      ") {
				extra = strings.Replace(composeService, "    volumes:", strings.TrimSuffix(extra, "\n")+"\n    volumes:", 1)
			} else {
				extra = composeService + extra
			}
			file := filepath.Join(dir, "docker-compose.yml")
			if err := os.WriteFile(file, []byte(extra), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Chdir(dir)
			args := c.args
			if args == nil {
				args = []string{"run"}
			}
			var out, errb bytes.Buffer
			code := run(context.Background(), append(args, "--engine", "unix:///nonexistent.sock"), nil, &out, &errb)
			msg := errb.String()
			if code != exitFailure || strings.Count(msg, "\n") != 1 || !strings.HasPrefix(msg, "hpr: "+file+":") {
				t.Fatalf("exit %d, stderr %q; want 125 and one line naming %s:LINE", code, msg, file)
			}
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("stderr %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestInitCompose: hpr init in a compose project writes an hpr.toml that
// names the compose file and its dev service, and loads as the same
// project.
func TestInitCompose(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	compose := composeService + "    ports: [\"5000:5000\"]\n    command: jekyll serve\n"
	if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"init"}, nil, &out, &errb); code != 0 {
		t.Fatalf("hpr init: exit %d, %s", code, errb.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "hpr.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"file = \"docker-compose.yml\"", "service = \"web\"", "# ports = [\"127.0.0.1:5000:5000\"]", "# command = [\"jekyll\", \"serve\"]"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("hpr.toml lacks %q:\n%s", want, data)
		}
	}
	p, err := project.Load(filepath.Join(dir, "hpr.toml"))
	if err != nil {
		t.Fatalf("the written hpr.toml does not load: %v", err)
	}
	if p.Service != "web" || p.Image.Ref != "debian:bookworm-slim" || len(p.Run.Ports) != 1 {
		t.Errorf("loaded %+v, want service web of the compose file", p)
	}
}
