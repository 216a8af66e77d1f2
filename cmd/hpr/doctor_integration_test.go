//go:build integration

package main_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hostpersist/hpr/idmap"
	"github.com/hostpersist/hpr/internal/testenv"
	"github.com/hostpersist/hpr/runtime"
	"github.com/hostpersist/hpr/runtime/detect"
)

// doctorImage is the image the tests' own containers (the ones that leave
// files behind) run.
const doctorImage = "debian:bookworm-slim"

// doctorEngine opens the harness engine of mode, or skips (fails under
// HPR_REQUIRE_ENGINES=1) when there is none.
func doctorEngine(t *testing.T, mode idmap.Mode) *detect.Engine {
	t.Helper()
	te := testenv.Need(t, mode)
	e, err := detect.Open(context.Background(), te.Endpoint, "")
	if err != nil {
		t.Fatalf("opening %s: %v", te.Endpoint, err)
	}
	t.Cleanup(func() { e.Close() })
	if _, err := e.Image(context.Background(), doctorImage); err != nil {
		t.Fatalf("%s on %s: %v (sudo scripts/engines.sh up imports it)", doctorImage, mode, err)
	}
	return e
}

// leaveFiles runs script in a container on e with dir mounted at /app, as
// user ("0:0", "1500:1500"), the way a plain `docker run --user` would.
func leaveFiles(t *testing.T, e *detect.Engine, dir, user, script string) {
	t.Helper()
	ctx := context.Background()
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	p, err := runtime.PlanFor(ctx, e, e.About, host, doctorImage, idmap.OverrideRoot)
	if err != nil {
		t.Fatal(err)
	}
	plan, id := p.Plan, p.Identity
	if user != "0:0" {
		// Not a plan hpr makes: exactly what `docker run --user` does.
		plan.User, plan.Env, id = user, nil, runtime.Identity{}
		fmt.Sscanf(user, "%d:%d", &plan.UID, &plan.GID)
	}
	if plan.User != user {
		t.Fatalf("plan user %q, want %q", plan.User, user)
	}
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	code, err := runtime.Run(ctx, e, runtime.RunOptions{
		Spec: runtime.ContainerSpec{
			Image:      doctorImage,
			Cmd:        []string{"sh", "-c", script},
			WorkingDir: "/app",
			Mounts:     []runtime.Mount{{Source: dir, Target: "/app"}},
			Labels:     map[string]string{runtime.LabelProject: real},
			Plan:       plan,
			Identity:   id,
		},
		Streams: runtime.Streams{Stdout: &out, Stderr: &out},
	})
	if err != nil || code != 0 {
		t.Fatalf("leaving files as %s on %s: exit %d, %v: %s", user, e.About.Mode, code, err, out.String())
	}
}

// removeAsRoot removes dir's contents through a root container on e, so a
// failed test does not leave files the test user cannot delete.
func removeAsRoot(t *testing.T, e *detect.Engine, dir string) {
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err == nil {
			return
		}
		leaveFiles(t, e, dir, "0:0", "find /app -mindepth 1 -delete")
	})
}

type fileMeta struct {
	mode  fs.FileMode
	mtime time.Time
}

func metaOf(t *testing.T, p string) fileMeta {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fileMeta{fi.Mode(), fi.ModTime()}
}

