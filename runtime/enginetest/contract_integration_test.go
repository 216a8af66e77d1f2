//go:build integration

package enginetest_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/docker"
	"github.com/hostpersist/hpr/runtime/enginetest"
	"github.com/hostpersist/hpr/runtime/podman"
)

func TestMain(m *testing.M) {
	// PlanFor's caches go to a directory of the run's own, so that every
	// run reads the images afresh.
	dir, err := os.MkdirTemp("", "hpr-enginetest-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("XDG_CACHE_HOME", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestContract holds every engine of the harness to the contract, each
// through its backend.
func TestContract(t *testing.T) {
	testenv.NonRoot(t)
	for _, te := range testenv.Engines(t) {
		t.Run(string(te.Mode), func(t *testing.T) {
			t.Parallel()
			enginetest.Run(t, enginetest.Env{Mode: te.Mode, Endpoint: te.Endpoint, Open: opener(t, te.Mode)})
		})
	}
}

// opener opens the backend for mode.
func opener(t *testing.T, mode idmap.Mode) enginetest.Opener {
	switch mode {
	case idmap.DockerRootful, idmap.DockerUsernsRemap, idmap.DockerRootless:
		return func(_ context.Context, ep string) (runtime.Engine, error) { return docker.New(ep) }
	case idmap.PodmanRootless, idmap.PodmanRootful:
		return func(ctx context.Context, ep string) (runtime.Engine, error) { return podman.New(ctx, ep) }
	default:
		t.Fatalf("no backend for engine mode %q", mode)
		return nil
	}
}
