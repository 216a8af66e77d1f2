package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/runtime"
)

// volume ensures a new named volume exists for the test (EnsureVolume says
// it made it, and a second call that it did not) and removes it after.
func (f *fixture) volume(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	vs := runtime.VolumeSpec{Name: name, Labels: map[string]string{runtime.LabelProject: f.dir}}
	created, err := f.e.EnsureVolume(ctx, vs)
	if err != nil || !created {
		t.Fatalf("EnsureVolume(%s) = %v, %v; want created", name, created, err)
	}
	t.Cleanup(func() {
		// First let the engine finish removing the test's containers,
		// which refer to the volume, where it removes them by itself.
		if _, err := runtime.Settle(ctx, f.e, map[string]string{"io.hpr.test": t.Name()}, 10*time.Second); err != nil {
			t.Errorf("List: %v", err)
		}
		if err := f.e.RemoveVolume(ctx, name); err != nil {
			t.Errorf("RemoveVolume(%s) = %v", name, err)
		}
		if err := f.e.RemoveVolume(ctx, name); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("second RemoveVolume(%s) = %v, want ErrNotFound", name, err)
		}
	})
	if again, err := f.e.EnsureVolume(ctx, vs); err != nil || again {
		t.Errorf("second EnsureVolume(%s) = %v, %v; want not created", name, again, err)
	}
}

// checkVolumes: fresh volumes, at a path the image lacks, at paths the
// image has (root's: their content is copied up into the volume) and below
// a HOME the plan makes, are writable by the plan's user on the first run
// and on the next.
func checkVolumes(t *testing.T, f *fixture) {
	base := unique("hpr-enginetest")
	vols := []runtime.VolumeMount{
		{Name: base + "-data", Target: "/data"},
		{Name: base + "-local", Target: "/usr/local"},
		{Name: base + "-apt", Target: "/var/cache/apt"},
	}
	if home := f.planned.Plan.Home; home != "" {
		vols = append(vols, runtime.VolumeMount{Name: base + "-home", Target: home + "/.cache"})
	}
	for _, v := range vols {
		f.volume(t, v.Name)
	}
	script := `set -e; for v in "$@"; do touch "$v/f-$0"; mkdir -p "$v/d-$0"; done; ls /usr/local /var/cache/apt`
	for n := range 2 {
		args := []string{"sh", "-c", script, strconv.Itoa(n)}
		for _, v := range vols {
			args = append(args, v.Target)
		}
		s := f.spec(t, args...)
		s.Volumes = vols
		res := f.run(t, runtime.RunOptions{Spec: s})
		if res.code != 0 || !strings.Contains(res.stdout, "archives\n") || !strings.Contains(res.stdout, "bin\n") {
			t.Errorf("run %d writing to the volumes as %q: exit %d, stdout %q, stderr %q; want 0 and the image's /usr/local and /var/cache/apt copied up", n+1, f.planned.Plan.User, res.code, res.stdout, res.stderr)
		}
	}
	f.noneLeft(t)
}

// checkVolumeRootHandedOver: a volume whose root a container run as root
// made root's, or another uid's, is writable by the plan's user in the next
// run, and what that user writes there is the host user's.
func checkVolumeRootHandedOver(t *testing.T, f *fixture) {
	for _, owner := range []string{"0:0", "1234:1234"} {
		t.Run(strings.ReplaceAll(owner, ":", "."), func(t *testing.T) {
			name := unique("hpr-enginetest-root")
			f.volume(t, name)
			vol := []runtime.VolumeMount{{Name: name, Target: "/v"}}
			s := f.rootSpec(t, "sh", "-c", "chown "+owner+" /v && chmod 755 /v && stat -c %u:%g /v")
			s.Volumes = vol
			if res := f.run(t, runtime.RunOptions{Spec: s}); res.code != 0 || res.stdout != owner+"\n" {
				t.Fatalf("chown %s of the volume root as root: exit %d, stdout %q, stderr %q", owner, res.code, res.stdout, res.stderr)
			}
			s = f.spec(t, "sh", "-c", "touch /v/f && mkdir /v/d")
			s.Volumes = vol
			if res := f.run(t, runtime.RunOptions{Spec: s}); res.code != 0 {
				t.Fatalf("writing to a volume whose root is %s as %q: exit %d, stderr %q", owner, f.planned.Plan.User, res.code, res.stderr)
			}
			f.assertVolumeOwner(t, name, "f", "d")
			f.noneLeft(t)
		})
	}
}

