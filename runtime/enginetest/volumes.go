package enginetest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

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
