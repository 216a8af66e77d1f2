//go:build integration && root

package faults

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hostpersist/hpr/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size (mount(8)'s size=) on dir, owned by
// the test user, and unmounts it after the test.
func (u tester) mountTmpfs(t *testing.T, dir, size string) {
	t.Helper()
	opts := fmt.Sprintf("size=%s,mode=0755,uid=%d,gid=%d", size, u.uid, u.gid)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		t.Fatalf("mounting a tmpfs on %s: %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
}

// sharedDir makes a directory the test user owns below the harness's
// mount point of shared propagation (HPR_SHARED_MNT), so that what the
// test mounts on it is seen by rootless Docker too, whose mount namespace
// was made when the daemon started; removed after the test.
func (u tester) sharedDir(t *testing.T) string {
	t.Helper()
	top := os.Getenv("HPR_SHARED_MNT")
	if top == "" {
		t.Fatal("HPR_SHARED_MNT names no shared mount point (scripts/engines.sh's env file sets it when rootless Docker is up)")
	}
	return u.dirIn(t, top)
}

// tree is every path below root with its owner, mode, size and content hash,
// except the paths skip names.
func tree(t *testing.T, root string, skip ...string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		for _, s := range skip {
			if rel == s {
				return nil
			}
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		sum := ""
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		m[rel] = fmt.Sprintf("%v %d:%d %d %d %s", fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UnixNano(), sum)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestProjectFilesystemFull: the project's filesystem (a 1 MiB tmpfs) fills
// while the container writes into it: the write fails inside the container,
// the container's exit status is hpr's, the command's own message comes
// through, and nothing else of the project changes.
func TestProjectFilesystemFull(t *testing.T) {
	u := testUser(t)
	for _, te := range testenv.Engines(t) {
		t.Run(string(te.Mode), func(t *testing.T) {
			testenv.Alive(t, te)
			dir := u.sharedDir(t)
			u.mountTmpfs(t, dir, "1m")
			u.write(t, filepath.Join(dir, "kept.txt"), "the project's own file\n")
			before := tree(t, dir)
			code, out := u.run(t, runAs{dir: dir}, 2*time.Minute, "run", "--engine", te.Endpoint, "--image", base, "--",
				"dd", "if=/dev/zero", "of=big", "bs=64k", "count=64")
			if code != 1 || !strings.Contains(out, "No space left on device") {
				t.Errorf("exit %d, want dd's 1 with its \"No space left on device\"; output:\n%s", code, out)
			}
			if fi, err := os.Stat(filepath.Join(dir, "big")); err != nil || fi.Size() == 0 || fi.Size() >= 4<<20 {
				t.Errorf("the container's write did not fill the filesystem (%v): the test proves nothing", err)
			} else if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != u.uid {
				t.Errorf("the partly written file is owned by %d, want %d", st.Uid, u.uid)
			}
			// The directory itself changes (it holds big now): compare its
			// entries, not its size and time.
			after := tree(t, dir, "big")
			delete(before, ".")
			delete(after, ".")
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("the project changed beyond the container's own file (-before +after):\n%s", diff)
			}
		})
	}
}

// storageService is a rootless podman service of the test user's whose
// storage (--root) is a tmpfs of the given size; its run root, temporary
// files and runtime directory are in an ordinary directory beside it.
type storageService struct {
	uri   string
	cmd   *exec.Cmd
	state string // run root, tmpdir, XDG_RUNTIME_DIR
}

func (u tester) storageService(t *testing.T, size string) storageService {
	t.Helper()
	root := u.dir(t)
	u.mountTmpfs(t, root, size)
	// The run root's path must be short (podman refuses one longer than
	// 50 characters): not under t.TempDir.
	state, err := os.MkdirTemp("", "hprs")
	if err != nil {
		t.Fatal(err)
	}
	os.Chown(state, u.uid, u.gid)
	t.Cleanup(func() { os.RemoveAll(state) })
	s := storageService{state: state}
	for _, d := range []string{"run", "tmp", "xdg"} {
		p := filepath.Join(s.state, d)
		if err := os.Mkdir(p, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Chown(p, u.uid, u.gid)
	}
	sock := filepath.Join(s.state, "podman.sock")
	s.uri = "unix://" + sock
	s.cmd = exec.Command("podman", "--root", root, "--runroot", filepath.Join(s.state, "run"), "--tmpdir", filepath.Join(s.state, "tmp"),
		"system", "service", "--time=0", s.uri)
	s.cmd.Dir = "/"
	s.cmd.Env = []string{"HOME=" + u.home, "USER=" + u.name, "PATH=/usr/local/bin:/usr/bin:/bin",
		"XDG_RUNTIME_DIR=" + filepath.Join(s.state, "xdg"), "TMPDIR=" + filepath.Join(s.state, "tmp")}
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid), Groups: []uint32{}}}
	var logs bytes.Buffer
	s.cmd.Stdout, s.cmd.Stderr = &logs, &logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.stop(t) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the podman service on a small store did not answer within 30 s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polling for the socket the service makes
	}
	return s
}

// stop stops the service and the rootless pause process it started.
func (s storageService) stop(t *testing.T) {
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	s.cmd.Wait()
	killPause(filepath.Join(s.state, "xdg"))
}

// podman runs the podman CLI against the service.
func (s storageService) podman(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("podman", append([]string{"--remote", "--url", s.uri}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestEngineStorageFull: the engine's storage fills up during a build (a
// rootless podman service whose store is a small tmpfs, a COPY larger than
// what is left): hpr exits 125 with one line naming the cause, no image is
// tagged for the failed build, and the build memo still holds the last
// good build alone.
func TestEngineStorageFull(t *testing.T) {
	u := testUser(t)
	testenv.Need(t, "podman-rootless")
	s := u.storageService(t, "256m")
	s.podman(t, importBase(baseTar(t))...)
	dir, cacheHome := u.dir(t), u.dir(t)
	o := runAs{dir: dir, env: []string{"XDG_CACHE_HOME=" + cacheHome}}
	u.write(t, filepath.Join(dir, "hpr.toml"), "name = \"full\"\n[image]\nbuild = \".\"\n")
	u.write(t, filepath.Join(dir, "Dockerfile"), "FROM "+base+"\nRUN echo first > /first\n")
	if code, out := u.run(t, o, 3*time.Minute, "build", "--engine", s.uri); code != 0 {
		t.Fatalf("the first build, with room to spare: exit %d\n%s", code, out)
	}
	memo := tree(t, filepath.Join(cacheHome, "hpr", "builds"))
	images := s.podman(t, "images", "-a", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")

	big, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	big.Truncate(300 << 20) // more than the whole store; sparse here
	big.Close()
	os.Chown(big.Name(), u.uid, u.gid)
	u.write(t, filepath.Join(dir, "Dockerfile"), "FROM "+base+"\nCOPY big /big\n")
	r := u.start(t, o, "build", "--engine", s.uri)
	code := r.exit(t, 3*time.Minute, "the build that fills the store")
	if code != 125 || !strings.Contains(r.lastLine(), "no space left on device") {
		t.Errorf("exit %d, last line %q; want 125 and a line naming \"no space left on device\"; output:\n%s", code, r.lastLine(), r.out.String())
	}
	if got := s.podman(t, "images", "-a", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"); got != images {
		t.Errorf("the failed build left images (before, then after):\n%s\n%s", images, got)
	}
	if diff := cmp.Diff(memo, tree(t, filepath.Join(cacheHome, "hpr", "builds"))); diff != "" {
		t.Errorf("the build memo changed after the failed build (-before +after):\n%s", diff)
	}
}
