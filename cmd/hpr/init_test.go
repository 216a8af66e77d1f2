package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/project"
)

// hpr init writes an hpr.toml that loads, holds the keys and values a new
// project starts from, builds the Dockerfile when there is one, and is not
// overwritten without --force.
func TestInit(t *testing.T) {
	for _, c := range []struct {
		dockerfile bool
		want       map[string]any
	}{{
		dockerfile: false,
		want: map[string]any{
			"name": "my-project", "engine.prefer": "auto", "run.mount": "/app", "run.user": "auto",
		},
	}, {
		dockerfile: true,
		want: map[string]any{
			"name": "my-project", "engine.prefer": "auto", "image.build": ".", "run.mount": "/app", "run.user": "auto",
		},
	}} {
		dir := filepath.Join(t.TempDir(), "my-project")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Chdir(dir)
		if c.dockerfile {
			if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM debian:bookworm-slim\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"init"}, nil, &out, &errb); code != 0 {
			t.Fatalf("hpr init: exit %d, %s", code, errb.String())
		}
		path := filepath.Join(dir, "hpr.toml")
		var doc map[string]any
		if _, err := toml.DecodeFile(path, &doc); err != nil {
			t.Fatalf("the written hpr.toml is not TOML: %v", err)
		}
		if diff := cmp.Diff(c.want, flatten("", doc)); diff != "" {
			t.Errorf("with Dockerfile %v, hpr.toml's keys (-want +got):\n%s", c.dockerfile, diff)
		}
		p, err := project.Load(path)
		if err != nil {
			t.Fatalf("the written hpr.toml does not load: %v", err)
		}
		if p.Image.Building() != c.dockerfile {
			t.Errorf("with Dockerfile %v: builds %v", c.dockerfile, p.Image.Building())
		}
		errb.Reset()
		if code := run(context.Background(), []string{"init"}, nil, &out, &errb); code != 125 || !strings.Contains(errb.String(), "--force") {
			t.Errorf("second init: exit %d, %q; want 125 naming --force", code, errb.String())
		}
		if code := run(context.Background(), []string{"init", "--force"}, nil, &out, &errb); code != 0 {
			t.Errorf("init --force: exit %d", code)
		}
	}
}

// flatten turns TOML tables into dotted keys.
func flatten(prefix string, m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if sub, ok := v.(map[string]any); ok {
			for sk, sv := range flatten(prefix+k+".", sub) {
				out[sk] = sv
			}
			continue
		}
		out[prefix+k] = v
	}
	return out
}

// hpr init never writes through a symbolic link a cloned project ships as
// its hpr.toml (dangling, so that a stat says it is absent, or to a file of
// the user's), and nothing outside the project changes.
func TestInitRefusesSymlink(t *testing.T) {
	for _, c := range []struct {
		name   string
		exists bool
		args   []string
	}{
		{"dangling", false, []string{"init"}},
		{"dangling, --force", false, []string{"init", "--force"}},
		{"to a file, --force", true, []string{"init", "--force"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			outside, dir := filepath.Join(root, "home"), filepath.Join(root, "proj")
			for _, d := range []string{outside, dir} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			target := filepath.Join(outside, ".bash_profile")
			if c.exists {
				if err := os.WriteFile(target, []byte("canary\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("../home/.bash_profile", filepath.Join(dir, "hpr.toml")); err != nil {
				t.Fatal(err)
			}
			before := testenv.Snap(2, outside)
			t.Chdir(dir)
			var out, errb bytes.Buffer
			if code := run(context.Background(), c.args, nil, &out, &errb); code == 0 {
				t.Errorf("hpr init: exit 0, want a refusal")
			}
			if msg := strings.TrimSpace(errb.String()); strings.Count(msg, "\n") > 0 || !strings.Contains(msg, "is a symbolic link to \"../home/.bash_profile\": hpr init does not write through it") {
				t.Errorf("message %q", msg)
			}
			if d := testenv.Snap(2, outside).Diff(before); d != "" {
				t.Errorf("outside the project changed: %s", d)
			}
		})
	}
}

// hpr init --force replaces an hpr.toml that is a hard link to a file
// outside the project: the file outside keeps its content.
func TestInitForceHardLink(t *testing.T) {
	root := t.TempDir()
	outside, dir := filepath.Join(root, "home"), filepath.Join(root, "proj")
	for _, d := range []string{outside, dir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	target := filepath.Join(outside, ".bash_profile")
	if err := os.WriteFile(target, []byte("canary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(target, filepath.Join(dir, "hpr.toml")); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"init", "--force"}, nil, &out, &errb); code != 0 {
		t.Fatalf("hpr init --force: exit %d, %s", code, errb.String())
	}
	// Not Snap/Diff: unlinking the project's name changes the file's
	// link count, and so its ctime; its content and mtime must not.
	after, err := os.Stat(target)
	if data, rerr := os.ReadFile(target); err != nil || rerr != nil || string(data) != "canary\n" || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the file outside changed: %q, %v, %v; mtime %v -> %v", data, err, rerr, before.ModTime(), after.ModTime())
	}
	if _, err := project.Load(filepath.Join(dir, "hpr.toml")); err != nil {
		t.Errorf("the written hpr.toml does not load: %v", err)
	}
}

// What hpr init copies from a compose file into hpr.toml (service names,
// paths, values) is quoted TOML: a name with a newline cannot start a line
// of its own, in a value or in a comment.
func TestInitEscapes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "proj")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	compose := "services:\n  dev:\n    image: debian\n    command: [\"deb\\nian\\a\\u2028\"]\n    volumes: [\".:/app\"]\n    environment: {\"K\\\"\": \"v\\u0007\\\\\"}\n    depends_on: [\"db\\ntouch /tmp/pwned\"]\n  \"db\\ntouch /tmp/pwned\":\n    image: b\n"
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"init"}, nil, &out, &errb); code != 0 {
		t.Fatalf("hpr init: exit %d, %s", code, errb.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "hpr.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "touch") || strings.HasPrefix(l, "ian") {
			t.Errorf("a line came from the compose file unquoted: %q", l)
		}
	}
	var doc map[string]any
	if _, err := toml.Decode(string(data), &doc); err != nil {
		t.Fatalf("the written hpr.toml is not TOML: %v\n%s", err, data)
	}
	// Uncommented, the shown values read back as the compose file's.
	var shown map[string]any
	uncommented := strings.NewReplacer("\n# [", "\n[", "\n# env =", "\nenv =", "\n# command =", "\ncommand =").Replace(string(data))
	if _, err := toml.Decode(uncommented, &shown); err != nil {
		t.Fatalf("the shown values are not TOML: %v\n%s", err, uncommented)
	}
	want := map[string]any{"command": []any{"deb\nian\a\u2028"}, "env": map[string]any{"K\"": "v\a\\"}}
	got := map[string]any{"command": shown["run"].(map[string]any)["command"], "env": shown["run"].(map[string]any)["env"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("shown values (-want +got):\n%s", diff)
	}
}
