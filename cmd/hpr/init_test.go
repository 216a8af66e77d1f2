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
