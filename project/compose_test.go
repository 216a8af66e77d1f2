package project

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// seedCompose is the seed's docker-compose.yml.
const seedCompose = `version: "3"
services:
  blog:
    build:
      context: .
      args:
        - UID=${UID}
        - GID=${GID}
    command: jekyll serve --watch --host 0.0.0.0 --port 5000
    volumes:
      - .:/app
    ports:
      - "5000:5000"
`

// writeTree writes files (path → content) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// env is a process environment for Open; UID and GID are not in it, as in
// bash.
func env(kv ...string) func(string) (string, bool) {
	m := map[string]string{"HOME": "/home/me"}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		m[k] = v
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func openCompose(t *testing.T, dir string, o OpenOptions) (*Project, error) {
	t.Helper()
	if o.LookupEnv == nil {
		o.LookupEnv = env()
	}
	o.Require = RequireImage
	return Open(dir, o)
}

// TestComposeSeed: the seed's file is a project that builds with UID and
// GID set to the plan's container-side ids on every mode, whatever .env or
// the environment say, and says once when it overrode them.
func TestComposeSeed(t *testing.T) {
	host := idmap.Host{UID: 2345, GID: 2346, SubUIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}}, SubGIDs: []idmap.IDRange{{HostID: 100000, Count: 65536}}}
	engines := map[idmap.Mode]idmap.Engine{
		idmap.DockerRootful:     {Kind: idmap.KindDocker, Version: "20.10.24"},
		idmap.DockerUsernsRemap: {Kind: idmap.KindDocker, UsernsRemap: true, Version: "20.10.24"},
		idmap.DockerRootless:    {Kind: idmap.KindDocker, Rootless: true, Version: "20.10.24"},
		idmap.PodmanRootless:    {Kind: idmap.KindPodman, Rootless: true, Version: "4.3.1"},
		idmap.PodmanRootful:     {Kind: idmap.KindPodman, Version: "4.3.1"},
	}
	for _, c := range []struct {
		name      string
		dotenv    string
		lookup    func(string) (string, bool)
		overrides []IDOverride
	}{
		{name: "unset", lookup: env()},
		{name: "dotenv", dotenv: "UID=1000\nGID=1000\n", lookup: env(), overrides: []IDOverride{{"UID", "1000", ".env"}, {"GID", "1000", ".env"}}},
		{name: "exported", lookup: env("UID=4000"), overrides: []IDOverride{{"UID", "4000", "your environment"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"docker-compose.yml": seedCompose, "Dockerfile": "FROM debian:bookworm-slim\n"}
			if c.dotenv != "" {
				files[".env"] = c.dotenv
			}
			dir := writeTree(t, files)
			p, err := openCompose(t, dir, OpenOptions{LookupEnv: c.lookup})
			if err != nil {
				t.Fatal(err)
			}
			want := Run{
				Command: []string{"jekyll", "serve", "--watch", "--host", "0.0.0.0", "--port", "5000"},
				Mount:   "/app",
				Ports:   []runtime.Port{{HostIP: "127.0.0.1", HostPort: 5000, ContainerPort: 5000, Protocol: "tcp"}},
				User:    idmap.OverrideAuto,
				CapDrop: DefaultCapDrop,
			}
			if diff := cmp.Diff(want, p.Run); diff != "" {
				t.Errorf("run (-want +got):\n%s", diff)
			}
			if p.Image.BuildContext != dir || p.Image.Dockerfile != filepath.Join(dir, "Dockerfile") || p.Service != "blog" {
				t.Errorf("image %+v, service %q; want a build of %s by service blog", p.Image, p.Service, dir)
			}
			for i := range p.IDOverrides {
				p.IDOverrides[i].Source = strings.Replace(p.IDOverrides[i].Source, filepath.Join(dir, ".env"), ".env", 1)
			}
			if diff := cmp.Diff(c.overrides, p.IDOverrides); diff != "" {
				t.Errorf("overrides (-want +got):\n%s", diff)
			}
			for mode, e := range engines {
				args, err := p.BuildArgs(host, e)
				if err != nil {
					t.Fatal(err)
				}
				want := map[string]string{"UID": "2345", "GID": "2346"}
				if mode == idmap.DockerRootless {
					want = map[string]string{"UID": "0", "GID": "0"}
				}
				if diff := cmp.Diff(want, args); diff != "" {
					t.Errorf("%s: build args (-want +got):\n%s", mode, diff)
				}
			}
			got := idWarnings(p, 0, 0)
			if (len(got) == 1) != (len(c.overrides) > 0) {
				t.Errorf("warnings about the ids %q, want one when the environment or .env set them", got)
			}
		})
	}
}

