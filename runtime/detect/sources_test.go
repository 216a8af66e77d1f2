package detect

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	dockercontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/store"
	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/sshconn"
)

// engineVars are the variables that choose an engine; a test starts with
// none of them.
var engineVars = []string{
	"HPR_ENGINE", "CONTAINER_CONNECTION", "CONTAINER_HOST", "CONTAINER_SSHKEY",
	"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "CONTAINERS_CONF", "PODMAN_CONNECTIONS_CONF",
}

// home gives the test a home and config directory of its own and none of
// the engines' variables, so the machine's own Docker and Podman
// configuration stays out; Podman's config library reads them from the
// process environment.
func home(t *testing.T) string {
	t.Helper()
	h := t.TempDir()
	for _, k := range engineVars {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", h)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(h, ".config"))
	return h
}

// dockerContexts creates Docker contexts (name → host) as `docker context
// create` does, and makes current the current one ("" leaves config.json
// alone).
func dockerContexts(t *testing.T, h, current string, hosts map[string]string) {
	t.Helper()
	s := store.New(filepath.Join(h, ".docker", "contexts"), store.NewConfig(
		func() any { return &map[string]any{} },
		store.EndpointTypeGetter("docker", func() any { return &dockercontext.EndpointMetaBase{} }),
	))
	for name, host := range hosts {
		if err := s.CreateOrUpdate(store.Metadata{
			Name:      name,
			Metadata:  map[string]any{"Description": "made by a test"},
			Endpoints: map[string]any{"docker": dockercontext.EndpointMetaBase{Host: host}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	if current != "" {
		writeJSON(t, filepath.Join(h, ".docker", "config.json"), map[string]any{"auths": map[string]any{}, "currentContext": current})
	}
}

// podmanConnections writes Podman 5's connections file.
func podmanConnections(t *testing.T, h, def string, conns map[string]map[string]any) {
	t.Helper()
	writeJSON(t, filepath.Join(h, ".config", "containers", "podman-connections.json"),
		map[string]any{"Connection": map[string]any{"Default": def, "Connections": conns}})
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(data))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func describe(cands []Candidate) []string {
	var out []string
	for _, c := range cands {
		out = append(out, c.Source+" "+c.URI)
	}
	return out
}

// The precedence list, case by case: each step wins over every later one,
// and a kind given with --engine or HPR_ENGINE keeps only its sources.
func TestPrecedence(t *testing.T) {
	probes := describe(Standard("/run/user/7"))
	for _, tc := range []struct {
		name    string
		env     map[string]string
		o       Options
		current string // the Docker CLI's current context
		podman  string // Podman's default connection
		want    []string
	}{
		{name: "nothing: probe", want: probes},
		{name: "docker current context", current: "desk",
			want: []string{"context desk (current) unix:///desk.sock"}},
		{name: "podman default connection", podman: "pm",
			want: []string{"connection pm (default) ssh://core@pm.example:22/run/user/1000/podman/podman.sock"}},
		{name: "both the CLIs' choices, Docker's first", current: "desk", podman: "pm",
			want: []string{"context desk (current) unix:///desk.sock", "connection pm (default) ssh://core@pm.example:22/run/user/1000/podman/podman.sock"}},
		{name: "hpr.toml endpoint over the CLIs' choices", current: "desk", podman: "pm", o: Options{Endpoint: "unix:///toml.sock"},
			want: []string{"hpr.toml [engine] endpoint unix:///toml.sock"}},
		{name: "hpr.toml prefer podman keeps Podman's choice", current: "desk", podman: "pm", o: Options{Prefer: "podman"},
			want: []string{"connection pm (default) ssh://core@pm.example:22/run/user/1000/podman/podman.sock"}},
		{name: "DOCKER_CONTEXT over current context and hpr.toml", current: "desk", env: map[string]string{"DOCKER_CONTEXT": "remote"}, o: Options{Endpoint: "unix:///toml.sock"},
			want: []string{"context remote (DOCKER_CONTEXT) ssh://me@remote.example"}},
		{name: "DOCKER_CONTEXT=default", env: map[string]string{"DOCKER_CONTEXT": "default"},
			want: []string{"context default (DOCKER_CONTEXT) unix:///var/run/docker.sock"}},
		{name: "DOCKER_HOST over DOCKER_CONTEXT", env: map[string]string{"DOCKER_CONTEXT": "remote", "DOCKER_HOST": "unix:///d.sock"},
			want: []string{"environment DOCKER_HOST unix:///d.sock"}},
		{name: "CONTAINER_CONNECTION over CONTAINER_HOST, then DOCKER_HOST", env: map[string]string{"CONTAINER_CONNECTION": "other", "CONTAINER_HOST": "unix:///c.sock", "DOCKER_HOST": "unix:///d.sock"},
			want: []string{"connection other (CONTAINER_CONNECTION) unix:///other.sock", "environment DOCKER_HOST unix:///d.sock"}},
		{name: "CONTAINER_HOST", env: map[string]string{"CONTAINER_HOST": "unix:///c.sock"}, current: "desk",
			want: []string{"environment CONTAINER_HOST unix:///c.sock"}},
		{name: "HPR_ENGINE names a context", env: map[string]string{"HPR_ENGINE": "remote", "DOCKER_HOST": "unix:///d.sock"},
			want: []string{"context remote (HPR_ENGINE) ssh://me@remote.example"}},
		{name: "--engine names a connection over HPR_ENGINE", o: Options{Engine: "other"}, env: map[string]string{"HPR_ENGINE": "remote"},
			want: []string{"connection other (--engine) unix:///other.sock"}},
		{name: "--engine URI over everything", o: Options{Engine: "ssh://me@h/run/podman/podman.sock", Endpoint: "unix:///toml.sock"}, current: "desk",
			env:  map[string]string{"HPR_ENGINE": "podman", "DOCKER_HOST": "unix:///d.sock", "CONTAINER_CONNECTION": "other"},
			want: []string{"--engine ssh://me@h/run/podman/podman.sock"}},
		{name: "HPR_ENGINE URI", env: map[string]string{"HPR_ENGINE": "tcp://127.0.0.1:2375", "DOCKER_HOST": "unix:///d.sock"},
			want: []string{"HPR_ENGINE tcp://127.0.0.1:2375"}},
		{name: "hpr.toml prefer docker", o: Options{Prefer: "docker"}, podman: "pm",
			want: []string{"probe unix:///run/user/7/docker.sock", "probe unix:///var/run/docker.sock"}},
		{name: "--engine podman skips Docker's sources", o: Options{Engine: "podman"}, current: "desk", podman: "pm", env: map[string]string{"DOCKER_HOST": "unix:///d.sock"},
			want: []string{"connection pm (default) ssh://core@pm.example:22/run/user/1000/podman/podman.sock"}},
		{name: "HPR_ENGINE docker skips Podman's sources", env: map[string]string{"HPR_ENGINE": "docker", "CONTAINER_HOST": "unix:///c.sock"}, podman: "pm",
			want: []string{"probe unix:///run/user/7/docker.sock", "probe unix:///var/run/docker.sock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := home(t)
			dockerContexts(t, h, tc.current, map[string]string{"desk": "unix:///desk.sock", "remote": "ssh://me@remote.example"})
			podmanConnections(t, h, tc.podman, map[string]map[string]any{
				"pm":    {"URI": "ssh://core@pm.example:22/run/user/1000/podman/podman.sock", "Identity": "/keys/pm"},
				"other": {"URI": "unix:///other.sock"},
			})
			env := map[string]string{"HOME": h, "XDG_RUNTIME_DIR": "/run/user/7"}
			for k, v := range tc.env {
				env[k] = v
			}
			o := tc.o
			o.Getenv = func(k string) string { return env[k] }
			got, err := Candidates(o)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, describe(got)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

// A context or connection carries the file that named it and, for Podman,
// the ssh identity it records.
func TestSourceDetails(t *testing.T) {
	h := home(t)
	dockerContexts(t, h, "desk", map[string]string{"desk": "unix:///desk.sock"})
	podmanConnections(t, h, "pm", map[string]map[string]any{
		"pm": {"URI": "ssh://core@127.0.0.1:50123/run/user/501/podman/podman.sock", "Identity": "/keys/machine", "IsMachine": true},
	})
	got, err := Candidates(Options{Getenv: func(k string) string { return map[string]string{"HOME": h}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("candidates %v, want the context and the connection", describe(got))
	}
	meta, _ := filepath.Glob(filepath.Join(h, ".docker", "contexts", "meta", "*", "meta.json"))
	if len(meta) != 1 || got[0].File != meta[0] {
		t.Errorf("context's file %q, want its meta.json %v", got[0].File, meta)
	}
	if want := filepath.Join(h, ".config", "containers", "podman-connections.json"); got[1].File != want {
		t.Errorf("connection's file %q, want %q", got[1].File, want)
	}
	if diff := cmp.Diff(sshconn.Options{Identity: "/keys/machine", Machine: true}, got[1].SSH); diff != "" {
		t.Errorf("connection's ssh options (-want +got)\n%s", diff)
	}
}

// Podman 4 keeps connections in containers.conf.
func TestPodmanConnectionInContainersConf(t *testing.T) {
	h := home(t)
	conf := filepath.Join(h, ".config", "containers", "containers.conf")
	writeFile(t, conf, `[engine]
active_service = "old"
[engine.service_destinations.old]
uri = "ssh://me@old.example/run/user/1000/podman/podman.sock"
identity = "/keys/old"
`)
	got, err := Candidates(Options{Getenv: func(k string) string { return map[string]string{"HOME": h}[k] }})
	if err != nil {
		t.Fatal(err)
	}
	want := []Candidate{{URI: "ssh://me@old.example/run/user/1000/podman/podman.sock", Kind: "podman", Source: "connection old (default)", File: conf, SSH: sshconn.Options{Identity: "/keys/old"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got)\n%s", diff)
	}
}

// What cannot be used is an error naming the file or variable to fix.
func TestSourceErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		o       Options
		current string
		want    []string // all in the error
	}{
		{name: "current context missing", current: "gone", want: []string{"config.json", `"gone"`, "no such context"}},
		{name: "DOCKER_CONTEXT missing", env: map[string]string{"DOCKER_CONTEXT": "gone"}, want: []string{"DOCKER_CONTEXT", `"gone"`}},
		{name: "CONTAINER_CONNECTION missing", env: map[string]string{"CONTAINER_CONNECTION": "gone"}, want: []string{"CONTAINER_CONNECTION", `"gone"`}},
		{name: "--engine names nothing", o: Options{Engine: "dokcer"}, want: []string{"--engine", `"dokcer"`, "docker context ls"}},
		{name: "TLS context", o: Options{Engine: "tls"}, want: []string{"TLS", "meta.json"}},
		{name: "hpr.toml prefer", o: Options{Prefer: "lxc"}, want: []string{"prefer", `"lxc"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := home(t)
			dockerContexts(t, h, tc.current, map[string]string{"tls": "tcp://h:2376"})
			writeFile(t, filepath.Join(h, ".docker", "contexts", "tls", contextDir(t, h, "tls"), "docker", "ca.pem"), "x")
			env := map[string]string{"HOME": h}
			for k, v := range tc.env {
				env[k] = v
			}
			o := tc.o
			o.Getenv = func(k string) string { return env[k] }
			_, err := Candidates(o)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// contextDir is the store's directory name for context name.
func contextDir(t *testing.T, h, name string) string {
	t.Helper()
	meta, err := filepath.Glob(filepath.Join(h, ".docker", "contexts", "meta", "*"))
	if err != nil || len(meta) == 0 {
		t.Fatalf("no context directory: %v", err)
	}
	return filepath.Base(meta[0])
}

// A current context or default connection naming a missing socket fails
// Pick fast, naming its file, and hpr starts no engine of its own in its
// place (podman is installed on the machines that run this).
func TestPickMissingSocket(t *testing.T) {
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T, h, sock string)
		source string
		file   func(h string) string
	}{
		{"docker context", func(t *testing.T, h, sock string) {
			dockerContexts(t, h, "desk", map[string]string{"desk": "unix://" + sock})
		}, "context desk (current)", func(h string) string {
			meta, _ := filepath.Glob(filepath.Join(h, ".docker", "contexts", "meta", "*", "meta.json"))
			return strings.Join(meta, " ")
		}},
		{"podman connection", func(t *testing.T, h, sock string) {
			podmanConnections(t, h, "pm", map[string]map[string]any{"pm": {"URI": "unix://" + sock}})
		}, "connection pm (default)", func(h string) string {
			return filepath.Join(h, ".config", "containers", "podman-connections.json")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := home(t)
			sock := filepath.Join(h, "gone", "engine.sock")
			tc.setup(t, h, sock)
			o := Options{Getenv: func(k string) string { return map[string]string{"HOME": h, "XDG_RUNTIME_DIR": h}[k] }}
			start := time.Now()
			e, err := Pick(context.Background(), o)
			if err == nil {
				e.Close()
				t.Fatalf("Pick used %s (%s) in place of the %s", e.About.Endpoint, e.Source, tc.name)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v, want under 2 s", d)
			}
			if !errors.Is(err, runtime.ErrUnreachable) {
				t.Fatalf("error %v, want ErrUnreachable", err)
			}
			for _, w := range []string{tc.file(h), sock + ": no such socket", tc.source} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "private") {
				t.Errorf("hpr tried a private podman service in place of the %s: %v", tc.name, err)
			}
		})
	}
}