// checkVolumeInUse: a volume a container refers to is not removed (and the
// container is not removed with it): RemoveVolume says ErrConflict, and
// removes it once the container is gone.
func checkVolumeInUse(t *testing.T, f *fixture) {
	ctx := context.Background()
	name := unique("hpr-enginetest-inuse")
	if _, err := f.e.EnsureVolume(ctx, runtime.VolumeSpec{Name: name, Labels: map[string]string{runtime.LabelProject: f.dir}}); err != nil {
		t.Fatal(err)
	}
	s := f.spec(t, "true")
	s.Volumes = []runtime.VolumeMount{{Name: name, Target: "/v"}}
	id, err := f.e.Create(ctx, s)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := f.e.RemoveVolume(ctx, name); !errors.Is(err, runtime.ErrConflict) {
		t.Errorf("RemoveVolume of a volume a container refers to = %v, want ErrConflict", err)
	}
	if err := f.e.Remove(ctx, id); err != nil {
		t.Errorf("Remove: %v (the container must outlive the refused volume removal)", err)
	}
	if err := f.e.RemoveVolume(ctx, name); err != nil {
		t.Errorf("RemoveVolume once the container is gone = %v", err)
	}
}

// assertVolumeOwner asserts files in a volume are the test user's.
//
// On rootless engines the volume lives in the user's own storage, and the
// host judges: the volume's Mountpoint, asked of the engine's CLI, is
// stat'ed like any file. On rootful engines it lives in the daemon's data
// root (/var/lib/docker is mode 0710, /var/lib/containers/storage 0700,
// both root's), which the test user cannot enter: there the judge is a
// container run as root with the identity mapping (no user namespace;
// docker-userns-remap: userns "host"), whose `stat -c %u:%g` are the host's
// ids.
func (f *fixture) assertVolumeOwner(t *testing.T, volume string, files ...string) {
	t.Helper()
	want := fmt.Sprintf("%d:%d", os.Getuid(), os.Getgid())
	if f.info.Facts.Rootless {
		dir := f.mountpoint(t, volume)
		for _, name := range files {
			fi, err := os.Lstat(filepath.Join(dir, name))
			if err != nil {
				t.Errorf("%s in volume %s: %v", name, volume, err)
				continue
			}
			st := fi.Sys().(*syscall.Stat_t)
			if got := fmt.Sprintf("%d:%d", st.Uid, st.Gid); got != want {
				t.Errorf("%s in volume %s (%s) owned by %s as the host sees it, want %s", name, volume, dir, got, want)
			}
		}
		return
	}
	if f.planned.Plan.Userns != "" && f.planned.Plan.Mode != idmap.DockerUsernsRemap {
		t.Fatalf("plan %+v: a rootful engine whose plan has a user namespace; the judge needs the identity mapping", f.planned.Plan)
	}
	args := []string{"stat", "-c", "%u:%g"}
	for _, name := range files {
		args = append(args, "/v/"+name)
	}
	s := f.rootSpec(t, args...)
	s.Volumes = []runtime.VolumeMount{{Name: volume, Target: "/v"}}
	res := f.run(t, runtime.RunOptions{Spec: s})
	if wantOut := strings.Repeat(want+"\n", len(files)); res.code != 0 || res.stdout != wantOut {
		t.Errorf("%q in volume %s seen from the host's ids: exit %d, stdout %q, stderr %q; want %q", files, volume, res.code, res.stdout, res.stderr, wantOut)
	}
}

// mountpoint asks the engine's CLI where a volume lives on the host.
func (f *fixture) mountpoint(t *testing.T, volume string) string {
	t.Helper()
	var cmd *exec.Cmd
	switch f.env.kind() {
	case idmap.KindDocker:
		cmd = exec.Command("docker", "--host", f.env.Endpoint, "volume", "inspect", "--format", "{{.Mountpoint}}", volume)
	case idmap.KindPodman:
		cmd = exec.Command("podman", "--remote", "--url", f.env.Endpoint, "volume", "inspect", "--format", "{{.Mountpoint}}", volume)
	default:
		t.Fatalf("no CLI for engine kind %q", f.env.kind())
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v (%s); the harness installs the engines' CLIs", cmd, err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out))
}
