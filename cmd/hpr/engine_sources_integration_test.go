//go:build integration

package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	dockercontext "github.com/docker/cli/cli/context"
	"github.com/docker/cli/cli/context/store"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
)

// userConfig is a home of the test's own holding the Docker CLI's contexts
// (name → host; current made current in config.json) and Podman's
// connections file (def its default), and the environment that makes hpr
// use it: HOME and XDG_CONFIG_HOME, and none of the engines' variables.
func userConfig(t *testing.T, current string, contexts map[string]string, def string, conns map[string]string) []string {
	t.Helper()
	home := t.TempDir()
	s := store.New(filepath.Join(home, ".docker", "contexts"), store.NewConfig(
		func() any { return &map[string]any{} },
		store.EndpointTypeGetter("docker", func() any { return &dockercontext.EndpointMetaBase{} }),
	))
	for name, host := range contexts {
		if err := s.CreateOrUpdate(store.Metadata{Name: name, Metadata: map[string]any{},
			Endpoints: map[string]any{"docker": dockercontext.EndpointMetaBase{Host: host}}}); err != nil {
			t.Fatal(err)
		}
	}
	if current != "" {
		writeJSONFile(t, filepath.Join(home, ".docker", "config.json"), map[string]any{"currentContext": current})
	}
	if len(conns) > 0 {
		c := map[string]any{}
		for name, uri := range conns {
			c[name] = map[string]string{"URI": uri}
		}
		writeJSONFile(t, filepath.Join(home, ".config", "containers", "podman-connections.json"),
			map[string]any{"Connection": map[string]any{"Default": def, "Connections": c}})
	}
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config")}
	// Empty is unset for these; not for CONTAINERS_CONF and
	// PODMAN_CONNECTIONS_CONF, which Podman's config library looks up (the
	// test runs without them).
	for _, k := range []string{"DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_CONFIG", "CONTAINER_HOST", "CONTAINER_CONNECTION", "HPR_ENGINE"} {
		env = append(env, k+"=")
	}
	return env
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// remapRoute is the route to the userns-remap daemon's own bridge
// (10.213.0.0/24, scripts/engines.sh) as /proc/net/route spells it: a
// container on that daemon, and on no other, has it.
const remapRoute = "0000D50A"

// podmanRoute is the route to rootful Podman's default network, 10.88.0.0/16.
const podmanRoute = "0000580A"

// TestEngineFromCLIConfig: with no flag and no environment, hpr run uses
// the Docker CLI's current context, else Podman's default connection;
// DOCKER_CONTEXT and --engine NAME pick a named context; hpr engines says
// where each engine came from. The contexts point at engines that probing
// would not choose (the userns-remap daemon is on no standard socket;
// probing prefers rootless Podman to rootful), and the container shows
// from inside which engine ran it.
func TestEngineFromCLIConfig(t *testing.T) {
	testenv.NonRoot(t)
	remap := testenv.Need(t, idmap.DockerUsernsRemap).Endpoint
	rootful := testenv.Need(t, idmap.PodmanRootful).Endpoint
	contexts := map[string]string{"remap": remap}
	conns := map[string]string{"pm": rootful}
	run := func(t *testing.T, env []string, args ...string) string {
		t.Helper()
		args = append([]string{"run"}, append(args, "--image", "debian:bookworm-slim", "--", "sh", "-c", "cat /proc/net/route /proc/self/uid_map")...)
		code, out, errOut := testenv.Hpr(t, t.TempDir(), env, nil, args...)
		if code != 0 {
			t.Fatalf("hpr %q: exit %d, stderr %q", args, code, errOut)
		}
		return out
	}
	onRemap := func(t *testing.T, out string) {
		t.Helper()
		if !strings.Contains(out, remapRoute) {
			t.Errorf("the container did not run on the userns-remap daemon (no route to its bridge):\n%s", out)
		}
	}
	t.Run("current context", func(t *testing.T) {
		env := userConfig(t, "remap", contexts, "", nil)
		onRemap(t, run(t, env))
		engineSource(t, env, remap, "context remap (current)", true)
	})
	t.Run("DOCKER_CONTEXT", func(t *testing.T) {
		env := append(userConfig(t, "", contexts, "", nil), "DOCKER_CONTEXT=remap")
		onRemap(t, run(t, env))
		engineSource(t, env, remap, "context remap (DOCKER_CONTEXT)", true)
	})
	t.Run("--engine context", func(t *testing.T) {
		env := userConfig(t, "", contexts, "", nil)
		onRemap(t, run(t, env, "--engine", "remap"))
		engineSource(t, env, remap, "context remap (--engine)", true, "--engine", "remap")
	})
	t.Run("default connection", func(t *testing.T) {
		env := userConfig(t, "", nil, "pm", conns)
		out := run(t, env)
		// Rootful Podman runs the plan's user without a user namespace, on
		// its own network (10.88.0.0/16); rootless Podman, which probing
		// prefers, maps ids (keep-id).
		if !strings.Contains(out, "0          0 4294967295") || !strings.Contains(out, podmanRoute) {
			t.Errorf("the container did not run on rootful Podman (uid_map not the identity, or no route to podman's network):\n%s", out)
		}
		engineSource(t, env, rootful, "connection pm (default)", false)
	})
	t.Run("context naming a missing socket", func(t *testing.T) {
		env := userConfig(t, "gone", map[string]string{"gone": "unix://" + filepath.Join(t.TempDir(), "docker.sock")}, "", nil)
		code, _, errOut := testenv.Hpr(t, t.TempDir(), env, nil, "run", "--image", "debian:bookworm-slim", "--", "true")
		if code != 125 || !strings.Contains(errOut, "meta.json") || !strings.Contains(errOut, "no such socket") || strings.Count(strings.TrimSpace(errOut), "\n") > 0 {
			t.Errorf("exit %d, stderr %q; want 125 and one line naming the context's meta.json and the missing socket", code, errOut)
		}
	})
}

// engineSource checks that hpr engines --json lists endpoint with source
// and, for a Docker context, the meta.json that named it.
func engineSource(t *testing.T, env []string, endpoint, source string, metaFile bool, args ...string) {
	t.Helper()
	args = append([]string{"engines", "--json"}, args...)
	code, out, errOut := testenv.Hpr(t, t.TempDir(), env, nil, args...)
	if code != 0 {
		t.Fatalf("hpr %q: exit %d, stderr %q", args, code, errOut)
	}
	var got struct {
		Engines []struct {
			Endpoint   string `json:"endpoint"`
			Source     string `json:"source"`
			SourceFile string `json:"source_file"`
		} `json:"engines"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	for _, e := range got.Engines {
		if e.Endpoint != endpoint {
			continue
		}
		if e.Source != source || metaFile && !strings.HasSuffix(e.SourceFile, "meta.json") {
			t.Errorf("%s listed from %q (%q), want %q", endpoint, e.Source, e.SourceFile, source)
		}
		return
	}
	t.Errorf("hpr %q does not list %s:\n%s", args, endpoint, out)
}

// TestEnginesOverSSH: the second local user (another uid, no engines of its
// own) runs hpr engines over ssh to the test user and reaches the test
// user's rootful Docker and rootless Podman, with its own ~/.ssh (default
// key, known_hosts) and nothing else.
func TestEnginesOverSSH(t *testing.T) {
	testenv.NonRoot(t)
	s := testenv.SSHHarness(t)
	rootless := testenv.Need(t, idmap.PodmanRootless).Endpoint
	testenv.Need(t, idmap.DockerRootful)
	dockerURI, podmanURI := s.URI(""), s.URI(strings.TrimPrefix(rootless, "unix://"))
	if id := asLocal(t, s, "id -u"); id.Code != 0 || strings.TrimSpace(id.Stdout) == "" || strings.TrimSpace(id.Stdout) == strings.TrimSpace(os.Getenv("HPR_TEST_UID")) {
		t.Fatalf("not running as another user over ssh: id %q, exit %d, %q", id.Stdout, id.Code, id.Stderr)
	}
	r := asLocal(t, s, strings.Join([]string{testenv.Bin(t), "engines", "--json", "--engine", dockerURI, "--engine", podmanURI}, " "))
	if r.Code != 0 {
		t.Fatalf("hpr engines as %s over ssh: exit %d: %s\n%s", s.LocalUser, r.Code, r.Stderr, r.Stdout)
	}
	out := r.Stdout
	var got struct {
		Engines []struct {
			Endpoint string     `json:"endpoint"`
			Mode     idmap.Mode `json:"mode"`
			Local    bool       `json:"local"`
		} `json:"engines"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	want := map[string]idmap.Mode{dockerURI: idmap.DockerRootful, podmanURI: idmap.PodmanRootless}
	for _, e := range got.Engines {
		if want[e.Endpoint] != e.Mode || e.Local {
			t.Errorf("%s: mode %s, local %v; want %s, not local", e.Endpoint, e.Mode, e.Local, want[e.Endpoint])
		}
		delete(want, e.Endpoint)
	}
	for uri := range want {
		t.Errorf("%s not listed:\n%s", uri, out)
	}
}
