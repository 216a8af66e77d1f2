package conformance

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hostpersist/hpr/idmap"
)

// shellHere is a Remote whose host is this machine: its scripts run in sh
// here, so that what the remote host sees can be compared with what the
// local file system says.
type shellHere struct{}

func (shellHere) Script(ctx context.Context, script string) (string, error) {
	return shellHere{}.Input(ctx, strings.NewReader(script), "sh", "-s")
}

func (shellHere) Input(ctx context.Context, in io.Reader, remote ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "sh", "-c", strings.Join(remote, " "))
	cmd.Stdin = in
	out, err := cmd.Output()
	return string(out), err
}

func (shellHere) Owner(context.Context, string) (idmap.Host, int, error) {
	return idmap.Host{UID: os.Getuid(), GID: os.Getgid()}, os.Getuid(), nil
}

func (shellHere) Publish(context.Context, map[string][]byte) (map[string]string, error) {
	return nil, nil
}

func (shellHere) ReadFile(_ context.Context, path string) ([]byte, error) { return os.ReadFile(path) }

// The remote host's test directory is the local one's, seen the same way:
// the fixture the script makes, and what observe reads over the shell
// (owners, modes with the sticky bit, inodes and links, mtimes to the
// nanosecond, symlink targets, small files' contents, a directory that
// cannot be listed).
func TestRemoteHostSeesWhatLocalDoes(t *testing.T) {
	ctx := context.Background()
	t.Setenv("TMPDIR", t.TempDir())
	bin := binary{Path: filepath.Join(t.TempDir(), "hpr")}
	if err := os.WriteFile(bin.Path, []byte("\x7fELF not really"), 0o755); err != nil {
		t.Fatal(err)
	}
	remote, local := remoteHost{shellHere{}}, localHost{dir: t.TempDir()}
	rroot, probe, err := remote.makeDir(ctx, bin, true)
	if err != nil {
		t.Fatal(err)
	}
	lroot, _, err := local.makeDir(ctx, bin, false)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(probe); err != nil || string(got) != "\x7fELF not really" {
		t.Errorf("probe binary %s: %q, %v", probe, got, err)
	}
	if fi, err := os.Stat(probe); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("probe binary mode: %v, %v; want 0755", fi, err)
	}
	if err := os.Remove(probe); err != nil {
		t.Fatal(err)
	}
	for _, root := range []string{rroot, lroot} {
		app := filepath.Join(root, appDir)
		must(t, os.WriteFile(filepath.Join(app, fCreated), []byte(createdText), 0o640))
		must(t, os.Symlink(fCreated, filepath.Join(app, fSymlink)))
		must(t, os.Link(filepath.Join(app, fLinkTarget), filepath.Join(app, fHardlink)))
		must(t, os.Mkdir(filepath.Join(app, "closed"), 0o700))
		must(t, os.WriteFile(filepath.Join(app, "closed", "x"), nil, 0o644))
		must(t, os.Chmod(filepath.Join(app, "closed"), 0o000))
		must(t, os.Chmod(filepath.Join(app, dWorld), 0o1777))
		t.Cleanup(func() { os.Chmod(filepath.Join(app, "closed"), 0o700) })
	}
	want := observe(lroot)
	got, err := remote.observe(ctx, rroot)
	if err != nil {
		t.Fatal(err)
	}
	// Inodes and mtimes differ between the two directories: compare them
	// with the remote directory's own.
	lstat := func(p string) (uint64, int64) {
		var st syscall.Stat_t
		if err := syscall.Lstat(filepath.Join(rroot, p), &st); err != nil {
			return 0, 0
		}
		return st.Ino, st.Mtim.Nano()
	}
	for p, fi := range got {
		ino, mtime := lstat(p)
		if fi.Ino != ino || fi.ModTime.UnixNano() != mtime {
			t.Errorf("%s: inode %d, mtime %d; the file system says %d, %d", p, fi.Ino, fi.ModTime.UnixNano(), ino, mtime)
		}
		w := want[p]
		w.Ino, w.ModTime = fi.Ino, fi.ModTime
		want[p] = w
	}
	if os.Getuid() != 0 {
		// Root lists any directory: only a user sees "closed" as closed.
		if got["app/closed"].Err == "" || want["app/closed"].Err == "" {
			t.Errorf("app/closed: remote %q, local %q; want both an error", got["app/closed"].Err, want["app/closed"].Err)
		}
	}
	for _, m := range []map[string]fileInfo{got, want} {
		fi := m["app/closed"]
		fi.Err = ""
		m["app/closed"] = fi
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("remote observe differs from local (-local +remote):\n%s", diff)
	}
	if err := remote.removeAll(ctx, rroot); (err == nil) != (os.Getuid() == 0) {
		t.Errorf("removeAll with a directory closed to its user: %v; want an error unless root", err)
	}
	os.Chmod(filepath.Join(rroot, appDir, "closed"), 0o700)
	if err := remote.removeAll(ctx, rroot); err != nil {
		t.Errorf("removeAll: %v", err)
	}
	if _, err := os.Lstat(rroot); !os.IsNotExist(err) {
		t.Errorf("%s still there: %v", rroot, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
