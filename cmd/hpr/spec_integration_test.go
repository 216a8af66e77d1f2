//go:build integration

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/conformance"
	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/project"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// recorder is an engine that records every spec it is asked to create, and
// creates it.
type recorder struct {
	runtime.Engine
	mu    sync.Mutex
	specs []runtime.ContainerSpec
}

func (r *recorder) Create(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	r.mu.Lock()
	r.specs = append(r.specs, spec)
	r.mu.Unlock()
	return r.Engine.Create(ctx, spec)
}

func (r *recorder) take() []runtime.ContainerSpec {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.specs
	r.specs = nil
	return s
}

// openRecorded opens the harness engine te behind a recorder.
func openRecorded(t *testing.T, te testenv.Engine) (*detect.Engine, *recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := detect.Open(ctx, te.Endpoint, "")
	if err != nil {
		t.Fatalf("opening %s: %v", te.Endpoint, err)
	}
	t.Cleanup(func() { e.Close() })
	rec := &recorder{Engine: e.Engine}
	return &detect.Engine{Engine: rec, About: e.About, Source: e.Source}, rec
}

// specProject writes a project that uses what a spec can carry: an image
// ref, env, a named volume, capabilities.
func specProject(t *testing.T, name string) *project.Project {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	toml := fmt.Sprintf("name = %q\n[image]\nref = \"debian:bookworm-slim\"\n[run]\nenv = { SPEC_TEST = \"1\" }\nvolumes = [\"data:/data\"]\ncap_add = [\"NET_RAW\"]\n", name)
	if err := os.WriteFile(filepath.Join(dir, "hpr.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := project.Open(dir, project.OpenOptions{Require: project.RequireImage})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// mappingOf is a spec without what conformance replaces in hpr run's spec
// by design (conformance.probeSpec): the command, the project mount's
// source, the working directory, the name, published ports, the labels
// naming the project and the run, and the probe's own extra volume.
// Everything else — image ID, plan, identity, env, capabilities, security
// options, tmpfs, the project's volumes — must be the same.
func mappingOf(s runtime.ContainerSpec) runtime.ContainerSpec {
	m := s
	m.Name, m.Entrypoint, m.Cmd, m.WorkingDir, m.Ports = "", nil, nil, "", nil
	m.TTY, m.OpenStdin = false, false
	m.Mounts = []runtime.Mount{{Target: s.Mounts[0].Target}}
	m.Labels = map[string]string{runtime.LabelUser: s.Labels[runtime.LabelUser], runtime.LabelVersion: s.Labels[runtime.LabelVersion]}
	m.Volumes = nil
	for _, v := range s.Volumes {
		if !strings.HasPrefix(v.Name, "hpr-conformance-") {
			m.Volumes = append(m.Volumes, v)
		}
	}
	return m
}

// TestConformanceChecksTheRunSpec: on every engine, the container hpr
// conformance probes a project in is the container hpr run creates for it
// (recorded at the engine, both for real), but for the fields conformance
// replaces by design; and both runs succeed.
func TestConformanceChecksTheRunSpec(t *testing.T) {
	testenv.NonRoot(t)
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		e, rec := openRecorded(t, te)
		p := specProject(t, "spec-"+string(te.Mode))
		t.Cleanup(func() { removeVolume(t, e, p, p.VolumeName("data")) })
		sess := &session{proj: p, cwd: p.Root, engine: e, resolver: newResolver(e, host)}
		var out, errb testenv.Buffer
		err := runInSession(context.Background(), &streams{out: &out, err: &errb}, sess, runOptions{}, []string{"true"})
		if err != nil {
			t.Fatalf("hpr run: %v (stderr %q)", err, errb.String())
		}
		runs := rec.take()
		if len(runs) != 1 {
			t.Fatalf("hpr run created %d containers, want 1", len(runs))
		}
		run := runs[0]

		target := conformanceTarget{opts: conformance.Options{Project: p, Binary: testenv.Bin(t), Dir: t.TempDir(), Labels: processLabels()}, host: host}
		rep := target.run(context.Background(), e)
		if rep.Error != "" || !rep.Pass {
			t.Errorf("conformance: pass %v, error %q", rep.Pass, rep.Error)
			for _, c := range rep.Checks {
				if !c.Pass {
					t.Errorf("%s: %s", c.ID, c.Detail)
				}
			}
		}
		var probe *runtime.ContainerSpec
		for _, s := range rec.take() {
			if s.ImageID == run.ImageID && len(s.Cmd) > 0 && s.Cmd[0] == "probe" && !strings.Contains(strings.Join(s.Cmd, " "), "--clean") {
				probe = &s
				break
			}
		}
		if probe == nil {
			t.Fatalf("conformance created no probe container of image %s", run.ImageID)
		}
		if diff := cmp.Diff(mappingOf(run), mappingOf(*probe)); diff != "" {
			t.Errorf("conformance probed another container than hpr run creates (-run +probe):\n%s", diff)
		}
		if len(run.CapDrop) == 0 || run.ImageID == "" || run.Identity == (runtime.Identity{}) && run.Plan.PasswdLine != "" {
			t.Errorf("hpr run's spec lacks what the comparison is about: %+v", run)
		}
	})
}

// engineCLI runs the engine's own CLI against endpoint as the test user.
func engineCLI(t *testing.T, kind idmap.Kind, endpoint string, args ...string) string {
	t.Helper()
	var cmd *exec.Cmd
	switch kind {
	case idmap.KindDocker:
		cmd = exec.Command("docker", append([]string{"-H", endpoint}, args...)...)
	case idmap.KindPodman:
		cmd = exec.Command("podman", append([]string{"--url", endpoint}, args...)...)
	default:
		t.Fatalf("no CLI for engine kind %q", kind)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestRunReclaimsVolumeRoot: on every engine, a project volume whose root
// was handed to another owner with the engine's own CLI (root, or where
// container root is you, another uid) is writable by the mapped user on the
// next hpr run, and what the container writes there is yours as seen from
// the host.
func TestRunReclaimsVolumeRoot(t *testing.T) {
	testenv.NonRoot(t)
	testenv.Each(t, func(t *testing.T, te testenv.Engine) {
		e, _ := openRecorded(t, te)
		kind := e.About.Facts.Kind
		// A name of this process: a volume a killed earlier run left is not ours.
		p := specProject(t, fmt.Sprintf("reclaim-%s-%d", te.Mode, os.Getpid()))
		vol := p.VolumeName("data")
		t.Cleanup(func() { removeVolume(t, e, p, vol) })
		owner := reclaimVolume(t, te, kind, vol)
		if uid, _ := owner("."); uid == os.Getuid() {
			t.Fatalf("the volume root is still yours after the chown: the test proves nothing")
		}
		code, _, errOut := testenv.Hpr(t, p.Root, nil, nil, "run", "--engine", te.Endpoint, "--", "sh", "-c", "echo hello > /data/made-by-run")
		if code != 0 {
			t.Fatalf("hpr run writing into the volume: exit %d: %s", code, errOut)
		}
		if uid, gid := owner("made-by-run"); uid != os.Getuid() || gid != os.Getgid() {
			t.Errorf("the file the container wrote into the volume is %d:%d on the host, want %d:%d", uid, gid, os.Getuid(), os.Getgid())
		}
	})
}

// reclaimVolume creates volume vol with the engine's CLI, hands its root to
// another owner through a container, and returns how to see the host owner
// of a path in the volume:
//   - Docker: the volume binds a host directory (local driver), so the host
//     stats it;
//   - rootless Podman: the host stats the volume's mount point, in the
//     user's own storage (a volume with driver options Podman mounts only
//     when its container starts, after hpr hands its root over, so there
//     the volume is a plain one);
//   - rootful Podman: the storage is root's alone, so a container with the
//     identity mapping (rootful, no user namespace: a container uid is the
//     host uid) stats it.
func reclaimVolume(t *testing.T, te testenv.Engine, kind idmap.Kind, vol string) func(rel string) (int, int) {
	t.Helper()
	var hostDir string
	create := []string{"volume", "create"}
	if kind == idmap.KindDocker {
		hostDir = filepath.Join(t.TempDir(), "data")
		if err := os.Mkdir(hostDir, 0o755); err != nil {
			t.Fatal(err)
		}
		create = append(create, "--driver", "local", "--opt", "type=none", "--opt", "o=bind", "--opt", "device="+hostDir)
	}
	engineCLI(t, kind, te.Endpoint, append(create, vol)...)
	chown := []string{"run", "--rm"}
	owner := "0:0"
	switch te.Mode {
	case idmap.DockerRootless, idmap.PodmanRootless:
		owner = "1234:1234" // container root is you there
	case idmap.DockerUsernsRemap:
		chown = append(chown, "--userns=host") // the remapped root cannot chown your directory
	}
	engineCLI(t, kind, te.Endpoint, append(chown, "-v", vol+":/data", "debian:bookworm-slim", "chown", owner, "/data")...)
	switch {
	case hostDir != "":
	case te.Mode == idmap.PodmanRootless:
		hostDir = engineCLI(t, kind, te.Endpoint, "volume", "inspect", "--format", "{{.Mountpoint}}", vol)
	default:
		return func(rel string) (int, int) {
			out := engineCLI(t, kind, te.Endpoint, "run", "--rm", "--user", "0:0", "-v", vol+":/data", "debian:bookworm-slim", "stat", "-c", "%u %g", filepath.Join("/data", rel))
			var uid, gid int
			if _, err := fmt.Sscan(out, &uid, &gid); err != nil {
				t.Fatalf("stat in the volume: %q: %v", out, err)
			}
			return uid, gid
		}
	}
	return func(rel string) (int, int) { return testenv.Owner(t, filepath.Join(hostDir, rel)) }
}

// removeVolume removes a project's volume once the engine is done removing
// the project's containers, which refer to it (Podman removes them by
// itself, a moment after hpr returns).
func removeVolume(t *testing.T, e runtime.Engine, p *project.Project, vol string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if left, err := runtime.Settle(ctx, e, map[string]string{runtime.LabelProject: p.RealRoot}, 10*time.Second); err != nil || len(left) > 0 {
		t.Errorf("the project's containers are not gone: %v, %v", left, err)
	}
	if err := runtime.RemoveVolumeSettled(ctx, e, vol); err != nil {
		t.Errorf("removing volume %s: %v", vol, err)
	}
}