// TestComposeErrors: every problem is one line naming the file, its line,
// the service and the key.
func TestComposeErrors(t *testing.T) {
	svc := func(extra string) string {
		return "services:\n  web:\n    image: debian:bookworm-slim\n    volumes:\n      - .:/app\n" + extra
	}
	for _, c := range []struct {
		name    string
		compose string
		allow   []string
		want    string // after "<dir>/docker-compose.yml:"
	}{
		{"unsupported key", svc("    init: true\n"), nil,
			`6: service "web": key "init" is not supported by hpr (remove it, or describe the service in hpr.toml)`},
		{"unsupported build key", "services:\n  web:\n    build:\n      context: .\n      cache_from: [x]\n    volumes: [\".:/app\"]\n", nil,
			`5: service "web": build key "cache_from" is not supported by hpr (hpr reads context, dockerfile, args and target)`},
		{"several candidates", "services:\n  web:\n    image: a\n    volumes: [\".:/app\"]\n  worker:\n    image: b\n    volumes: [\".:/src\"]\n", nil,
			`1: services web, worker all bind-mount the project directory (volumes): choose the one to run with --service NAME, or service = "NAME" under [compose] in hpr.toml`},
		{"privileged", svc("    privileged: true\n"), nil,
			`6: service "web": privileged: true gives the container every device and capability of the machine; a project cannot grant this itself (for this run: hpr run --allow privileged; to record it: hpr trust --allow privileged)`},
		{"network_mode host", svc("    network_mode: host\n"), nil,
			`6: service "web": network_mode: host shares the machine's network namespace with the container; a project cannot grant this itself (for this run: hpr run --allow network_mode; to record it: hpr trust --allow network_mode)`},
		{"pid host", svc("    pid: host\n"), nil,
			`6: service "web": pid: host shares the machine's process namespace with the container; a project cannot grant this itself (for this run: hpr run --allow pid; to record it: hpr trust --allow pid)`},
		{"ipc host", svc("    ipc: host\n"), nil,
			`6: service "web": ipc: host shares the machine's IPC namespace with the container; a project cannot grant this itself (for this run: hpr run --allow ipc; to record it: hpr trust --allow ipc)`},
		{"devices", svc("    devices:\n      - /dev/fuse\n"), nil,
			`6: service "web": devices gives the container the machine's devices; a project cannot grant this itself (for this run: hpr run --allow devices; to record it: hpr trust --allow devices)`},
		{"bind outside", svc("      - /etc:/host-etc\n"), nil,
			`6: service "web": volumes: /etc is /etc, outside the project DIR; a project cannot grant this itself (for this run: hpr run --allow bind:/etc; to record it: hpr trust --allow bind:/etc)`},
		{"bind outside relative", svc("      - ../:/parent\n"), nil,
			`6: service "web": volumes: PARENT is PARENT, outside the project DIR; a project cannot grant this itself (for this run: hpr run --allow bind:PARENT; to record it: hpr trust --allow bind:PARENT)`},
		{"engine socket", svc("      - /var/run/docker.sock:/var/run/docker.sock\n"), []string{"bind:/etc"},
			`6: service "web": volumes: /var/run/docker.sock points to /run/docker.sock, a container engine's socket, which gives the container control of the engine (root on this machine for a rootful one); a project cannot grant this itself (for this run: hpr run --allow bind:/run/docker.sock; to record it: hpr trust --allow bind:/run/docker.sock)`},
		{"required variable", svc("    environment:\n      TOKEN: ${TOKEN:?set TOKEN}\n"), nil,
			`7: services.web.environment.TOKEN: required variable TOKEN is not set: set TOKEN (set it in your environment or in DIR/.env)`},
		{"undeclared volume", svc("      - data:/data\n"), nil,
			`6: service "web" uses volume "data", which the top-level volumes: does not declare (add data: to volumes:)`},
		{"healthy without healthcheck", "services:\n  web:\n    image: a\n    volumes: [\".:/app\"]\n    depends_on:\n      db:\n        condition: service_healthy\n  db:\n    image: b\n", nil,
			`6: service "web" waits for db to be healthy, but db has no healthcheck (add one to db, or use condition: service_started)`},
		{"bad yaml", "services:\n  web: [\n", nil,
			`2: invalid YAML: did not find expected node content (fix the syntax)`},
		{"top-level include", "include: [other.yml]\n" + svc(""), nil,
			`1: top-level key "include" is not supported by hpr (remove it, or describe the project in hpr.toml)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"docker-compose.yml": c.compose})
			_, err := openCompose(t, dir, OpenOptions{Allow: c.allow})
			if err == nil {
				t.Fatal("no error")
			}
			want := filepath.Join(dir, "docker-compose.yml") + ":" + strings.NewReplacer("PARENT", filepath.Dir(dir), "DIR", dir).Replace(c.want)
			if diff := cmp.Diff(want, err.Error()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

// TestComposeAllowed: what the user allowed is applied as written.
func TestComposeAllowed(t *testing.T) {
	dir := writeTree(t, map[string]string{"docker-compose.yml": `services:
  web:
    image: debian:bookworm-slim
    privileged: true
    network_mode: host
    pid: host
    ipc: host
    devices: [/dev/fuse]
    volumes:
      - .:/src
      - /etc/hostname:/host-name:ro
      - ./sub:/sub
`})
	p, err := openCompose(t, dir, OpenOptions{Allow: []string{"privileged", "network_mode", "pid", "ipc", "devices", "bind:/etc/hostname"}})
	if err != nil {
		t.Fatal(err)
	}
	r := p.Run
	got := []any{r.Mount, r.Privileged, r.Network, r.PIDHost, r.IPCHost, r.Devices, r.Mounts}
	want := []any{"/src", true, runtime.NetworkHost, true, true, []string{"/dev/fuse"},
		[]runtime.Mount{{Source: "/etc/hostname", Target: "/host-name", ReadOnly: true}, {Source: filepath.Join(dir, "sub"), Target: "/sub"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// TestComposeServices: extends (in the file and from another), the
// override file, profiles, --service, depends_on order and conditions,
// env_file under environment, the several user forms, tmpfs and labels.
func TestComposeServices(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"compose.yaml": `name: shop
services:
  base:
    image: debian:bookworm-slim
    environment: {A: base, B: base}
    cap_add: [NET_ADMIN]
  web:
    extends: base
    volumes: [".:/app", "cache:/cache"]
    env_file: [web.env]
    environment: {B: web}
    user: "${UID}:${GID}"
    tmpfs: /run/web
    labels: [tier=front]
    ports: ["8080"]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
  db:
    extends: {file: common/db.yml, service: postgres}
    healthcheck:
      test: pg_isready
      interval: 2s
  migrate:
    image: migrate
    depends_on: [db]
  tools:
    image: tools
    profiles: [debug]
    volumes: [".:/app"]
volumes:
  cache:
  pgdata:
`,
		"compose.override.yaml": "services:\n  web:\n    environment: {C: override}\n",
		"web.env":               "A=file\nD=file\n",
		"common/db.yml":         "services:\n  postgres:\n    image: postgres:16\n    user: \"999\"\n    volumes: [\"pgdata:/var/lib/postgresql/data\"]\n",
	})
	p, err := openCompose(t, dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := Run{
		Mount:   "/app",
		Ports:   []runtime.Port{{HostIP: "127.0.0.1", ContainerPort: 8080, Protocol: "tcp"}},
		Env:     []string{"A=base", "B=web", "C=override", "D=file"},
		Volumes: []runtime.VolumeMount{{Name: "hpr-shop-cache", Target: "/cache"}},
		User:    idmap.OverrideAuto, UserSpec: markUID + ":" + markGID,
		CapAdd:  []string{"CAP_NET_ADMIN"},
		CapDrop: []string{"CAP_AUDIT_WRITE", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETFCAP", "CAP_SYS_CHROOT"},
		Tmpfs:   []string{"/run/web"},
		Labels:  map[string]string{"tier": "front"},
	}
	if diff := cmp.Diff(want, p.Run); diff != "" {
		t.Errorf("web (-want +got):\n%s", diff)
	}
	type comp struct {
		Name, Image, User string
		Mount             string
		Wait              runtime.Condition
		Health            *runtime.Healthcheck
		Volumes           []runtime.VolumeMount
	}
	var got []comp
	for _, c := range p.Companions {
		got = append(got, comp{c.Name, c.Project.Image.Ref, c.Project.Run.UserSpec, c.Project.Run.Mount, c.Wait, c.Health, c.Project.Run.Volumes})
	}
	wantComps := []comp{
		{Name: "db", Image: "postgres:16", User: "999", Wait: runtime.ConditionHealthy,
			Health:  &runtime.Healthcheck{Test: []string{"/bin/sh", "-c", "pg_isready"}, Interval: 2 * time.Second, Timeout: 30 * time.Second, Retries: 3},
			Volumes: []runtime.VolumeMount{{Name: "hpr-shop-pgdata", Target: "/var/lib/postgresql/data"}}},
		{Name: "migrate", Image: "migrate", Wait: runtime.ConditionCompleted},
	}
	if diff := cmp.Diff(wantComps, got); diff != "" {
		t.Errorf("companions (-want +got):\n%s", diff)
	}

	if _, err := openCompose(t, dir, OpenOptions{LookupEnv: env("COMPOSE_PROFILES=debug")}); err == nil || !strings.Contains(err.Error(), "services tools, web all bind-mount") {
		t.Errorf("with the debug profile active, error = %v; want tools and web as candidates", err)
	}
	tools, err := openCompose(t, dir, OpenOptions{Service: "tools"})
	if err != nil || tools.Image.Ref != "tools" || tools.Service != "tools" {
		t.Errorf("--service tools: %+v, %v", tools, err)
	}
}

// TestComposeWithHprToml: hpr.toml names the compose file and the service
// and wins where both speak.
func TestComposeWithHprToml(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"docker/compose.yml": `services:
  web:
    image: a
    volumes: ["..:/app"]
    environment: {A: compose, B: compose}
    ports: ["8080:80"]
  other:
    image: b
    volumes: ["..:/src"]
`,
		"hpr.toml": `name = "mine"
[compose]
file = "docker/compose.yml"
service = "web"
[run]
env = { B = "toml" }
ports = ["9090:80"]
`,
	})
	p, err := openCompose(t, dir, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{p.Path, p.Name, p.Image.Ref, p.Run.Mount, p.Run.Env, p.Run.Ports}
	want := []any{filepath.Join(dir, "hpr.toml"), "mine", "a", "/app", []string{"A=compose", "B=toml"}, []runtime.Port{{HostIP: "127.0.0.1", HostPort: 9090, ContainerPort: 80, Protocol: "tcp"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := openCompose(t, dir, OpenOptions{Service: "nope"}); err == nil || !strings.Contains(err.Error(), `no service "nope" (services: other, web)`) {
		t.Errorf("--service nope: %v", err)
	}
}

// TestComposeFind: a compose file is found walking up where there is no
// hpr.toml; an hpr.toml in the same directory wins; COMPOSE_FILE names
// files relative to the working directory.
func TestComposeFind(t *testing.T) {
	dir := writeTree(t, map[string]string{
		"docker-compose.yml": "services:\n  web:\n    image: a\n    volumes: [\".:/app\"]\n",
		"sub/deeper/.keep":   "",
		"alt.yml":            "services:\n  alt:\n    image: b\n",
	})
	p, err := openCompose(t, filepath.Join(dir, "sub", "deeper"), OpenOptions{})
	if err != nil || p.Image.Ref != "a" || p.Root != dir {
		t.Fatalf("from sub/deeper: %+v, %v", p, err)
	}
	if wd, err := p.WorkDir(filepath.Join(dir, "sub", "deeper")); err != nil || wd != "/app/sub/deeper" {
		t.Errorf("WorkDir = %q, %v", wd, err)
	}
	p, err = openCompose(t, dir, OpenOptions{LookupEnv: env("COMPOSE_FILE=alt.yml")})
	if err != nil || p.Image.Ref != "b" || p.Run.Mount != DefaultMount {
		t.Errorf("COMPOSE_FILE=alt.yml: %+v, %v", p, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "hpr.toml"), []byte("[image]\nref = \"c\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err = openCompose(t, dir, OpenOptions{LookupEnv: env("COMPOSE_FILE=alt.yml")})
	if err != nil || p.Image.Ref != "c" {
		t.Errorf("with hpr.toml: %+v, %v", p, err)
	}
}

// TestComposeUser: user: forms.
func TestComposeUser(t *testing.T) {
	for _, c := range []struct {
		user string
		want idmap.Override
		spec string
	}{
		{`"${UID}:${GID}"`, idmap.OverrideAuto, markUID + ":" + markGID},
		{`"${UID}"`, idmap.OverrideAuto, markUID},
		{`root`, idmap.OverrideRoot, ""},
		{`"0:0"`, idmap.OverrideRoot, ""},
		{`"1000:1000"`, idmap.OverrideImage, "1000:1000"},
		{`node`, idmap.OverrideImage, "node"},
	} {
		dir := writeTree(t, map[string]string{"compose.yml": "services:\n  web:\n    image: a\n    user: " + c.user + "\n"})
		p, err := openCompose(t, dir, OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Run.User != c.want || p.Run.UserSpec != c.spec {
			t.Errorf("user: %s → %q %q, want %q %q", c.user, p.Run.User, p.Run.UserSpec, c.want, c.spec)
		}
	}
}

// FuzzLoadCompose: whatever a compose file holds, loading it never panics
// and a problem is one line.
func FuzzLoadCompose(f *testing.F) {
	f.Add(seedCompose)
	f.Add("services:\n  web:\n    extends: {service: web}\n")
	f.Add("x-a: &a {image: a}\nservices:\n  web:\n    <<: *a\n    volumes: [\".:/app\", {type: bind, source: /, target: /host}]\n    depends_on: {db: {condition: service_healthy}}\n  db: {image: b, healthcheck: {test: [CMD, x], retries: 1}}\n")
	dir := f.TempDir()
	file := filepath.Join(dir, "compose.yaml")
	f.Fuzz(func(t *testing.T, content string) {
		if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadCompose([]string{file}, ComposeOptions{LookupEnv: env()})
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("error is not one line: %q", err)
		}
	})
}