// doctorTree makes a project: hpr.toml and files of the test user's with
// an old mtime, a world-writable sub/ for a container user to write in;
// then a rootful container as root and a rootless Docker container as
// 1500:1500 leave files in it. It returns the project and the metadata of
// the user's own paths.
func doctorTree(t *testing.T, rootful, rootless *detect.Engine) (string, map[string]fileMeta) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "doctor proj")
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		t.Fatal(err)
	}
	removeAsRoot(t, rootful, dir)
	if err := os.WriteFile(filepath.Join(dir, "hpr.toml"), []byte("[image]\nref = \""+doctorImage+"\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "src", "mine.txt"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "sub"), 0o777); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	for _, p := range []string{"src/mine.txt", "src", "sub", "hpr.toml"} {
		if err := os.Chtimes(filepath.Join(dir, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	leaveFiles(t, rootful, dir, "0:0", `set -e
mkdir -p _site/deep && echo a > _site/index.html && echo b > "_site/deep/with space"
ln -s /etc/shadow _site/link
mkdir -m 700 cache && touch cache/secret
echo root > src/from-root`)
	if rootless != nil {
		leaveFiles(t, rootless, dir, "1500:1500", `set -e
mkdir sub/out && touch sub/out/f "sub/out/new
line"`)
	}
	mine := map[string]fileMeta{}
	for _, p := range []string{".", "hpr.toml", "src", "src/mine.txt", "sub"} {
		mine[p] = metaOf(t, filepath.Join(dir, p))
	}
	return dir, mine
}

// TestDoctorFixesRootAndSubuidFiles: files left by a plain rootful `docker
// run` (root) and by rootless Docker with --user 1500:1500 (a subuid) are
// listed with the right explanation, and `hpr doctor --fix` hands every one
// back to the test user, with no sudo, leaving the user's own paths alone.
func TestDoctorFixesRootAndSubuidFiles(t *testing.T) {
	testenv.NonRoot(t)
	rootful := doctorEngine(t, idmap.DockerRootful)
	rootless := doctorEngine(t, idmap.DockerRootless)
	host, err := idmap.CurrentHost()
	if err != nil {
		t.Fatal(err)
	}
	subUID, ok := idmap.RootlessMapping(host.UID, host.SubUIDs).ToHost(1500)
	subGID, gok := idmap.RootlessMapping(host.GID, host.SubGIDs).ToHost(1500)
	if !ok || !gok {
		t.Fatalf("the test user's subordinate ranges do not cover 1500: %+v", host)
	}
	dir, mine := doctorTree(t, rootful, rootless)
	if uid, _ := testenv.Owner(t, filepath.Join(dir, "_site", "index.html")); uid != 0 {
		t.Fatalf("_site/index.html owned by %d, want root", uid)
	}
	if uid, _ := testenv.Owner(t, filepath.Join(dir, "sub", "out", "f")); uid != subUID {
		t.Fatalf("sub/out/f owned by %d, want %d", uid, subUID)
	}

	code, out, errOut := hpr(t, filepath.Join(dir, "src"), nil, "doctor")
	if code != 1 {
		t.Fatalf("hpr doctor = %d, want 1; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"0:0 (root): 7 paths: _site/, cache/ (unreadable: contents unknown), _site/deep/ and 4 more",
		"owned by root = container root under rootful Docker",
		fmt.Sprintf("%d:%d: 3 paths: sub/out/, ", subUID, subGID),
		fmt.Sprintf("owned by %d = container uid 1500 under rootless Docker", subUID),
		"hpr doctor --fix",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("hpr doctor output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("hpr doctor:\n%s", out)

	code, out, errOut = hpr(t, dir, nil, "doctor", "--fix")
	if code != 0 {
		t.Fatalf("hpr doctor --fix = %d, want 0; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "handed back 11 paths") || !strings.Contains(out, "are owned by you now") {
		t.Errorf("hpr doctor --fix output:\n%s", out)
	}
	t.Logf("hpr doctor --fix:\n%s", out)
	assertOwnedByMe(t, dir)
	for p, m := range mine {
		if got := metaOf(t, filepath.Join(dir, p)); got.mode != m.mode || !got.mtime.Equal(m.mtime) {
			t.Errorf("%s was yours and changed: mode %v → %v, mtime %v → %v", p, m.mode, got.mode, m.mtime, got.mtime)
		}
	}
	if uid, _ := testenv.Owner(t, "/etc/shadow"); uid != 0 {
		t.Errorf("/etc/shadow owned by %d: the symlink _site/link was followed", uid)
	}
	if code, out, _ := hpr(t, dir, nil, "doctor"); code != 0 || !strings.Contains(out, "owned by you") {
		t.Errorf("hpr doctor after --fix = %d:\n%s", code, out)
	}
	doctorNoContainers(t, rootful, dir)
}

// TestDoctorRootlessOnly: limited to rootless Docker, --fix hands back the
// subuid files, and says root's need a rootful engine or sudo (exit 1).
func TestDoctorRootlessOnly(t *testing.T) {
	testenv.NonRoot(t)
	rootful := doctorEngine(t, idmap.DockerRootful)
	rootless := doctorEngine(t, idmap.DockerRootless)
	dir, _ := doctorTree(t, rootful, rootless)

	code, out, errOut := hpr(t, dir, nil, "doctor", "--fix", "--engine", rootless.About.Endpoint)
	if code != 1 {
		t.Fatalf("hpr doctor --fix on rootless Docker = %d, want 1; stdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"docker-rootless (" + rootless.About.Endpoint + "): handed back 3 paths",
		"files owned by root (0:0) and no rootful engine you can use: run `sudo chown -R -h",
		"7 paths of",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("hpr doctor --fix --engine %s:\n%s", rootless.About.Endpoint, out)
	err := filepath.WalkDir(filepath.Join(dir, "sub"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if uid, gid := testenv.Owner(t, p); uid != os.Getuid() || gid != os.Getgid() {
			t.Errorf("%s owned by %d:%d after the rootless fix", p, uid, gid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if uid, _ := testenv.Owner(t, filepath.Join(dir, "_site")); uid != 0 {
		t.Errorf("_site owned by %d: rootless Docker cannot have changed it", uid)
	}
}

// doctorNoContainers fails when a container of the project is left on e.
func doctorNoContainers(t *testing.T, e *detect.Engine, dir string) {
	t.Helper()
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := runtime.Settle(context.Background(), e, map[string]string{runtime.LabelProject: real}, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		t.Errorf("container %s (%s) left on %s", c.Name, c.State, e.About.Mode)
	}
}
