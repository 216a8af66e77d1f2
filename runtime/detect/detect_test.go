package detect

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestCandidates(t *testing.T) {
	std := Standard("/run/user/7")
	uris := func(c []Candidate) []string {
		var out []string
		for _, x := range c {
			out = append(out, x.Source+" "+x.URI)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		o    Options
		want []string
	}{
		{"standard, rootless first", Options{Getenv: env(map[string]string{"XDG_RUNTIME_DIR": "/run/user/7"})}, uris(std)},
		{"--engine URI wins over everything", Options{Engine: "unix:///x.sock", Getenv: env(map[string]string{"HPR_ENGINE": "podman", "DOCKER_HOST": "unix:///d.sock"})},
			[]string{"--engine unix:///x.sock"}},
		{"HPR_ENGINE URI", Options{Getenv: env(map[string]string{"HPR_ENGINE": "tcp://127.0.0.1:2375", "DOCKER_HOST": "unix:///d.sock"})},
			[]string{"HPR_ENGINE tcp://127.0.0.1:2375"}},
		{"DOCKER_HOST before hpr.toml", Options{Endpoint: "unix:///toml.sock", Getenv: env(map[string]string{"DOCKER_HOST": "unix:///d.sock"})},
			[]string{"DOCKER_HOST unix:///d.sock"}},
		{"--engine podman ignores DOCKER_HOST", Options{Engine: "podman", Getenv: env(map[string]string{"DOCKER_HOST": "unix:///d.sock", "XDG_RUNTIME_DIR": "/run/user/7"})},
			[]string{"standard socket unix:///run/user/7/podman/podman.sock", "standard socket unix:///run/podman/podman.sock"}},
		{"hpr.toml endpoint", Options{Endpoint: "unix:///toml.sock", Getenv: env(nil)}, []string{"hpr.toml [engine] endpoint unix:///toml.sock"}},
		{"hpr.toml prefer docker", Options{Prefer: "docker", Getenv: env(map[string]string{"XDG_RUNTIME_DIR": "/run/user/7"})},
			[]string{"standard socket unix:///run/user/7/docker.sock", "standard socket unix:///var/run/docker.sock"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Candidates(tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, uris(got)); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestCandidatesErrors(t *testing.T) {
	for _, o := range []Options{
		{Engine: "dokcer", Getenv: env(nil)},
		{Prefer: "lxc", Getenv: env(nil)},
	} {
		if _, err := Candidates(o); err == nil {
			t.Errorf("Candidates(%+v): no error", o)
		}
	}
}

// With nothing answering, Pick fails within about two seconds and names
// every endpoint it tried and why.
func TestPickNothingAnswers(t *testing.T) {
	dir := t.TempDir()
	socks := Standard(dir)
	for i := range socks { // no real engine in the way of this test
		socks[i].URI = strings.Replace(socks[i].URI, "unix:///", "unix://"+dir+"/root/", 1)
	}
	o := Options{Getenv: env(map[string]string{"XDG_RUNTIME_DIR": dir}), NoPrivateService: true, Sockets: socks}
	start := time.Now()
	_, err := Pick(context.Background(), o)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v, want under 2 s", d)
	}
	if !errors.Is(err, runtime.ErrUnreachable) {
		t.Fatalf("error = %v, want ErrUnreachable", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, c := range socks {
		if !strings.Contains(msg, c.URI) {
			t.Errorf("error does not name %s: %q", c.URI, msg)
		}
	}
	if !strings.Contains(msg, socks[1].URI+": no such socket") {
		t.Errorf("error does not say why %s failed: %q", socks[1].URI, msg)
	}
}

func TestOpenUnknownKind(t *testing.T) {
	if _, err := Open(context.Background(), "unix:///nowhere.sock", idmap.Kind("lxc")); err == nil {
		t.Error("no error for an unknown kind")
	}
}
