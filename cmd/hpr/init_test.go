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

// hpr init writes an hpr.toml that loads, builds the Dockerfile when there is
// one, and refuses to overwrite without --force.
func TestInit(t *testing.T) {
	for _, withDockerfile := range []bool{false, true} {
		dir := t.TempDir()
		t.Chdir(dir)
		if withDockerfile {
			os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM debian:bookworm-slim\n"), 0o644)
		}
		var out, errb bytes.Buffer
		if code := run(context.Background(), []string{"init"}, nil, &out, &errb); code != 0 {
			t.Fatalf("hpr init: exit %d, %s", code, errb.String())
		}
		p, err := project.Load(filepath.Join(dir, "hpr.toml"))
		if err != nil {
			t.Fatalf("the written hpr.toml does not load: %v", err)
		}
		if p.Image.Building() != withDockerfile {
			t.Errorf("with Dockerfile %v: builds %v", withDockerfile, p.Image.Building())
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
