//go:build integration

package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// TestVolumeOwnedOnHost: what a container writes into a named volume of
// hpr.toml is the user's as seen from the host, on the engines whose
// volumes the user can see: the rootless ones, where the volume's
// Mountpoint is under the user's home. (A rootful engine keeps its volumes
// where only root may look.)
func TestVolumeOwnedOnHost(t *testing.T) {
	testenv.NonRoot(t)
	for _, mode := range []idmap.Mode{idmap.DockerRootless, idmap.PodmanRootless} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			te := testenv.Need(t, mode)
			dir := t.TempDir()
			name := fmt.Sprintf("vol-%d", time.Now().UnixNano())
			write(t, filepath.Join(dir, "hpr.toml"), fmt.Sprintf("name = %q\n[image]\nref = \"debian:bookworm-slim\"\n[run]\nvolumes = [\"data:/data\"]\n", name))
			volume := "hpr-" + name + "-data"
			defer removeVolume(t, te.Endpoint, volume)
			code, _, errOut := hpr(t, dir, nil, "run", "--engine", te.Endpoint, "--", "sh", "-c", "mkdir -p /data/sub && echo v > /data/sub/f && echo w > /data/g")
			if code != 0 {
				t.Fatalf("exit %d, %q", code, errOut)
			}
			mp := mountpoint(t, te.Endpoint, volume)
			if n := assertOwnedByMe(t, mp); n != 4 {
				t.Errorf("%s holds %d paths, want the root, sub, sub/f and g", mp, n)
			}
		})
	}
}

// mountpoint asks the engine (its Docker-compatible API) where volume is
// on the host.
func mountpoint(t *testing.T, endpoint, volume string) string {
	t.Helper()
	sock := strings.TrimPrefix(endpoint, "unix://")
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := c.Get("http://engine/volumes/" + volume)
	if err != nil {
		t.Fatalf("inspecting volume %s: %v", volume, err)
	}
	defer resp.Body.Close()
	var v struct{ Mountpoint string }
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != http.StatusOK || v.Mountpoint == "" {
		t.Fatalf("inspecting volume %s: %s, %v, %+v", volume, resp.Status, err, v)
	}
	return v.Mountpoint
}

func removeVolume(t *testing.T, endpoint, volume string) {
	t.Helper()
	e, err := detect.Open(context.Background(), endpoint, "")
	if err != nil {
		t.Errorf("removing volume %s: %v", volume, err)
		return
	}
	defer e.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := runtime.RemoveVolumeSettled(ctx, e, volume); err != nil {
		t.Errorf("removing volume %s: %v", volume, err)
	}
}
