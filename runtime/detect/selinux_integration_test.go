//go:build integration

package detect_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// inspected is what an engine's own CLI says about a created container's
// labelling: its security options, and each mount's mode (z, Z or "").
type inspected struct {
	HostConfig struct {
		SecurityOpt []string
	}
	Mounts []struct {
		Destination string
		Mode        string
	}
}

// inspect asks the engine's own CLI, not hpr, about container id.
func inspect(t *testing.T, e *detect.Engine, id string) inspected {
	t.Helper()
	var cmd *exec.Cmd
	switch e.About.Facts.Kind {
	case idmap.KindDocker:
		cmd = exec.Command("docker", "-H", e.About.Endpoint, "container", "inspect", id)
	case idmap.KindPodman:
		cmd = exec.Command("podman", "--url", e.About.Endpoint, "container", "inspect", id)
	default:
		t.Fatalf("unknown kind %q", e.About.Facts.Kind)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	var got []inspected
	if err := json.Unmarshal(out, &got); err != nil || len(got) != 1 {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return got[0]
}

// TestSELinuxOptions: on every engine, the container hpr creates carries
// the labelling asked for, as the engine itself reports it: label=disable,
// or the project's mount relabelled z (shared) or Z (private) with hpr's
// own files z. These engines enforce no SELinux; they keep the options all
// the same, which is what is checked here (the decision is unit-tested).
func TestSELinuxOptions(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		ctx := context.Background()
		e, err := detect.Open(ctx, te.Endpoint, "")
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		p := basePlan(t, e)
		dir := t.TempDir()
		own := filepath.Join(t.TempDir(), "own")
		if err := os.WriteFile(own, []byte("hpr's\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			label       runtime.SELinuxLabel
			disable     bool
			project, of string
		}{
			{runtime.SELinuxNone, false, "", ""},
			{runtime.SELinuxDisable, true, "", ""},
			{runtime.SELinuxShared, false, "z", "z"},
			{runtime.SELinuxPrivate, false, "Z", "z"},
		} {
			id, err := e.Create(ctx, runtime.ContainerSpec{
				Image: "debian:bookworm-slim", Cmd: []string{"true"}, Plan: p.Plan,
				Mounts: []runtime.Mount{
					{Source: dir, Target: "/app", Project: true},
					{Source: own, Target: "/etc/hpr-own", ReadOnly: true},
				},
				Labels:  map[string]string{runtime.LabelProject: dir},
				SELinux: tc.label,
			})
			if err != nil {
				t.Fatalf("creating with selinux %q: %v", tc.label, err)
			}
			got := inspect(t, e, id)
			if err := e.Remove(ctx, id); err != nil {
				t.Errorf("removing %s: %v", id, err)
			}
			if slices.Contains(got.HostConfig.SecurityOpt, "label=disable") != tc.disable {
				t.Errorf("selinux %q: security options %q, want label=disable %v", tc.label, got.HostConfig.SecurityOpt, tc.disable)
			}
			modes := map[string]string{}
			for _, m := range got.Mounts {
				modes[m.Destination] = relabelOf(m.Mode)
			}
			if modes["/app"] != tc.project || modes["/etc/hpr-own"] != tc.of {
				t.Errorf("selinux %q: project mount mode %q, hpr's file %q; want %q, %q", tc.label, modes["/app"], modes["/etc/hpr-own"], tc.project, tc.of)
			}
		}
	})
}

// relabelOf is the relabelling in a mount's mode as inspect shows it:
// Docker "ro,z", Podman "z" (read-only shown apart).
func relabelOf(mode string) string {
	for _, f := range strings.Split(mode, ",") {
		if f == "z" || f == "Z" {
			return f
		}
	}
	return ""
}
